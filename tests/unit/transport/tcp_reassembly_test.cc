// Tests for the TCP out-of-order queue (stack/transport/tcp/reassembly_queue.h): holes filled in
// every order give back the same bytes, each kind of overlap keeps the bytes that came first,
// sequence numbers wrap across 2^32, the memory and node bounds hold against a SegmentSmack-style
// flood, small neighbours coalesce, and SACK blocks come out newest first (RFC 2018 4). Every test
// ends with the pool holding no buffer, so a leak or a double free in any path shows up.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "stack/buffer/packet_buffer.h"
#include "stack/transport/tcp/reassembly_queue.h"

namespace tapsock::tcp {
namespace {

using Block = std::pair<uint32_t, uint32_t>;

// The byte the peer's stream holds at sequence number `seq`.
uint8_t StreamByte(uint32_t seq) {
  return static_cast<uint8_t>(seq * 7 + (seq >> 8) + 3);
}

class ReassemblyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    q_.Clear();
    EXPECT_EQ(pool_.in_use(), 0u) << "every buffer goes back to the pool";
  }

  // A payload of `len` stream bytes starting at `seq`, as input would hand it over.
  PacketBuffer* Seg(uint32_t seq, uint32_t len) {
    PacketBuffer* p = pool_.Alloc(len);
    EXPECT_NE(p, nullptr);
    for (uint32_t i = 0; i < len; ++i) p->data()[i] = StreamByte(seq + i);
    p->len = len;
    return p;
  }
  // A payload of `len` copies of `fill`, to see whose bytes survive an overlap.
  PacketBuffer* Fill(uint32_t len, uint8_t fill) {
    PacketBuffer* p = pool_.Alloc(len);
    EXPECT_NE(p, nullptr);
    std::memset(p->data(), fill, len);
    p->len = len;
    return p;
  }
  // Pops what is in order at *rcv_nxt, advances it, and returns the bytes (freeing the buffers).
  std::vector<uint8_t> Drain(uint32_t* rcv_nxt) { return Drain(q_, rcv_nxt); }
  std::vector<uint8_t> Drain(ReassemblyQueue& q, uint32_t* rcv_nxt) {
    PacketQueue out;
    *rcv_nxt = q.PopInOrder(*rcv_nxt, out);
    std::vector<uint8_t> bytes;
    while (PacketBuffer* p = out.Pop()) {
      bytes.insert(bytes.end(), p->data(), p->data() + p->len);
      pool_.Free(p);
    }
    return bytes;
  }
  static std::vector<uint8_t> Stream(uint32_t seq, uint32_t len) {
    std::vector<uint8_t> v(len);
    for (uint32_t i = 0; i < len; ++i) v[i] = StreamByte(seq + i);
    return v;
  }
  std::vector<Block> Sack(size_t max = 4) {
    std::array<Block, 64> b{};
    return {b.begin(), b.begin() + static_cast<ptrdiff_t>(q_.SackBlocks(b.data(), max))};
  }

  PacketPool pool_;
  ReassemblyQueue q_{pool_, 1u << 20};
};

TEST_F(ReassemblyTest, InOrderDataPopsAtOnce) {
  uint32_t rcv_nxt = 1000;
  ASSERT_TRUE(q_.Insert(1000, Seg(1000, 100)));
  EXPECT_EQ(Drain(&rcv_nxt), Stream(1000, 100));
  EXPECT_EQ(rcv_nxt, 1100u);
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.bytes(), 0u);
  EXPECT_TRUE(Drain(&rcv_nxt).empty());
  EXPECT_EQ(rcv_nxt, 1100u);
}

TEST_F(ReassemblyTest, HoleKeepsDataUntilFilled) {
  uint32_t rcv_nxt = 0;
  ASSERT_TRUE(q_.Insert(1000, Seg(1000, 1000)));
  EXPECT_TRUE(Drain(&rcv_nxt).empty());
  EXPECT_EQ(rcv_nxt, 0u);
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.bytes(), PacketPool::kSmall) << "charged the buffer's capacity";
  ASSERT_TRUE(q_.Insert(0, Seg(0, 1000)));
  EXPECT_EQ(Drain(&rcv_nxt), Stream(0, 2000));
  EXPECT_EQ(rcv_nxt, 2000u);
}

// Five segments of unlike sizes (so the coalescing paths run too) in all 120 orders.
TEST_F(ReassemblyTest, EveryArrivalOrderGivesTheSameStream) {
  const std::array<std::pair<uint32_t, uint32_t>, 5> segs = {
      {{0, 100}, {100, 1}, {101, 700}, {801, 50}, {851, 1400}}};
  std::array<int, 5> order = {0, 1, 2, 3, 4};
  int runs = 0;
  do {
    uint32_t rcv_nxt = 0;
    std::vector<uint8_t> got;
    for (int k : order) {
      ASSERT_TRUE(q_.Insert(segs[k].first, Seg(segs[k].first, segs[k].second)));
      auto bytes = Drain(&rcv_nxt);
      got.insert(got.end(), bytes.begin(), bytes.end());
    }
    EXPECT_EQ(rcv_nxt, 2251u);
    EXPECT_EQ(got, Stream(0, 2251));
    EXPECT_TRUE(q_.empty());
    ++runs;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(runs, 120);
}

TEST_F(ReassemblyTest, PartialFrontOverlapKeepsTheOldBytes) {
  ASSERT_TRUE(q_.Insert(100, Fill(100, 'A')));  // [100, 200)
  ASSERT_TRUE(q_.Insert(150, Fill(100, 'B')));  // [150, 250): only [200, 250) is new
  uint32_t rcv_nxt = 100;
  std::vector<uint8_t> want(100, 'A');
  want.insert(want.end(), 50, 'B');
  EXPECT_EQ(Drain(&rcv_nxt), want);
  EXPECT_EQ(rcv_nxt, 250u);
}

TEST_F(ReassemblyTest, PartialBackOverlapKeepsTheOldBytes) {
  ASSERT_TRUE(q_.Insert(150, Fill(100, 'A')));  // [150, 250)
  ASSERT_TRUE(q_.Insert(100, Fill(100, 'B')));  // [100, 200): only [100, 150) is new
  uint32_t rcv_nxt = 100;
  std::vector<uint8_t> want(50, 'B');
  want.insert(want.end(), 100, 'A');
  EXPECT_EQ(Drain(&rcv_nxt), want);
  EXPECT_EQ(rcv_nxt, 250u);
}

TEST_F(ReassemblyTest, ContainedSegmentIsADuplicate) {
  ASSERT_TRUE(q_.Insert(100, Fill(100, 'A')));
  const size_t before = q_.bytes();
  EXPECT_TRUE(q_.Insert(120, Fill(10, 'B'))) << "already held, so accepted and freed";
  EXPECT_EQ(q_.bytes(), before);
  EXPECT_EQ(q_.segments(), 1u);
  uint32_t rcv_nxt = 100;
  EXPECT_EQ(Drain(&rcv_nxt), std::vector<uint8_t>(100, 'A'));
}

TEST_F(ReassemblyTest, ExactDuplicateIsDropped) {
  ASSERT_TRUE(q_.Insert(100, Fill(100, 'A')));
  EXPECT_TRUE(q_.Insert(100, Fill(100, 'B')));
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(pool_.in_use(), 1u);
  uint32_t rcv_nxt = 100;
  EXPECT_EQ(Drain(&rcv_nxt), std::vector<uint8_t>(100, 'A'));
}

TEST_F(ReassemblyTest, DuplicateSpanningAdjacentSegmentsIsDropped) {
  ASSERT_TRUE(q_.Insert(100, Fill(1000, 'A')));  // too big to coalesce: two adjacent nodes
  ASSERT_TRUE(q_.Insert(1100, Fill(1000, 'A')));
  ASSERT_EQ(q_.segments(), 2u);
  EXPECT_TRUE(q_.Insert(500, Fill(1000, 'B')));
  EXPECT_EQ(q_.segments(), 2u);
  uint32_t rcv_nxt = 100;
  EXPECT_EQ(Drain(&rcv_nxt), std::vector<uint8_t>(2000, 'A'));
}

TEST_F(ReassemblyTest, ContainingSegmentFillsOnlyTheHoles) {
  ASSERT_TRUE(q_.Insert(120, Fill(10, 'A')));   // [120, 130)
  ASSERT_TRUE(q_.Insert(150, Fill(20, 'A')));   // [150, 170)
  ASSERT_TRUE(q_.Insert(190, Fill(30, 'A')));   // [190, 220): straddles the new segment's end
  ASSERT_TRUE(q_.Insert(100, Fill(100, 'B')));  // [100, 200)
  EXPECT_EQ(q_.segments(), 1u) << "contained nodes folded in, the small successor coalesced";
  std::vector<uint8_t> want(120, 'B');
  std::fill(want.begin() + 20, want.begin() + 30, 'A');
  std::fill(want.begin() + 50, want.begin() + 70, 'A');
  std::fill(want.begin() + 90, want.end(), 'A');
  uint32_t rcv_nxt = 100;
  EXPECT_EQ(Drain(&rcv_nxt), want);
  EXPECT_EQ(rcv_nxt, 220u);
}

TEST_F(ReassemblyTest, PopTrimsBytesAlreadyReceived) {
  ASSERT_TRUE(q_.Insert(100, Seg(100, 100)));
  ASSERT_TRUE(q_.Insert(300, Seg(300, 100)));
  uint32_t rcv_nxt = 150;  // in-order data arrived past the front of the queue
  EXPECT_EQ(Drain(&rcv_nxt), Stream(150, 50));
  EXPECT_EQ(rcv_nxt, 200u);
  rcv_nxt = 500;  // and past a whole segment
  EXPECT_TRUE(Drain(&rcv_nxt).empty());
  EXPECT_EQ(rcv_nxt, 500u);
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.bytes(), 0u);
}

TEST_F(ReassemblyTest, ZeroLengthPayloadIsFreed) {
  EXPECT_TRUE(q_.Insert(100, Fill(0, 0)));
  EXPECT_TRUE(q_.empty());
}

TEST_F(ReassemblyTest, SequenceNumbersWrapAcross2To32) {
  const uint32_t base = 0xffffff00u;
  const std::array<std::pair<uint32_t, uint32_t>, 4> segs = {
      {{base + 0x200, 0x80}, {base + 0xc0, 0x100}, {base + 0x1c0, 0x40}, {base, 0xc0}}};
  uint32_t rcv_nxt = base;
  for (auto [seq, len] : segs) ASSERT_TRUE(q_.Insert(seq, Seg(seq, len)));
  EXPECT_EQ(Drain(&rcv_nxt), Stream(base, 0x280));
  EXPECT_EQ(rcv_nxt, 0x180u);
}

TEST_F(ReassemblyTest, SackBlocksAcrossTheWrap) {
  ASSERT_TRUE(q_.Insert(0xfffffff0u, Seg(0xfffffff0u, 0x20)));
  ASSERT_TRUE(q_.Insert(0xffffff00u, Seg(0xffffff00u, 0x10)));
  EXPECT_EQ(Sack(), (std::vector<Block>{{0xffffff00u, 0xffffff10u}, {0xfffffff0u, 0x10u}}));
}

TEST_F(ReassemblyTest, RefusesASegmentHalfTheSequenceSpaceAway) {
  ASSERT_TRUE(q_.Insert(1000, Seg(1000, 10)));
  EXPECT_FALSE(q_.Insert(1000 + 0x80000000u, Seg(1000, 10)));
  EXPECT_FALSE(q_.Insert(1000 + 0x40000000u, Seg(1000, 10))) << "beyond any RFC 7323 window";
  EXPECT_EQ(q_.segments(), 1u);
}

TEST_F(ReassemblyTest, MemoryBoundRefusesAndKeepsTheQueueIntact) {
  ReassemblyQueue q(pool_, 4 * PacketPool::kSmall);
  for (uint32_t k = 0; k < 4; ++k) ASSERT_TRUE(q.Insert(1000 * (k + 1) * 2, Seg(0, 1000)));
  EXPECT_FALSE(q.Insert(20000, Seg(20000, 1000)));
  EXPECT_EQ(q.segments(), 4u);
  EXPECT_EQ(q.bytes(), 4 * PacketPool::kSmall);
  EXPECT_EQ(pool_.in_use(), 4u);
  // A small neighbour still fits: it is copied into a queued buffer's tailroom.
  EXPECT_TRUE(q.Insert(3000, Seg(3000, 10)));
  EXPECT_EQ(q.segments(), 4u);
}

// Linux's tcp_prune_ofo_queue: a segment that fills an earlier hole takes the place of the
// highest queued data rather than being refused; one above everything queued is still refused.
TEST_F(ReassemblyTest, MemoryBoundPrunesTheHighestForAnEarlierSegment) {
  ReassemblyQueue q(pool_, 4 * PacketPool::kSmall);
  for (uint32_t k = 0; k < 4; ++k) ASSERT_TRUE(q.Insert(2000 * (k + 2), Seg(2000 * (k + 2), 1000)));
  EXPECT_FALSE(q.Insert(20000, Seg(20000, 1000))) << "nothing above it to give way";
  EXPECT_TRUE(q.Insert(2000, Seg(2000, 1000)));
  EXPECT_EQ(q.pruned(), 1u);
  EXPECT_EQ(q.segments(), 4u);
  EXPECT_EQ(pool_.in_use(), 4u);
  std::vector<Block> held(8);
  held.resize(q.SackBlocks(held.data(), held.size()));
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<Block>{{2000, 3000}, {4000, 5000}, {6000, 7000}, {8000, 9000}}));
  uint32_t rcv_nxt = 1000;
  ASSERT_TRUE(q.Insert(1000, Seg(1000, 1000)));
  EXPECT_EQ(q.pruned(), 2u) << "even the segment at rcv_nxt, if the caller queues it here";
  EXPECT_EQ(Drain(q, &rcv_nxt), Stream(1000, 2000));
  EXPECT_EQ(rcv_nxt, 3000u);
}

// SegmentSmack: a flood of 1-byte segments at alternating offsets, none of them adjacent, so none
// coalesce. The queue stays within its node bound and each Insert stays cheap.
TEST_F(ReassemblyTest, TinySegmentFloodIsBounded) {
  ReassemblyQueue q(pool_, 64u << 20);
  size_t accepted = 0;
  for (uint32_t k = 0; k < 100000; ++k) {
    const uint32_t seq = 1 + 2 * ((k * 7919u) % 50000u);  // scattered odd offsets
    accepted += q.Insert(seq, Seg(seq, 1));
    ASSERT_LE(q.segments(), ReassemblyQueue::kMaxSegments);
  }
  EXPECT_EQ(q.segments(), ReassemblyQueue::kMaxSegments);
  EXPECT_LE(accepted, 100000u);
  EXPECT_EQ(pool_.in_use(), ReassemblyQueue::kMaxSegments) << "refused segments went back";
  std::array<Block, 4> b{};
  EXPECT_EQ(q.SackBlocks(b.data(), b.size()), 4u);
  q.Clear();
  EXPECT_EQ(pool_.in_use(), 0u);
}

TEST_F(ReassemblyTest, MemoryBoundHoldsUnderRandomTinySegments) {
  ReassemblyQueue q(pool_, 100 * PacketPool::kSmall);
  std::mt19937 rng(7);
  for (int k = 0; k < 20000; ++k) {
    const uint32_t seq = 1 + rng() % 60000;
    q.Insert(seq, Seg(seq, 1 + rng() % 3));
    ASSERT_LE(q.bytes(), 100 * PacketPool::kSmall);
  }
  // Whatever was kept is the stream's own bytes: pop each range as if its hole had been filled.
  std::vector<Block> all(ReassemblyQueue::kMaxSegments);
  all.resize(q.SackBlocks(all.data(), all.size()));
  ASSERT_FALSE(all.empty());
  std::sort(all.begin(), all.end());
  for (auto [left, right] : all) {
    uint32_t rcv_nxt = left;
    EXPECT_EQ(Drain(q, &rcv_nxt), Stream(left, right - left));
    EXPECT_EQ(rcv_nxt, right);
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST_F(ReassemblyTest, AdjacentSmallSegmentsCoalesce) {
  for (uint32_t seq = 100; seq < 400; ++seq) ASSERT_TRUE(q_.Insert(seq, Seg(seq, 1)));
  EXPECT_EQ(q_.segments(), 1u);
  for (uint32_t seq = 999; seq >= 700; --seq) ASSERT_TRUE(q_.Insert(seq, Seg(seq, 1)));
  EXPECT_EQ(q_.segments(), 2u) << "descending arrivals absorb their successor";
  EXPECT_EQ(pool_.in_use(), 2u);
  EXPECT_EQ(Sack(), (std::vector<Block>{{700, 1000}, {100, 400}}));
  ASSERT_TRUE(q_.Insert(0, Seg(0, 100)));
  ASSERT_TRUE(q_.Insert(400, Seg(400, 300)));
  uint32_t rcv_nxt = 0;
  EXPECT_EQ(Drain(&rcv_nxt), Stream(0, 1000));
}

TEST_F(ReassemblyTest, SackBlocksReportTheNewestRangeFirst) {
  ASSERT_TRUE(q_.Insert(100, Seg(100, 100)));  // A
  ASSERT_TRUE(q_.Insert(300, Seg(300, 100)));  // B
  ASSERT_TRUE(q_.Insert(500, Seg(500, 100)));  // C
  EXPECT_EQ(Sack(), (std::vector<Block>{{500, 600}, {300, 400}, {100, 200}}));
  ASSERT_TRUE(q_.Insert(200, Seg(200, 50)));  // extends A
  EXPECT_EQ(Sack(), (std::vector<Block>{{100, 250}, {500, 600}, {300, 400}}));
  EXPECT_EQ(Sack(2), (std::vector<Block>{{100, 250}, {500, 600}}));
  ASSERT_TRUE(q_.Insert(400, Seg(400, 100)));  // joins B and C
  EXPECT_EQ(Sack(), (std::vector<Block>{{300, 600}, {100, 250}}));
  ASSERT_TRUE(q_.Insert(120, Seg(120, 10)));  // a duplicate still names its range first
  EXPECT_EQ(Sack(), (std::vector<Block>{{100, 250}, {300, 600}}));
}

TEST_F(ReassemblyTest, SackBlocksFillWithTheLowestOlderRanges) {
  for (uint32_t k = 0; k < 8; ++k) ASSERT_TRUE(q_.Insert(1000 * (k + 1), Seg(0, 10)));
  // The four most recent (8000, 7000, 6000, 5000) fill every slot.
  EXPECT_EQ(Sack(), (std::vector<Block>{{8000, 8010}, {7000, 7010}, {6000, 6010}, {5000, 5010}}));
  EXPECT_EQ(Sack(6)[4], (Block{1000, 1010})) << "after the recent ones, from the lowest";
  uint32_t rcv_nxt = 6010;  // deliver two of the recent ranges and everything below them
  Drain(&rcv_nxt);
  EXPECT_EQ(Sack(), (std::vector<Block>{{8000, 8010}, {7000, 7010}}));
}

// Random arrivals, overlapping and duplicated, each with bytes of its own, against a byte model in
// which the first arrival of a byte wins: the delivered stream and the SACKed ranges must agree.
TEST_F(ReassemblyTest, MatchesAFirstArrivalWinsModel) {
  std::mt19937 rng(1);
  constexpr uint32_t kSpan = 20000;
  for (int round = 0; round < 30; ++round) {
    const uint32_t base = rng();  // anywhere, so some rounds cross 2^32
    std::vector<int> model(kSpan, -1);
    uint32_t rcv = 0;  // rcv_nxt - base
    std::vector<uint8_t> got, want;
    for (int k = 0; k < 200 && rcv < kSpan; ++k) {
      uint32_t off = rng() % 4 == 0 ? rcv : rcv + rng() % (kSpan - rcv);
      const uint32_t end = std::min(kSpan, off + 1 + static_cast<uint32_t>(rng() % 1400));
      const uint8_t salt = static_cast<uint8_t>(rng());
      PacketBuffer* p = Fill(end - off, 0);
      for (uint32_t i = off; i < end; ++i) {
        p->data()[i - off] = static_cast<uint8_t>(salt + i);
        if (model[i] < 0) model[i] = static_cast<uint8_t>(salt + i);
      }
      ASSERT_TRUE(q_.Insert(base + off, p));
      uint32_t rcv_nxt = base + rcv;
      auto bytes = Drain(&rcv_nxt);
      got.insert(got.end(), bytes.begin(), bytes.end());
      while (rcv < kSpan && model[rcv] >= 0) want.push_back(static_cast<uint8_t>(model[rcv++]));
      ASSERT_EQ(rcv_nxt, base + rcv);
      ASSERT_EQ(got, want);
      std::vector<Block> ranges;
      for (uint32_t i = rcv; i < kSpan; ++i) {
        if (model[i] < 0) continue;
        if (ranges.empty() || ranges.back().second != base + i) ranges.push_back({base + i, 0});
        ranges.back().second = base + i + 1;
      }
      std::vector<Block> sacks(ReassemblyQueue::kMaxSegments);
      sacks.resize(q_.SackBlocks(sacks.data(), sacks.size()));
      std::sort(sacks.begin(), sacks.end(),
                [base](Block a, Block b) { return a.first - base < b.first - base; });
      ASSERT_EQ(sacks, ranges);
    }
    q_.Clear();
  }
}

TEST_F(ReassemblyTest, ClearAndDestructorReturnEverything) {
  {
    ReassemblyQueue q(pool_, 1u << 20);
    for (uint32_t k = 0; k < 10; ++k) ASSERT_TRUE(q.Insert(1000 * (k + 1), Seg(0, 600)));
    EXPECT_EQ(pool_.in_use(), 10u);
    q.Clear();
    EXPECT_EQ(pool_.in_use(), 0u);
    EXPECT_TRUE(q.empty());
    for (uint32_t k = 0; k < 10; ++k) ASSERT_TRUE(q.Insert(1000 * (k + 1), Seg(0, 600)));
  }
  EXPECT_EQ(pool_.in_use(), 0u);
}

}  // namespace
}  // namespace tapsock::tcp
