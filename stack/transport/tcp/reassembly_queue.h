// The out-of-order receive queue. RFC 9293 3.10.7.4 step 7 lets a receiver keep segments that
// arrive beyond RCV.NXT; input hands their payload here, and after every in-order arrival it pops
// whatever became contiguous onto the socket's receive queue. The queue is also where the
// receiver's SACK blocks (RFC 2018) come from.
//
//   rcv_nxt          queued (sorted, non-overlapping, adjacent small ones coalesced)
//   |  hole  | [seq,len,buf] [seq,len,buf] |  hole  | [seq,len,buf] ...
//
// Untrusted peers decide what arrives here, so every cost is bounded (SegmentSmack, CVE-2018-5390,
// was a peer sending tiny out-of-order segments that made Linux's queue walks quadratic): at most
// kMaxSegments nodes and `max_bytes` of buffer capacity (truesize, not payload, so 1-byte segments
// in 2 KiB buffers are charged what they cost), no node ever overlaps another, and a segment
// landing right after a small neighbour is copied into that neighbour's tailroom instead of taking
// a node of its own. Inserting is a binary search plus one memmove of 16-byte nodes.
//
// When a segment does not fit, the queue makes room by dropping what it holds furthest from
// rcv_nxt, as Linux's tcp_prune_ofo_queue does: a segment that fills an earlier hole is worth more
// than one the reader needs later, and a queue full of late data must never turn away the
// retransmissions that would let it drain (that was one half of a stall between two stacks). The
// peer's SACK for the dropped data is reneged (RFC 2018 8): its sender keeps the data until the
// cumulative ACK covers it.
//
// Overlaps keep the bytes that arrived first (as Linux does for most overlaps, and as IDS evasion
// through conflicting retransmissions demands): a new segment only fills holes.
//
// Sequence numbers compare modulo 2^32; everything queued must lie within 2^30 of each other (the
// largest window RFC 7323 allows), and Insert refuses anything that would break that.
//
// Not thread-safe: the owning endpoint holds the stack lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "stack/buffer/packet_buffer.h"

namespace tapsock::tcp {

class ReassemblyQueue {
 public:
  // Bounds the node count whatever max_bytes allows: room for a full 6 MiB window of 2 KiB buffers.
  static constexpr size_t kMaxSegments = 4096;
  // Segments up to this size are copied into a neighbour's tailroom rather than queued on their
  // own; bounded so that the copying an Insert does stays small.
  static constexpr uint32_t kCoalesceMax = 512;
  // How many recently received ranges SackBlocks reports first: a SACK option holds 4 blocks.
  static constexpr size_t kRecentRanges = 4;

  // max_bytes bounds the summed capacity of the queued buffers (Linux's rcvbuf pressure).
  ReassemblyQueue(PacketPool& pool, size_t max_bytes);
  ~ReassemblyQueue();  // frees every queued buffer to the pool
  ReassemblyQueue(const ReassemblyQueue&) = delete;
  ReassemblyQueue& operator=(const ReassemblyQueue&) = delete;

  // Consumes `payload`: the segment's data bytes only (head at the first data byte), starting at
  // `seq`. Bytes already queued are trimmed off (the old ones are kept) and a segment that brings
  // nothing new is freed. When the bounds leave no room, queued segments that lie wholly above it
  // are dropped, highest first, until it fits (each counted in pruned()). Returns true when
  // [seq, seq + len) is now held; false when it was freed because even that left no room, or
  // because it lies 2^30 or more from what is queued.
  bool Insert(uint32_t seq, PacketBuffer* payload);
  // Segments dropped to make room for earlier ones, since the queue was made (TcpExtOfoPruned).
  uint64_t pruned() const { return pruned_; }

  // Moves every segment that starts at or before rcv_nxt onto `out` (appending), pulling off the
  // bytes before rcv_nxt, and frees those wholly before it. Returns the new rcv_nxt.
  uint32_t PopInOrder(uint32_t rcv_nxt, PacketQueue& out);

  bool empty() const { return nodes_.empty(); }
  // The capacity charged against max_bytes, not the payload.
  size_t bytes() const { return bytes_; }
  size_t segments() const { return nodes_.size(); }

  // Writes up to `max` SACK blocks [left, right) describing the contiguous queued ranges: first the
  // range holding the most recently received segment (RFC 2018 4), then the ranges of the other
  // recent arrivals, newest first (RFC 2018 4: "repeating the most recent SACK blocks"), then the
  // rest from the lowest up. Returns how many were written.
  size_t SackBlocks(std::pair<uint32_t, uint32_t>* out, size_t max) const;

  // Frees everything (RST, close, or a reneging receiver); keeps the node storage.
  void Clear();

 private:
  struct Node {
    uint32_t seq;
    uint32_t len;  // == buf->len, kept here so walks never touch the buffers
    PacketBuffer* buf;
    uint32_t end() const { return seq + len; }
  };
  static_assert(sizeof(Node) == 16, "nodes are memmoved on insert; keep them small");

  // Index of the first node whose end is after seq.
  size_t FirstEndingAfter(uint32_t seq) const;
  // Index one past the last node of the contiguous run that ends at or goes through node i;
  // `first` gets the index the run starts at.
  size_t RunAround(size_t i, size_t* first) const;
  bool WithinSpan(uint32_t seq, uint32_t end) const;
  bool CanAppend(const Node& to, uint32_t len) const;
  void Append(Node& to, const PacketBuffer* from, uint32_t len);
  void NoteRecent(size_t at);
  // Drops nodes from the top, while they lie wholly at or after `end`, until the bounds hold with
  // `more_nodes` nodes and `more_bytes` of capacity added (either may be negative). False when
  // they cannot be made to hold.
  bool MakeRoomAbove(uint32_t end, int64_t more_nodes, int64_t more_bytes);

  PacketPool& pool_;
  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::vector<Node> nodes_;              // sorted by seq; reserved on first use, never shrunk
  uint32_t recent_[kRecentRanges] = {};  // seqs of recent arrivals, newest first, distinct ranges
  size_t recent_count_ = 0;
  uint64_t pruned_ = 0;
};

}  // namespace tapsock::tcp
