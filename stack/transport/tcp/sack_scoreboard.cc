// The SACK scoreboard: a bounded, sorted set of SACKed ranges and the RFC 6675 queries over it.
#include "stack/transport/tcp/sack_scoreboard.h"

#include <algorithm>

namespace tapsock::tcp {

namespace {

// Wrap-aware comparisons ((int32_t)(a - b) < 0, as Linux's before()); private until the
// scoreboard's API moves to SeqNum.
constexpr bool Before(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) < 0;
}
constexpr bool BeforeEq(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) <= 0;
}
constexpr uint32_t Clamp(uint32_t x, uint32_t lo, uint32_t hi) {
  return Before(x, lo) ? lo : Before(hi, x) ? hi : x;
}

}  // namespace

void SackScoreboard::Reset(uint32_t snd_una) {
  count_ = 0;
  sacked_bytes_ = 0;
  una_ = snd_una;
}

size_t SackScoreboard::FirstEndingAfter(uint32_t seq) const {
  auto it = std::partition_point(ranges_.begin(), ranges_.begin() + static_cast<ptrdiff_t>(count_),
                                 [seq](const Range& r) { return BeforeEq(r.end, seq); });
  return static_cast<size_t>(it - ranges_.begin());
}

void SackScoreboard::AdvanceUna(uint32_t snd_una) {
  // An empty board takes any value, so a board never Reset cannot be stuck 2^31 away.
  if (count_ == 0) {
    una_ = snd_una;
    return;
  }
  if (!Before(una_, snd_una)) return;  // the cumulative ACK never goes back
  una_ = snd_una;
  const size_t gone = FirstEndingAfter(snd_una);
  if (gone > 0) {
    for (size_t k = 0; k < gone; ++k) sacked_bytes_ -= ranges_[k].end - ranges_[k].start;
    std::copy(ranges_.begin() + static_cast<ptrdiff_t>(gone),
              ranges_.begin() + static_cast<ptrdiff_t>(count_), ranges_.begin());
    count_ -= gone;
  }
  if (count_ > 0 && Before(ranges_[0].start, snd_una)) {
    sacked_bytes_ -= snd_una - ranges_[0].start;
    ranges_[0].start = snd_una;
  }
}

void SackScoreboard::Add(uint32_t start, uint32_t end) {
  // Ranges [i, j) overlap or touch the new one; they become a single range at i.
  auto first = ranges_.begin();
  auto last = ranges_.begin() + static_cast<ptrdiff_t>(count_);
  const size_t i = static_cast<size_t>(
      std::partition_point(first, last, [start](const Range& r) { return Before(r.end, start); }) -
      first);
  size_t j = i;
  for (; j < count_ && BeforeEq(ranges_[j].start, end); ++j) {
    sacked_bytes_ -= ranges_[j].end - ranges_[j].start;
  }
  if (j > i) {
    if (Before(ranges_[i].start, start)) start = ranges_[i].start;
    if (Before(end, ranges_[j - 1].end)) end = ranges_[j - 1].end;
  }
  if (j == i) {
    std::copy_backward(first + static_cast<ptrdiff_t>(i), last, last + 1);  // the spare slot
  } else if (j > i + 1) {
    std::copy(first + static_cast<ptrdiff_t>(j), last, first + static_cast<ptrdiff_t>(i + 1));
  }
  count_ = count_ - (j - i) + 1;
  ranges_[i] = {start, end};
  sacked_bytes_ += end - start;
  if (count_ > kMaxRanges) {  // forget the highest range: see the header for why not merge
    --count_;
    sacked_bytes_ -= ranges_[count_].end - ranges_[count_].start;
  }
}

bool SackScoreboard::Update(uint32_t snd_una, uint32_t snd_nxt,
                            std::span<const std::pair<uint32_t, uint32_t>> blocks) {
  AdvanceUna(snd_una);
  // RFC 2883 4: only the first block can be a D-SACK. Like Linux's tcp_check_dsack, a first block
  // starting below the ACK counts, as does one inside the second block (a duplicate of data above
  // the ACK that the second block reports in full).
  bool dsack = false;
  if (!blocks.empty() && Before(blocks[0].first, blocks[0].second)) {
    const auto [s0, e0] = blocks[0];
    dsack =
        Before(s0, snd_una) || (blocks.size() > 1 && Before(blocks[1].first, blocks[1].second) &&
                                BeforeEq(blocks[1].first, s0) && BeforeEq(e0, blocks[1].second));
  }
  for (size_t k = dsack ? 1 : 0; k < blocks.size(); ++k) {
    uint32_t start = blocks[k].first;
    const uint32_t end = blocks[k].second;
    if (!Before(start, end)) continue;   // empty, inverted, or 2^31 long: malformed
    if (Before(snd_nxt, end)) continue;  // SACKs bytes never sent (Linux tcp_is_sackblock_valid)
    if (BeforeEq(end, una_)) continue;   // all acknowledged already: stale
    if (Before(start, una_)) start = una_;
    Add(start, end);
  }
  return dsack;
}

bool SackScoreboard::IsSacked(uint32_t seq) const {
  const size_t i = FirstEndingAfter(seq);
  return i < count_ && BeforeEq(ranges_[i].start, seq);
}

uint32_t SackScoreboard::SkipSacked(uint32_t seq) const {
  const size_t i = FirstEndingAfter(seq);
  return i < count_ && BeforeEq(ranges_[i].start, seq) ? ranges_[i].end : seq;
}

uint32_t SackScoreboard::UnsackedRun(uint32_t seq, uint32_t smss) const {
  const size_t i = FirstEndingAfter(seq);
  if (i == count_) return smss;
  return Before(seq, ranges_[i].start) ? std::min(smss, ranges_[i].start - seq) : 0;
}

uint32_t SackScoreboard::LostBoundary(uint32_t smss) const {
  // Both of IsLost's counts only grow as seq goes down, so "lost" is everything below one point.
  // Walk down from the highest range until either count is reached inside range r; a byte s has
  // r.end - (s + 1) of r's bytes above it.
  const uint64_t need = uint64_t{kDupThresh - 1} * smss + 1;  // "more than (DupThresh-1)*SMSS"
  uint64_t above = 0;
  for (size_t k = count_; k-- > 0;) {
    const Range& r = ranges_[k];
    const uint32_t len = r.end - r.start;
    if (count_ - k >= kDupThresh) {
      // r is the DupThresh-th range above any s < r.end - 1; the byte count can only trip lower.
      return r.end - 1;
    }
    if (above + len >= need) return r.end - static_cast<uint32_t>(need - above);
    above += len;
  }
  return una_;  // nothing is lost
}

bool SackScoreboard::IsLost(uint32_t seq, uint32_t smss) const {
  return Before(seq, LostBoundary(smss));
}

uint32_t SackScoreboard::SackedIn(uint32_t lo, uint32_t hi) const {
  uint32_t sum = 0;
  for (size_t k = FirstEndingAfter(lo); k < count_ && Before(ranges_[k].start, hi); ++k) {
    sum += Clamp(ranges_[k].end, lo, hi) - Clamp(ranges_[k].start, lo, hi);
  }
  return sum;
}

uint32_t SackScoreboard::Pipe(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt,
                              uint32_t smss) const {
  if (!Before(snd_una, snd_nxt)) return 0;
  // (a) bytes not SACKed and not lost: everything from the lost boundary up that is not SACKed.
  const uint32_t lost_end = Clamp(LostBoundary(smss), snd_una, snd_nxt);
  uint32_t pipe = (snd_nxt - lost_end) - SackedIn(lost_end, snd_nxt);
  // (b) retransmitted bytes not SACKed, whether or not the original is deemed lost.
  const uint32_t rxt_end = Clamp(high_rxt, snd_una, snd_nxt);
  pipe += (rxt_end - snd_una) - SackedIn(snd_una, rxt_end);
  return pipe;
}

bool SackScoreboard::NextLostSegment(uint32_t from, uint32_t high_data, uint32_t smss,
                                     uint32_t* seq, uint32_t* len) const {
  if (smss == 0) return false;
  uint32_t s = Before(from, una_) ? una_ : from;
  // (1.b) and (1.c): the lost boundary never exceeds the highest SACKed byte.
  uint32_t limit = LostBoundary(smss);
  if (Before(high_data, limit)) limit = high_data;
  size_t i = FirstEndingAfter(s);
  if (i < count_ && BeforeEq(ranges_[i].start, s)) {
    // Step over a SACKed range; ranges never touch, so the byte after it is a hole.
    s = ranges_[i].end;
    ++i;
  }
  if (!Before(s, limit)) return false;
  // s < limit <= highest SACKed byte, so a range follows and closes the hole.
  uint32_t hole_end = i < count_ ? ranges_[i].start : high_data;
  if (Before(high_data, hole_end)) hole_end = high_data;
  *seq = s;
  *len = std::min(smss, hole_end - s);
  return true;
}

}  // namespace tapsock::tcp
