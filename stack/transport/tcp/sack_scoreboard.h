// The sender's SACK scoreboard (RFC 6675 2, 4): which bytes above SND.UNA the peer reports holding
// (RFC 2018), so that loss recovery retransmits only the holes and counts what is really in flight.
// ACK processing feeds it the SACK blocks of every ACK; the recovery code asks IsLost, Pipe and
// NextLostSegment, and the retransmit queue itself stays in the send buffer (RFC 2018 8: SACKed
// data may still be reneged, so nothing is freed before the cumulative ACK).
//
//   snd_una                                                             snd_nxt
//   | hole |==SACKed==| hole |==SACKed==|==SACKed==|   not SACKed yet    |
//            ranges_: sorted, disjoint, never adjacent (merged on arrival)
//
// The peer decides how many holes there are, so the set is bounded (SACK Panic, CVE-2019-11477,
// and the SACK slowness CVEs were peers shaping the scoreboard): at most kMaxRanges ranges in a
// fixed array, so no allocation ever and every query is O(kMaxRanges). Beyond the bound the highest
// range is forgotten. Forgetting only under-reports: those bytes count as in flight and may be
// resent needlessly. Merging the closest ranges instead would mark the gap between them, bytes the
// peer never got, as SACKed, and RFC 6675 never retransmits those before the RTO; FreeBSD's
// sack.maxholes and Linux's fragment limit likewise drop SACK information past their bounds.
//
// Sequence numbers compare modulo 2^32 and must stay within 2^31 of snd_una.
// Not thread-safe: the owning endpoint holds the stack lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace tapsock::tcp {

class SackScoreboard {
 public:
  static constexpr size_t kMaxRanges = 64;
  static constexpr uint32_t kDupThresh = 3;  // RFC 6675 2 (RFC 5681's duplicate ACK threshold)

  // Forgets everything: a new connection, or an RTO (RFC 6675 5.1 ends recovery; RFC 2018 8 has
  // the sender ignore SACK information from before the timeout).
  void Reset(uint32_t snd_una);

  // Records the SACK blocks [left, right) of an incoming ACK. `snd_una` is the cumulative ACK after
  // this segment's ACK field was processed. Skips empty or inverted blocks, blocks wholly at or
  // below snd_una (the part below it of a straddling one) and blocks reaching beyond snd_nxt (data
  // never sent: a bogus or misbehaving peer). Returns true when the first block is a D-SACK (RFC
  // 2883 4: below the cumulative ACK, or inside the second block), which reports a duplicate
  // rather than new data and is not recorded.
  bool Update(uint32_t snd_una, uint32_t snd_nxt,
              std::span<const std::pair<uint32_t, uint32_t>> blocks);

  // Drops what the cumulative ACK now covers.
  void AdvanceUna(uint32_t snd_una);

  bool IsSacked(uint32_t seq) const;
  // Going back after a timeout: the first byte at or after seq that is not SACKed, and how much
  // from it may go in one segment of at most smss before the next SACKed range.
  uint32_t SkipSacked(uint32_t seq) const;
  uint32_t UnsackedRun(uint32_t seq, uint32_t smss) const;
  // SACKed bytes within [lo, hi).
  uint32_t SackedIn(uint32_t lo, uint32_t hi) const;

  // RFC 6675 4 IsLost(SeqNum): true when at least DupThresh discontiguous SACKed ranges, or more
  // than (DupThresh - 1) * SMSS SACKed bytes, lie above seq. (Ranges stand in for the RFC's
  // segments: each holds at least one, and counting them keeps tiny segments from hiding a loss.)
  bool IsLost(uint32_t seq, uint32_t smss) const;

  // RFC 6675 4 SetPipe: the bytes in [snd_una, snd_nxt) that are neither SACKed nor lost, plus the
  // bytes in [snd_una, high_rxt) that are not SACKed (retransmitted and presumed in flight again).
  // high_rxt is one past the highest byte retransmitted in this recovery; snd_una when none was.
  uint32_t Pipe(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt, uint32_t smss) const;

  // RFC 6675 4 NextSeg rule (1): the lowest byte S2 at or after `from` (the caller passes HighRxt)
  // that is not SACKed, is lost and lies below high_data (snd_nxt) and the highest SACKed byte.
  // Writes S2 and the length to resend: up to smss, stopping at the next SACKed range. Returns
  // false when there is none, and rules (2) to (4) are the caller's.
  bool NextLostSegment(uint32_t from, uint32_t high_data, uint32_t smss, uint32_t* seq,
                       uint32_t* len) const;

  uint32_t sacked_bytes() const { return sacked_bytes_; }
  // One past the highest SACKed byte; snd_una when nothing is SACKed.
  uint32_t highest_sacked() const { return count_ ? ranges_[count_ - 1].end : una_; }
  bool empty() const { return count_ == 0; }
  size_t range_count() const { return count_; }

 private:
  struct Range {
    uint32_t start;
    uint32_t end;  // exclusive
  };

  void Add(uint32_t start, uint32_t end);
  // Index of the first range ending after seq.
  size_t FirstEndingAfter(uint32_t seq) const;
  // One past the highest byte IsLost holds lost: every byte below it is, none at or above it is.
  uint32_t LostBoundary(uint32_t smss) const;

  std::array<Range, kMaxRanges + 1> ranges_{};  // one spare: Add inserts, then enforces the bound
  size_t count_ = 0;
  uint32_t una_ = 0;
  uint32_t sacked_bytes_ = 0;
};

}  // namespace tapsock::tcp
