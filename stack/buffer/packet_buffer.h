// The one packet buffer type, and the pools it comes from.
//
//   storage                                                     storage + capacity
//   |<---------- head ---------->|<------- len ------->|<-------- tailroom -------->|
//   [ headroom for lower layers  | frame or payload     |                            ]
//
// A frame read from the TAP fills [head, head+len); each layer that parses it advances `head` past
// its header, so the UDP payload that reaches a socket's receive queue is the same bytes the TAP
// read wrote (one copy in all: into the application's buffer). On output a layer writes its payload
// at `head`, and each lower layer Prepend()s its header into the headroom, with no copying.
//
// Ownership: a PacketBuffer* is owned by exactly one holder at a time. Functions that take one
// say whether they consume it; whoever ends up with it calls PacketPool::Free. Buffers never come
// from the heap per packet: pools allocate slabs on demand up to a bound and recycle through
// free lists. Not thread-safe: pools live under the stack lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "stack/base/clock.h"

namespace tapsock {

class PacketPool;

struct PacketBuffer {
  uint8_t* storage = nullptr;
  uint32_t capacity = 0;
  uint32_t head = 0;  // offset of the first valid byte
  uint32_t len = 0;   // number of valid bytes
  PacketBuffer* next = nullptr;  // intrusive link for queues
  int64_t rx_realtime_ns = 0;    // receive timestamp (SO_TIMESTAMP, pcap)
  uint16_t size_class = 0;
  bool link_multicast = false;   // arrived in a broadcast or multicast frame (Linux's pkt_type)
  // Scratch space for the layer that currently holds the buffer (Linux's skb->cb): a socket's
  // receive queue keeps the datagram's source address here.
  alignas(8) uint8_t cb[48];

  uint8_t* data() { return storage + head; }
  const uint8_t* data() const { return storage + head; }
  std::span<uint8_t> bytes() { return {data(), len}; }
  std::span<const uint8_t> bytes() const { return {data(), len}; }
  uint32_t headroom() const { return head; }
  uint32_t tailroom() const { return capacity - head - len; }

  // Drops n bytes from the front (a parsed header). Caller has checked n <= len.
  void Pull(uint32_t n) {
    head += n;
    len -= n;
  }
  // Makes room for an n-byte header in front; returns its start. Caller checked headroom.
  uint8_t* Prepend(uint32_t n) {
    head -= n;
    len += n;
    return data();
  }
  // Keeps only the first n bytes (strips link padding). Caller has checked n <= len.
  void Trim(uint32_t n) { len = n; }
  // Sets an empty buffer whose data begins `headroom` bytes in.
  void Reset(uint32_t headroom) {
    head = headroom;
    len = 0;
    next = nullptr;
    rx_realtime_ns = 0;
    link_multicast = false;
  }
};

// Headroom every outgoing buffer reserves: virtio-net header + Ethernet + IPv4/IPv6 + UDP/TCP.
constexpr uint32_t kMaxHeaderRoom = 192;

// A FIFO of buffers through their intrusive `next` links.
class PacketQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return count_; }
  PacketBuffer* front() const { return head_; }
  void Push(PacketBuffer* p) {
    p->next = nullptr;
    if (tail_) tail_->next = p; else head_ = p;
    tail_ = p;
    ++count_;
  }
  PacketBuffer* Pop() {
    PacketBuffer* p = head_;
    if (!p) return nullptr;
    head_ = p->next;
    if (!head_) tail_ = nullptr;
    p->next = nullptr;
    --count_;
    return p;
  }

 private:
  PacketBuffer* head_ = nullptr;
  PacketBuffer* tail_ = nullptr;
  size_t count_ = 0;
};

// Fixed size classes: a frame at the NIC's MTU, and a whole 64 KiB datagram or TSO segment.
class PacketPool {
 public:
  static constexpr uint32_t kSmall = 2048;
  static constexpr uint32_t kLarge = 65536 + 2 * kMaxHeaderRoom;

  // max_bytes bounds the memory all buffers may take; beyond it Alloc returns nullptr (a drop).
  explicit PacketPool(size_t max_bytes = 64u << 20);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A buffer able to hold `size` bytes after `headroom`; nullptr when the pool is exhausted.
  PacketBuffer* Alloc(uint32_t size, uint32_t headroom = kMaxHeaderRoom);
  void Free(PacketBuffer* p);
  void FreeQueue(PacketQueue& q) {
    while (PacketBuffer* p = q.Pop()) Free(p);
  }

  size_t bytes_reserved() const { return bytes_reserved_; }
  size_t in_use() const { return in_use_; }

 private:
  struct SizeClass {
    uint32_t size;
    std::vector<PacketBuffer*> free;
  };
  bool Grow(SizeClass& c);

  SizeClass classes_[2] = {{kSmall, {}}, {kLarge, {}}};
  std::vector<void*> slabs_;
  size_t max_bytes_;
  size_t bytes_reserved_ = 0;
  size_t in_use_ = 0;
};

}  // namespace tapsock
