// Tests for TCP sequence numbers (stack/transport/tcp/seqnum.h, RFC 9293 3.4): comparison modulo
// 2^32 at the wrap (0xffffffff before 0) and at the signed boundary (0x7fffffff before 0x80000000,
// where a naive int32 compare goes wrong), the antipodal case Linux shares, offsets of every
// integer width, differences, InWindow across the wrap, and that integers never convert implicitly.
#include "stack/transport/tcp/seqnum.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <type_traits>

namespace tapsock::tcp {
namespace {

constexpr SeqNum S(uint32_t v) {
  return SeqNum(v);
}

// The type's promises, checked at compile time.
static_assert(sizeof(SeqNum) == 4);
static_assert(std::is_trivially_copyable_v<SeqNum>);
static_assert(std::is_constructible_v<SeqNum, uint32_t>);
static_assert(!std::is_convertible_v<uint32_t, SeqNum>, "no implicit conversion from integers");
static_assert(!std::is_convertible_v<int, SeqNum>);
static_assert(!std::is_convertible_v<SeqNum, uint32_t>, "no implicit conversion to integers");
static_assert(SeqNum().value() == 0);
static_assert(S(0xffffffff) < S(0));
static_assert(S(0xffffffff) + 1u == S(0));
static_assert(S(0) - S(0xffffffff) == 1);
static_assert(InWindow(S(0), S(0xfffffff0), 0x20));
static_assert(Max(S(0xfffffff0), S(5)) == S(5));

template <typename T>
concept CanAdd = requires(SeqNum s, T t) {
  s + t;
};
static_assert(CanAdd<uint32_t> && CanAdd<size_t> && CanAdd<int> && CanAdd<uint16_t>);
static_assert(!CanAdd<bool>, "a bool is never an offset");
static_assert(!CanAdd<double>);

TEST(TcpSeqNum, OrdersNearbyValues) {
  EXPECT_TRUE(S(1) < S(2));
  EXPECT_TRUE(S(1) <= S(2));
  EXPECT_TRUE(S(2) > S(1));
  EXPECT_TRUE(S(2) >= S(1));
  EXPECT_FALSE(S(2) < S(1));
  EXPECT_FALSE(S(1) > S(2));
  EXPECT_TRUE(S(7) <= S(7));
  EXPECT_TRUE(S(7) >= S(7));
  EXPECT_FALSE(S(7) < S(7));
  EXPECT_FALSE(S(7) > S(7));
  EXPECT_TRUE(S(7) == S(7));
  EXPECT_TRUE(S(7) != S(8));
}

TEST(TcpSeqNum, MaxValueIsBeforeZero) {
  EXPECT_TRUE(S(0xffffffff) < S(0));
  EXPECT_TRUE(S(0) > S(0xffffffff));
  EXPECT_FALSE(S(0) < S(0xffffffff));
  EXPECT_TRUE(S(0xfffffff0) < S(0x10));
  EXPECT_TRUE(S(0xfffffff0) <= S(0x10));
  EXPECT_FALSE(S(0xfffffff0) >= S(0x10));
}

TEST(TcpSeqNum, SignedBoundaryIsOrderedLikeAnyNeighbours) {
  // As int32 0x80000000 is INT32_MIN: a signed compare of the raw values would put it first.
  EXPECT_TRUE(S(0x7fffffff) < S(0x80000000));
  EXPECT_TRUE(S(0x80000000) > S(0x7fffffff));
  EXPECT_EQ(S(0x80000000) - S(0x7fffffff), 1);
  EXPECT_EQ(S(0x7fffffff) - S(0x80000000), -1);
  EXPECT_TRUE(S(0x7fffffff) + 1u == S(0x80000000));
}

TEST(TcpSeqNum, FarthestComparableDistanceIsTwoToThe31MinusOne) {
  const SeqNum a = S(0x12345678);
  EXPECT_TRUE(a < a + 0x7fffffffu);
  EXPECT_TRUE(a + 0x7fffffffu > a);
  EXPECT_EQ((a + 0x7fffffffu) - a, INT32_MAX);
  // One further and the later value comes around to before `a` again.
  EXPECT_TRUE(a + 0x80000001u < a);
}

TEST(TcpSeqNum, AntipodalValuesEachCompareBefore) {
  // 2^31 apart the order is undefined (RFC 1982 3.2); like Linux's before(), each is "before"
  // the other. Pinned so a change is deliberate.
  for (uint32_t a : {0u, 0x7fffffffu, 0x80000000u, 0xdeadbeefu}) {
    const SeqNum x = S(a), y = S(a + 0x80000000u);
    EXPECT_TRUE(x < y) << std::hex << a;
    EXPECT_TRUE(y < x) << std::hex << a;
    EXPECT_EQ(y - x, INT32_MIN);
  }
}

TEST(TcpSeqNum, OffsetsWrapForEveryIntegerWidth) {
  EXPECT_EQ((S(0xffffffff) + 1u).value(), 0u);
  EXPECT_EQ((S(0xffffffff) + size_t{2}).value(), 1u);
  EXPECT_EQ((S(0xfffffffe) + uint16_t{0xffff}).value(), 0xfffdu);
  EXPECT_EQ((S(0) - 1u).value(), 0xffffffffu);
  EXPECT_EQ((S(3) - size_t{5}).value(), 0xfffffffeu);
  EXPECT_EQ((S(5) + -1).value(), 4u) << "a negative offset goes back";
  // size_t offsets are taken modulo 2^32 (a 64-bit length of 2^32 + 1 is one byte on).
  EXPECT_EQ((S(10) + ((size_t{1} << 32) + 1)).value(), 11u);

  SeqNum s = S(0xfffffff0);
  s += 0x20u;
  EXPECT_EQ(s.value(), 0x10u);
  s -= size_t{0x11};
  EXPECT_EQ(s.value(), 0xffffffffu);
}

TEST(TcpSeqNum, DifferenceIsSignedAndWrapAware) {
  EXPECT_EQ(S(5) - S(0xfffffffe), 7);
  EXPECT_EQ(S(0xfffffffe) - S(5), -7);
  EXPECT_EQ(S(100) - S(100), 0);
  // Bytes in flight: snd_nxt - snd_una across the wrap.
  const SeqNum snd_una = S(0xffffff00), snd_nxt = snd_una + 0x300u;
  EXPECT_EQ(snd_nxt - snd_una, 0x300);
  EXPECT_EQ(snd_una + (snd_nxt - snd_una), snd_nxt);
}

TEST(TcpSeqNum, InWindowAcrossTheWrap) {
  const SeqNum start = S(0xfffffff0);
  const uint32_t size = 0x20;  // [0xfffffff0, 0x10)
  EXPECT_FALSE(InWindow(S(0xffffffef), start, size));
  EXPECT_TRUE(InWindow(S(0xfffffff0), start, size));
  EXPECT_TRUE(InWindow(S(0xffffffff), start, size));
  EXPECT_TRUE(InWindow(S(0), start, size));
  EXPECT_TRUE(InWindow(S(0x0f), start, size));
  EXPECT_FALSE(InWindow(S(0x10), start, size)) << "the end is exclusive";
  EXPECT_FALSE(InWindow(S(0x80000000), start, size));
}

TEST(TcpSeqNum, InWindowEdgeSizes) {
  EXPECT_FALSE(InWindow(S(100), S(100), 0))
      << "a zero window holds nothing; its rules are the caller's";
  EXPECT_TRUE(InWindow(S(100), S(100), 1));
  EXPECT_FALSE(InWindow(S(101), S(100), 1));
  EXPECT_FALSE(InWindow(S(99), S(100), 1));
  // The largest window RFC 7323 allows (2^30) starting just below the wrap.
  const SeqNum start = S(0xffffff00);
  EXPECT_TRUE(InWindow(start + ((1u << 30) - 1), start, 1u << 30));
  EXPECT_FALSE(InWindow(start + (1u << 30), start, 1u << 30));
  EXPECT_FALSE(InWindow(start - 1u, start, 1u << 30));
}

TEST(TcpSeqNum, InWindowAgreesWithTheComparisons) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 10000; ++i) {
    const SeqNum start = S(rng());
    const uint32_t size = rng() % (1u << 30);
    const SeqNum seq = start + static_cast<int32_t>(rng() % (1u << 31)) - (1 << 30);
    const bool by_compare = start <= seq && seq < start + size;
    EXPECT_EQ(InWindow(seq, start, size), by_compare)
        << std::hex << seq.value() << " in [" << start.value() << " +" << size << ")";
  }
}

TEST(TcpSeqNum, MaxAndMinAcrossTheWrap) {
  EXPECT_EQ(Max(S(0xfffffff0), S(0x10)), S(0x10));
  EXPECT_EQ(Max(S(0x10), S(0xfffffff0)), S(0x10));
  EXPECT_EQ(Min(S(0xfffffff0), S(0x10)), S(0xfffffff0));
  EXPECT_EQ(Min(S(0x10), S(0xfffffff0)), S(0xfffffff0));
  EXPECT_EQ(Max(S(3), S(3)), S(3));
  EXPECT_EQ(Min(S(1), S(2)), S(1));
}

TEST(TcpSeqNum, ComparisonsAreConsistentWithTheDifference) {
  std::mt19937 rng(42);
  for (int i = 0; i < 10000; ++i) {
    const SeqNum a = S(rng());
    const SeqNum b = i % 2 ? S(rng()) : a + (rng() % 64) - 32;  // near pairs too
    const int32_t d = b - a;
    if (d == INT32_MIN) continue;  // antipodal, covered above
    EXPECT_EQ((a < b), (d > 0));
    EXPECT_EQ(a > b, d < 0);
    EXPECT_EQ(a == b, d == 0);
    EXPECT_EQ(a <= b, !(a > b));
    EXPECT_EQ(a >= b, !(a < b));
    EXPECT_EQ((b < a), (a > b)) << "antisymmetric";
    EXPECT_EQ(a + d, b);
  }
}

}  // namespace
}  // namespace tapsock::tcp
