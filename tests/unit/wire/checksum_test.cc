// Tests for the Internet checksum (stack/wire/checksum.h), the one routine every IPv4, ICMP and UDP
// header on the packet path is verified and emitted with. Known answers come from RFC 1071 and a
// textbook IPv4 header; everything else is checked against NaiveChecksum (a word-at-a-time RFC 1071
// sum in frame_builder.h), with emphasis on the incremental Checksum::Add: chunks of odd length
// must carry their pending byte into the next chunk, at every split point.
#include "stack/wire/checksum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "stack/wire/bytes.h"
#include "tests/unit/frame_builder.h"

namespace tapsock::wire {
namespace {

using test::Bytes;
using test::NaiveChecksum;

// Deterministic pseudo-random bytes (an LCG), so failures reproduce.
Bytes Noise(size_t n, uint32_t seed) {
  Bytes b(n);
  for (auto& x : b) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<uint8_t>(seed >> 24);
  }
  return b;
}

uint16_t Chunked(std::span<const uint8_t> data, std::initializer_list<size_t> cuts) {
  Checksum c;
  size_t from = 0;
  for (size_t cut : cuts) {
    c.Add(data.subspan(from, cut - from));
    from = cut;
  }
  c.Add(data.subspan(from));
  return c.Finish();
}

TEST(WireChecksum, Rfc1071WorkedExample) {
  // RFC 1071 section 3: the one's complement sum of these bytes is 0xddf2; the checksum is its
  // complement.
  const uint8_t kBytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(kBytes), 0x220d);
  EXPECT_EQ(NaiveChecksum(kBytes), 0x220d);
}

TEST(WireChecksum, TextbookIpv4Header) {
  // 192.168.0.1 -> 192.168.0.199, UDP, total length 115, DF, TTL 64; checksum field 0xb861.
  Bytes header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(InternetChecksum(header), 0xb861);
  header[10] = 0xb8;
  header[11] = 0x61;
  EXPECT_EQ(InternetChecksum(header), 0) << "a header that includes its checksum sums to zero";
  Checksum c;
  c.Add(header);
  EXPECT_TRUE(c.Verifies());
}

TEST(WireChecksum, EmptyInputIsAllOnes) {
  EXPECT_EQ(InternetChecksum({}), 0xffff);
  Checksum c;
  c.Add({});
  EXPECT_EQ(c.Finish(), 0xffff);
  EXPECT_FALSE(c.Verifies());
}

TEST(WireChecksum, OddTrailingBytePadsWithZeroOnTheRight) {
  const uint8_t kOdd[] = {0xab};
  const uint8_t kPadded[] = {0xab, 0x00};
  EXPECT_EQ(InternetChecksum(kOdd), 0x54ff);
  EXPECT_EQ(InternetChecksum(kOdd), InternetChecksum(kPadded));
}

TEST(WireChecksum, MatchesReferenceForEveryLengthUpTo300) {
  for (size_t n = 0; n <= 300; ++n) {
    Bytes data = Noise(n, static_cast<uint32_t>(n) + 1);
    EXPECT_EQ(InternetChecksum(data), NaiveChecksum(data)) << "length " << n;
  }
}

TEST(WireChecksum, FoldsCarriesOfALargeAllOnesBuffer) {
  // 65535 bytes of 0xff: the 64-bit accumulator needs several folds; the result is "negative zero"
  // summed, so the checksum is 0 (or its odd tail makes it 0x00ff).
  for (size_t n : {65534u, 65535u, 4u, 3u}) {
    Bytes data(n, 0xff);
    EXPECT_EQ(InternetChecksum(data), NaiveChecksum(data)) << "length " << n;
  }
}

TEST(WireChecksum, TwoChunksSplitAtEveryOffsetMatchOneChunk) {
  for (size_t n : {37u, 38u, 1u, 2u, 3u}) {
    Bytes data = Noise(n, 7);
    const uint16_t whole = InternetChecksum(data);
    for (size_t i = 0; i <= n; ++i)
      EXPECT_EQ(Chunked(data, {i}), whole) << "n " << n << " at " << i;
  }
}

TEST(WireChecksum, ThreeChunksSplitAtEveryPairOfOffsetsMatchOneChunk) {
  Bytes data = Noise(29, 11);
  const uint16_t whole = InternetChecksum(data);
  for (size_t i = 0; i <= data.size(); ++i)
    for (size_t j = i; j <= data.size(); ++j)
      EXPECT_EQ(Chunked(data, {i, j}), whole) << "cuts " << i << ", " << j;
}

TEST(WireChecksum, OneByteAtATimeMatchesOneChunk) {
  Bytes data = Noise(101, 3);
  Checksum c;
  for (uint8_t b : data) c.Add({&b, 1});
  EXPECT_EQ(c.Finish(), InternetChecksum(data));
}

TEST(WireChecksum, Add16AndAdd32EqualTheirBigEndianBytes) {
  const uint8_t kBytes[] = {0xc6, 0x12, 0x00, 0x01, 0x00, 0x11};
  Checksum words;
  words.Add32(0xc6120001);
  words.Add16(0x0011);
  EXPECT_EQ(words.Finish(), InternetChecksum(kBytes));
}

TEST(WireChecksum, PseudoHeaderThenOddPayloadSplitAnywhere) {
  const Ipv4Addr src = Ipv4Addr::FromOctets(198, 18, 0, 1);
  const Ipv4Addr dst = Ipv4Addr::FromOctets(198, 18, 0, 2);
  Bytes payload = Noise(23, 5);
  Bytes flat = test::Concat(test::PseudoHeader(src, dst, 17, 23), payload);
  const uint16_t expected = NaiveChecksum(flat);
  for (size_t i = 0; i <= payload.size(); ++i) {
    Checksum c;
    AddPseudoHeader(c, src, dst, 17, 23);
    c.Add(std::span(payload).first(i));
    c.Add(std::span(payload).subspan(i));
    EXPECT_EQ(c.Finish(), expected) << "split at " << i;
  }
}

TEST(WireChecksum, StoredChecksumVerifiesAndAnyBitFlipBreaksIt) {
  Bytes data = Noise(40, 9);
  data[6] = data[7] = 0;
  Store16(&data[6], InternetChecksum(data));
  EXPECT_EQ(InternetChecksum(data), 0);
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = data;
      bad[i] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_NE(InternetChecksum(bad), 0) << "byte " << i << " bit " << bit;
    }
  }
}

}  // namespace
}  // namespace tapsock::wire
