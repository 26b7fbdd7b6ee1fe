// Tests for the sender's SACK scoreboard (stack/transport/tcp/sack_scoreboard.h, RFC 6675): blocks
// merge when they overlap or touch, D-SACKs (RFC 2883) are recognised and not recorded, blocks
// outside [snd_una, snd_nxt] are ignored, the cumulative ACK trims the board, IsLost's two rules,
// SetPipe on a loss-recovery walk-through, NextSeg stepping over SACKed ranges, sequence numbers
// across 2^32, and a SACK Panic style peer that cannot grow the board past its bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "stack/transport/tcp/sack_scoreboard.h"

namespace tapsock::tcp {
namespace {

using Block = std::pair<uint32_t, uint32_t>;
constexpr uint32_t kSmss = 1000;

class SackTest : public ::testing::Test {
 protected:
  bool Sack(std::vector<Block> blocks) { return sb_.Update(una_, nxt_, blocks); }
  // NextLostSegment as {seq, len}, or {0, 0} for none.
  Block Next(uint32_t from, uint32_t smss = kSmss) {
    uint32_t seq = 0, len = 0;
    if (!sb_.NextLostSegment(from, nxt_, smss, &seq, &len)) return {0, 0};
    return {seq, len};
  }

  SackScoreboard sb_;
  uint32_t una_ = 0;
  uint32_t nxt_ = 20000;
};

TEST_F(SackTest, MergesOverlappingAndAdjacentBlocks) {
  sb_.Reset(una_);
  EXPECT_TRUE(sb_.empty());
  EXPECT_FALSE(Sack({{2000, 3000}, {3000, 3500}}));
  EXPECT_EQ(sb_.range_count(), 1u) << "adjacent blocks join";
  EXPECT_EQ(sb_.sacked_bytes(), 1500u);
  EXPECT_FALSE(Sack({{2500, 4000}}));
  EXPECT_EQ(sb_.range_count(), 1u);
  EXPECT_EQ(sb_.sacked_bytes(), 2000u);
  EXPECT_FALSE(Sack({{5000, 6000}}));
  EXPECT_EQ(sb_.range_count(), 2u);
  EXPECT_FALSE(Sack({{1500, 7000}}));
  EXPECT_EQ(sb_.range_count(), 1u) << "one block swallows both ranges";
  EXPECT_EQ(sb_.sacked_bytes(), 5500u);
  EXPECT_EQ(sb_.highest_sacked(), 7000u);
  EXPECT_FALSE(sb_.IsSacked(1499));
  EXPECT_TRUE(sb_.IsSacked(1500));
  EXPECT_TRUE(sb_.IsSacked(6999));
  EXPECT_FALSE(sb_.IsSacked(7000));
}

TEST_F(SackTest, KeepsRangesSortedWhateverTheArrivalOrder) {
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{9000, 9100}, {3000, 3100}, {6000, 6100}}));
  EXPECT_FALSE(Sack({{1000, 1100}}));
  EXPECT_EQ(sb_.range_count(), 4u);
  EXPECT_EQ(sb_.sacked_bytes(), 400u);
  EXPECT_EQ(sb_.highest_sacked(), 9100u);
  for (uint32_t s : {1000u, 3050u, 6099u, 9000u}) EXPECT_TRUE(sb_.IsSacked(s)) << s;
  for (uint32_t s : {999u, 1100u, 5000u, 9100u}) EXPECT_FALSE(sb_.IsSacked(s)) << s;
}

TEST_F(SackTest, DsackBelowTheAckIsReportedAndNotRecorded) {
  una_ = 5000;
  sb_.Reset(una_);
  EXPECT_TRUE(Sack({{3000, 3500}, {6000, 7000}}));
  EXPECT_EQ(sb_.range_count(), 1u);
  EXPECT_EQ(sb_.sacked_bytes(), 1000u);
  EXPECT_TRUE(Sack({{4000, 5000}})) << "a D-SACK alone";
  EXPECT_EQ(sb_.sacked_bytes(), 1000u);
}

TEST_F(SackTest, DsackInsideTheSecondBlock) {
  una_ = 5000;
  sb_.Reset(una_);
  EXPECT_TRUE(Sack({{6200, 6300}, {6000, 7000}}));
  EXPECT_EQ(sb_.range_count(), 1u);
  EXPECT_EQ(sb_.sacked_bytes(), 1000u);
  EXPECT_FALSE(Sack({{6000, 7000}, {8000, 9000}})) << "an ordinary first block";
  EXPECT_FALSE(Sack({{7000, 7500}, {6000, 7000}})) << "adjacent, not inside";
  EXPECT_EQ(sb_.sacked_bytes(), 2500u);
}

TEST_F(SackTest, BlocksOutsideUnaAndNxtAreIgnored) {
  una_ = 1000;
  nxt_ = 5000;
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{2000, 2100},     // kept
                     {500, 900},       // wholly acknowledged
                     {800, 1200},      // straddles snd_una: the part above is kept
                     {5000, 6000},     // never sent
                     {4000, 5001},     // reaches one byte past snd_nxt
                     {3000, 2900},     // inverted
                     {4000, 4000}}));  // empty
  EXPECT_EQ(sb_.range_count(), 2u);
  EXPECT_EQ(sb_.sacked_bytes(), 300u);
  EXPECT_TRUE(sb_.IsSacked(1000));
  EXPECT_FALSE(sb_.IsSacked(999));
  EXPECT_EQ(sb_.highest_sacked(), 2100u);
  EXPECT_FALSE(Sack({{4000, 5000}})) << "up to snd_nxt itself is fine";
  EXPECT_EQ(sb_.highest_sacked(), 5000u);
}

TEST_F(SackTest, AdvanceUnaDropsAndClips) {
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{2000, 3000}, {4000, 5000}}));
  sb_.AdvanceUna(2500);
  EXPECT_EQ(sb_.range_count(), 2u);
  EXPECT_EQ(sb_.sacked_bytes(), 1500u);
  EXPECT_FALSE(sb_.IsSacked(2499));
  sb_.AdvanceUna(4000);
  EXPECT_EQ(sb_.range_count(), 1u);
  EXPECT_EQ(sb_.sacked_bytes(), 1000u);
  sb_.AdvanceUna(2000);  // an old ACK: the board never goes back
  EXPECT_EQ(sb_.sacked_bytes(), 1000u);
  sb_.AdvanceUna(6000);
  EXPECT_TRUE(sb_.empty());
  EXPECT_EQ(sb_.sacked_bytes(), 0u);
  EXPECT_EQ(sb_.highest_sacked(), 6000u);
}

TEST_F(SackTest, IsLostWithThreeDiscontiguousRangesAbove) {
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{2000, 2100}, {3000, 3100}}));
  EXPECT_FALSE(sb_.IsLost(0, kSmss)) << "two small ranges are not enough";
  EXPECT_FALSE(Sack({{1000, 1100}}));
  EXPECT_TRUE(sb_.IsLost(0, kSmss)) << "DupThresh ranges above, though only 300 bytes";
  EXPECT_TRUE(sb_.IsLost(999, kSmss));
  EXPECT_FALSE(sb_.IsLost(1100, kSmss));
  EXPECT_FALSE(sb_.IsLost(5000, kSmss));
}

TEST_F(SackTest, IsLostWithMoreThanTwoSegmentsOfBytesAbove) {
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{1000, 3000}}));
  EXPECT_FALSE(sb_.IsLost(0, kSmss)) << "exactly (DupThresh - 1) * SMSS is not more than it";
  EXPECT_FALSE(Sack({{3000, 3001}}));
  EXPECT_TRUE(sb_.IsLost(0, kSmss));
  EXPECT_TRUE(sb_.IsLost(999, kSmss));
  EXPECT_FALSE(sb_.IsLost(3001, kSmss));
  EXPECT_FALSE(sb_.IsLost(0, 1001)) << "a larger SMSS needs more";
  // Three full segments SACKed above a hole: the classic fast retransmit trigger.
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{1000, 4000}}));
  EXPECT_TRUE(sb_.IsLost(0, kSmss));
}

// RFC 6675's scenario: ten segments in flight, the first lost, SACKs arriving for the next ones.
TEST_F(SackTest, PipeThroughALossRecovery) {
  nxt_ = 10000;
  sb_.Reset(una_);
  EXPECT_EQ(sb_.Pipe(una_, nxt_, una_, kSmss), 10000u) << "all in flight";
  EXPECT_FALSE(Sack({{1000, 2000}}));
  EXPECT_EQ(sb_.Pipe(una_, nxt_, una_, kSmss), 9000u) << "the SACKed segment left the network";
  EXPECT_FALSE(Sack({{1000, 3000}}));
  EXPECT_EQ(sb_.Pipe(una_, nxt_, una_, kSmss), 8000u) << "segment 0 not lost yet";
  EXPECT_FALSE(Sack({{1000, 4000}}));
  EXPECT_EQ(sb_.Pipe(una_, nxt_, una_, kSmss), 6000u) << "segment 0 is lost now";
  EXPECT_EQ(sb_.Pipe(una_, nxt_, 1000, kSmss), 7000u) << "its retransmission is in flight";
  nxt_ = 11000;  // one new segment sent
  EXPECT_EQ(sb_.Pipe(una_, nxt_, 1000, kSmss), 8000u);
  // The retransmission is acknowledged together with the SACKed data.
  una_ = 4000;
  sb_.AdvanceUna(una_);
  EXPECT_TRUE(sb_.empty());
  EXPECT_EQ(sb_.Pipe(una_, nxt_, una_, kSmss), 7000u);
}

TEST_F(SackTest, PipeWithTwoHoles) {
  nxt_ = 10000;
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{1000, 4000}, {5000, 10000}}));
  EXPECT_EQ(sb_.Pipe(una_, nxt_, una_, kSmss), 0u) << "both holes lost, the rest SACKed";
  EXPECT_EQ(sb_.Pipe(una_, nxt_, 1000, kSmss), 1000u);
  EXPECT_EQ(sb_.Pipe(una_, nxt_, 5000, kSmss), 2000u) << "SACKed bytes below HighRxt not counted";
  EXPECT_EQ(sb_.Pipe(una_, una_, una_, kSmss), 0u);
}

TEST_F(SackTest, NextLostSegmentSkipsSackedRanges) {
  sb_.Reset(una_);
  EXPECT_EQ(Next(0), (Block{0, 0})) << "nothing SACKed, nothing lost";
  EXPECT_FALSE(Sack({{1000, 2000}, {3000, 4000}, {5000, 6000}}));
  EXPECT_EQ(Next(0), (Block{0, 1000}));
  EXPECT_EQ(Next(1000), (Block{0, 0})) << "the hole at 2000 has two ranges above it";
  EXPECT_FALSE(Sack({{7000, 8000}}));
  EXPECT_EQ(Next(1000), (Block{2000, 1000})) << "steps over the SACKed range";
  EXPECT_EQ(Next(1500), (Block{2000, 1000}));
  EXPECT_EQ(Next(2500), (Block{2500, 500})) << "the rest of a partly resent hole";
  EXPECT_EQ(Next(3000), (Block{0, 0}));
  // A smaller SMSS makes more of the board lost and cuts holes into segments.
  EXPECT_EQ(Next(4000, 300), (Block{4000, 300}));
  EXPECT_EQ(Next(4900, 300), (Block{4900, 100})) << "stops at the next SACKed byte";
  EXPECT_EQ(Next(6900, 300), (Block{6900, 100}));
  EXPECT_EQ(Next(8000, 300), (Block{0, 0})) << "nothing above the highest SACK is lost";
  // snd_una bounds from below, high_data from above.
  una_ = 500;
  sb_.AdvanceUna(una_);
  EXPECT_EQ(Next(0), (Block{500, 500}));
  nxt_ = 700;  // (a smaller high_data than the SACKs is only a test of the clamp)
  EXPECT_EQ(Next(0), (Block{500, 200}));
}

TEST_F(SackTest, SequenceNumbersWrapAcross2To32) {
  una_ = 0xfffff000u;
  nxt_ = 0x2000;
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{0xfffff800u, 0x100}, {0x800, 0x1000}, {0x1000, 0x1800}}));
  EXPECT_EQ(sb_.range_count(), 2u);
  EXPECT_EQ(sb_.sacked_bytes(), 0x900u + 0x1000u);
  EXPECT_TRUE(sb_.IsSacked(0xffffffffu));
  EXPECT_TRUE(sb_.IsSacked(0));
  EXPECT_EQ(sb_.highest_sacked(), 0x1800u);
  EXPECT_TRUE(sb_.IsLost(una_, kSmss));
  EXPECT_EQ(Next(una_), (Block{0xfffff000u, kSmss}));
  EXPECT_EQ(Next(0xfffff800u), (Block{0x100, kSmss})) << "steps over the range across the wrap";
  EXPECT_EQ(sb_.Pipe(una_, nxt_, una_, kSmss), 0x800u) << "[0x1800, 0x2000) still in flight";
  una_ = 0x80;
  sb_.AdvanceUna(una_);
  EXPECT_EQ(sb_.sacked_bytes(), 0x80u + 0x1000u);
  EXPECT_TRUE(Sack({{0xffffff00u, 0x10}})) << "a D-SACK from before the wrap";
}

// SACK Panic class: a peer SACKing a thousand disjoint single bytes, four blocks an ACK, in random
// order. The board keeps the lowest kMaxRanges (what recovery needs first), its counters stay
// exact, and each ACK costs O(kMaxRanges).
TEST_F(SackTest, ThousandDisjointTinyBlocksAreBounded) {
  nxt_ = 1u << 20;
  sb_.Reset(una_);
  std::vector<uint32_t> order(1000);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  for (size_t k = 0; k < order.size(); k += 4) {
    std::vector<Block> blocks;
    for (size_t b = k; b < k + 4; ++b) blocks.push_back({1 + 2 * order[b], 2 + 2 * order[b]});
    Sack(blocks);
    ASSERT_LE(sb_.range_count(), SackScoreboard::kMaxRanges);
    ASSERT_EQ(sb_.sacked_bytes(), sb_.range_count()) << "one byte a range";
  }
  EXPECT_EQ(sb_.range_count(), SackScoreboard::kMaxRanges);
  for (uint32_t k = 0; k < SackScoreboard::kMaxRanges; ++k) EXPECT_TRUE(sb_.IsSacked(1 + 2 * k));
  EXPECT_FALSE(sb_.IsSacked(1 + 2 * SackScoreboard::kMaxRanges));
  EXPECT_EQ(sb_.highest_sacked(), 2 * SackScoreboard::kMaxRanges);
  EXPECT_TRUE(sb_.IsLost(0, kSmss));
  EXPECT_EQ(Next(0), (Block{0, 1}));
  EXPECT_EQ(Next(1), (Block{2, 1}));

  // The same thousand in one call (the API takes any span): still bounded.
  std::vector<Block> all;
  for (uint32_t k = 0; k < 1000; ++k) all.push_back({100001 + 2 * k, 100002 + 2 * k});
  sb_.Reset(una_);
  Sack(all);
  EXPECT_EQ(sb_.range_count(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(sb_.sacked_bytes(), SackScoreboard::kMaxRanges);
}

// Random ACKs against a byte model: one flag per byte in [snd_una, snd_nxt), and RFC 6675's IsLost,
// SetPipe and NextSeg evaluated octet by octet, as the RFC words them.
TEST_F(SackTest, MatchesAPerByteModel) {
  std::mt19937 rng(3);
  constexpr uint32_t kSpan = 30000;
  for (int round = 0; round < 30; ++round) {
    const uint32_t base = rng();
    const uint32_t smss = 100 + rng() % 1400;
    una_ = base;
    nxt_ = base + kSpan;
    sb_.Reset(una_);
    std::vector<bool> sacked(kSpan);
    for (int ack = 0; ack < 15; ++ack) {  // at most 60 blocks: the range bound never applies
      if (rng() % 3 == 0) {
        una_ += rng() % 3000;
        if (una_ - base > kSpan) una_ = nxt_;
      }
      const uint32_t u = una_ - base;
      std::vector<Block> blocks;
      for (uint32_t n = 1 + rng() % 4; n-- > 0;) {
        const uint32_t start = u + rng() % (kSpan + 1000 - u) - 500;
        blocks.push_back({base + start, base + start + 1 + rng() % 3000});
      }
      auto off = [base](uint32_t s) {
        return static_cast<int64_t>(static_cast<int32_t>(s - base));
      };
      const bool dsack = off(blocks[0].first) < u ||
                         (blocks.size() > 1 && off(blocks[1].first) <= off(blocks[0].first) &&
                          off(blocks[0].second) <= off(blocks[1].second));
      ASSERT_EQ(Sack(blocks), dsack);
      for (size_t b = dsack ? 1 : 0; b < blocks.size(); ++b) {
        if (off(blocks[b].second) > kSpan) continue;
        for (int64_t i = std::max<int64_t>(off(blocks[b].first), u); i < off(blocks[b].second); ++i)
          sacked[i] = true;
      }
      for (uint32_t i = 0; i < u; ++i) sacked[i] = false;

      // IsLost for every octet, scanning down from the top as the RFC's counts grow.
      std::vector<bool> lost(kSpan);
      uint32_t bytes_above = 0, ranges_above = 0, count = 0, highest = u;
      for (uint32_t t = kSpan; t-- > u;) {
        if (t + 1 < kSpan && sacked[t + 1]) {
          ++bytes_above;
          if (t + 2 == kSpan || !sacked[t + 2]) ++ranges_above;
        }
        lost[t] = ranges_above >= SackScoreboard::kDupThresh || bytes_above > 2 * smss;
        if (sacked[t]) ++count;
        if (sacked[t] && highest == u) highest = t + 1;
      }
      ASSERT_EQ(sb_.sacked_bytes(), count);
      ASSERT_EQ(sb_.highest_sacked(), base + highest);
      const uint32_t high_rxt = u + rng() % (kSpan - u + 1);
      uint32_t pipe = 0;
      for (uint32_t t = u; t < kSpan; ++t) {
        ASSERT_EQ(sb_.IsSacked(base + t), sacked[t]) << t;
        ASSERT_EQ(sb_.IsLost(base + t, smss), lost[t]) << t;
        if (!sacked[t]) pipe += !lost[t] + (t < high_rxt);
      }
      ASSERT_EQ(sb_.Pipe(una_, nxt_, base + high_rxt, smss), pipe);
      for (int probe = 0; probe < 20; ++probe) {
        const uint32_t from = u + rng() % (kSpan - u + 1);
        uint32_t s = from;
        while (s < highest && (sacked[s] || !lost[s])) ++s;
        uint32_t seq = 0, len = 0;
        const bool found = sb_.NextLostSegment(base + from, nxt_, smss, &seq, &len);
        ASSERT_EQ(found, s < highest) << from;
        if (!found) continue;
        uint32_t e = s;
        while (e < kSpan && e - s < smss && !sacked[e]) ++e;
        ASSERT_EQ(seq, base + s);
        ASSERT_EQ(len, e - s);
      }
    }
  }
}

TEST_F(SackTest, ResetForgetsEverything) {
  sb_.Reset(una_);
  EXPECT_FALSE(Sack({{1000, 2000}}));
  sb_.Reset(1500);
  EXPECT_TRUE(sb_.empty());
  EXPECT_EQ(sb_.sacked_bytes(), 0u);
  EXPECT_EQ(sb_.highest_sacked(), 1500u);
  EXPECT_FALSE(sb_.IsSacked(1600));
}

}  // namespace
}  // namespace tapsock::tcp
