// The TCP header parser against hostile input: Parse() is the only thing between an untrusted
// segment and the TCP state machine, so it gets the bug class of AMNESIA:33 and Ripple20: a data
// offset that disagrees with the segment, option lengths of 0, 1 and past the header, known options
// of the wrong size, every truncation and random bytes (each parsed from an exactly sized heap
// buffer, so a sanitizer build catches a one-byte over-read).
#include "stack/wire/tcp.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tests/unit/wire/tcp_golden.h"

namespace tapsock::wire {
namespace {

using namespace tcp_test;  // NOLINT: the goldens, their helpers, Bytes, PE

TEST(WireTcp, HeaderTruncatedAtEveryLengthIsRejected) {
  for (const auto& g : kGoldens) {
    const Bytes& s = *g.bytes;
    for (size_t n = 0; n < g.header_len; ++n) {
      PE why = PE::kNone;
      EXPECT_FALSE(ParseExact(std::span(s).first(n), &why)) << g.name << " length " << n;
      EXPECT_EQ(why, n < 20 ? PE::kTruncated : PE::kDataOffset) << g.name << " length " << n;
    }
    // Where the payload ends is the IP layer's business: a shorter payload still parses.
    for (size_t n = g.header_len; n <= s.size(); ++n) {
      auto tcp = Parse(std::span(s).first(n));
      ASSERT_TRUE(tcp) << g.name << " length " << n;
      EXPECT_EQ(tcp->header_len, g.header_len);
    }
  }
}

TEST(WireTcp, DataOffsetBelowFiveWordsIsRejected) {
  for (uint8_t off = 0; off < 5; ++off) {
    Bytes s = kSyn;
    s[12] = static_cast<uint8_t>(off << 4);
    PE why = PE::kNone;
    EXPECT_FALSE(ParseExact(s, &why)) << "data offset " << int{off};
    EXPECT_EQ(why, PE::kDataOffset);
  }
}

TEST(WireTcp, DataOffsetBeyondTheSegmentIsRejected) {
  struct Case {
    const Bytes* bytes;
    uint8_t offset;
  };
  for (auto [bytes, off] : {Case{&kRst, 6}, Case{&kRst, 15}, Case{&kSyn, 11}, Case{&kSyn, 15}}) {
    Bytes s = *bytes;
    s[12] = static_cast<uint8_t>(off << 4);
    PE why = PE::kNone;
    EXPECT_FALSE(ParseExact(s, &why)) << s.size() << " bytes, data offset " << int{off};
    EXPECT_EQ(why, PE::kDataOffset);
  }
  // The largest offset with exactly enough bytes is fine (all NOPs).
  Bytes s = WithOptions(Bytes(40, 0x01));
  auto tcp = Parse(s);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->header_len, 60);
}

struct OptionCase {
  const char* name;
  Bytes options;  // a multiple of 4 bytes
  bool accepted;
  void (*check)(const TcpOptions&);
};

void NoOptions(const TcpOptions& o) {
  EXPECT_FALSE(o.mss);
  EXPECT_FALSE(o.window_scale);
  EXPECT_FALSE(o.sack_permitted);
  EXPECT_FALSE(o.timestamps);
  EXPECT_EQ(o.sack_count, 0);
}

TEST(WireTcp, MalformedAndUnusualOptions) {
  const OptionCase kCases[] = {
      // Lengths that leave no way to the next option: the segment is rejected.
      {"length 0", {0x02, 0x00, 0x05, 0xb4}, false, nullptr},
      {"length 1", {0x02, 0x01, 0x05, 0xb4}, false, nullptr},
      {"unknown kind, length 0", {0xfe, 0x00, 0x01, 0x01}, false, nullptr},
      {"unknown kind, length 1", {0x01, 0x01, 0xfe, 0x01}, false, nullptr},
      {"length runs past the header", {0x02, 0x08, 0x05, 0xb4}, false, nullptr},
      {"length 255", {0x01, 0x01, 0x1e, 0xff}, false, nullptr},
      {"timestamps cut by the data offset", {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1}, false, nullptr},
      {"kind in the last byte, no room for a length", {0x01, 0x01, 0x01, 0x02}, false, nullptr},
      {"unknown kind in the last byte", {0x01, 0x01, 0x01, 0xfe}, false, nullptr},
      // One byte short, for each known kind: its body would end just past the header.
      {"MSS one byte past the end", {0x01, 0x02, 0x04, 0x05}, false, nullptr},
      {"WS one byte past the end", {0x01, 0x01, 0x03, 0x03}, false, nullptr},
      {"SACK_PERM one byte past the end", {0x01, 0x01, 0x01, 0x04}, false, nullptr},
      {"TS one byte past the end",
       {0x01, 0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0},
       false,
       nullptr},
      {"SACK one byte past the end",
       {0x01, 0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0},
       false,
       nullptr},
      {"bad option after a good one",
       {0x02, 0x04, 0x05, 0xb4, 0x03, 0x00, 0x00, 0x00},
       false,
       nullptr},

      // Known options of the wrong size are ignored; the walk continues (Linux).
      {"MSS with length 3",
       {0x02, 0x03, 0x05, 0x03, 0x03, 0x07, 0x00, 0x00},
       true,
       [](const TcpOptions& o) {
         EXPECT_FALSE(o.mss);
         EXPECT_EQ(o.window_scale, 7) << "the option after it is still read";
       }},
      {"MSS with length 6", {0x02, 0x06, 0x05, 0xb4, 0x00, 0x00, 0x01, 0x00}, true, NoOptions},
      {"WS with length 4", {0x03, 0x04, 0x07, 0x00}, true, NoOptions},
      {"WS with length 2", {0x03, 0x02, 0x01, 0x00}, true, NoOptions},
      {"SACK_PERM with length 3", {0x04, 0x03, 0x00, 0x00}, true, NoOptions},
      {"TS with length 8", {0x08, 0x08, 0, 0, 0, 1, 0, 2}, true, NoOptions},
      {"TS with length 12", {0x08, 0x0c, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, true, NoOptions},
      {"SACK without blocks", {0x01, 0x01, 0x05, 0x02}, true, NoOptions},
      {"SACK with length 6", {0x01, 0x01, 0x05, 0x06, 0, 0, 0, 1}, true, NoOptions},
      {"SACK with length 11 (not 2 + 8n)",
       {0x05, 0x0b, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0},
       true,
       NoOptions},

      // Values.
      {"MSS 0 is kept",
       {0x02, 0x04, 0x00, 0x00},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.mss, 0); }},
      {"WS 14",
       {0x01, 0x03, 0x03, 0x0e},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.window_scale, 14); }},
      {"WS 15 is clamped to 14",
       {0x01, 0x03, 0x03, 0x0f},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.window_scale, 14); }},
      {"WS 255 is clamped to 14",
       {0x01, 0x03, 0x03, 0xff},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.window_scale, 14); }},
      {"WS 0",
       {0x01, 0x03, 0x03, 0x00},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.window_scale, 0); }},
      {"SACK with 1 block",
       {0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2},
       true,
       [](const TcpOptions& o) {
         ASSERT_EQ(o.sack_count, 1);
         EXPECT_EQ(o.sack_blocks[0], std::pair(1u, 2u));
       }},
      {"SACK with 3 blocks",
       {0x01, 0x01, 0x05, 0x1a, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0,
        0,    3,    0,    0,    0, 4, 0, 0, 0, 5, 0, 0, 0, 6},
       true,
       [](const TcpOptions& o) {
         ASSERT_EQ(o.sack_count, 3);
         EXPECT_EQ(o.sack_blocks[0], std::pair(1u, 2u));
         EXPECT_EQ(o.sack_blocks[1], std::pair(3u, 4u));
         EXPECT_EQ(o.sack_blocks[2], std::pair(5u, 6u));
       }},
      {"SACK with 4 blocks",
       {0x01, 0x01, 0x05, 0x22, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0,
        0,    4,    0,    0,    0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8},
       true,
       [](const TcpOptions& o) {
         ASSERT_EQ(o.sack_count, 4);
         EXPECT_EQ(o.sack_blocks[3], std::pair(7u, 8u));
       }},
      {"a malformed SACK keeps the good one before it",
       {0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x01, 0x05, 0x06, 0, 0, 0, 0},
       true,
       [](const TcpOptions& o) {
         ASSERT_EQ(o.sack_count, 1);
         EXPECT_EQ(o.sack_blocks[0], std::pair(1u, 2u));
       }},

      // List structure.
      {"EOL in the middle ends the list",
       {0x01, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x00, 0x00},
       true,
       NoOptions},
      {"garbage after EOL is padding, not options", {0x00, 0x02, 0x00, 0xff}, true, NoOptions},
      {"EOL after an option",
       {0x02, 0x04, 0x05, 0xb4, 0x00, 0xfe, 0x00, 0x00},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.mss, 1460); }},
      {"all NOPs", Bytes(40, 0x01), true, NoOptions},
      {"all EOLs", Bytes(40, 0x00), true, NoOptions},
      {"many NOPs, then MSS in the last word",
       test::Concat(Bytes(36, 0x01), Bytes{0x02, 0x04, 0x05, 0xb4}), true,
       [](const TcpOptions& o) { EXPECT_EQ(o.mss, 1460); }},
      {"unknown options are skipped by their length",
       {0xfe, 0x06, 0xf9, 0x89, 0xaa, 0xbb, 0x1e, 0x02, 0x02, 0x04, 0x05, 0xb4},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.mss, 1460); }},
      {"an unknown option with length 2 has no body",
       {0x63, 0x02, 0x03, 0x03, 0x05, 0x00, 0x00, 0x00},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.window_scale, 5); }},
      {"an option ending exactly at the header end",
       {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 9, 0, 0, 0, 8},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.timestamps, std::pair(9u, 8u)); }},
      {"a repeated option: the last one counts",
       {0x02, 0x04, 0x05, 0xb4, 0x02, 0x04, 0x02, 0x18},
       true,
       [](const TcpOptions& o) { EXPECT_EQ(o.mss, 536); }},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(c.options.size() % 4, 0u);
    ASSERT_LE(c.options.size(), 40u);
    PE why = PE::kNone;
    auto tcp = ParseExact(WithOptions(c.options), &why);
    ASSERT_EQ(tcp.has_value(), c.accepted);
    if (!c.accepted) {
      EXPECT_EQ(why, PE::kOptionLength);
      continue;
    }
    EXPECT_EQ(tcp->header_len, 20 + c.options.size());
    c.check(tcp->options);
  }
}

TEST(WireTcp, OptionsAreReadOnlyUpToTheDataOffset) {
  // A well-formed MSS option sits in the payload; the header says it has no options.
  Bytes s = test::Concat(kRst, Bytes{0x02, 0x04, 0x05, 0xb4});
  auto tcp = Parse(s);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->header_len, 20);
  EXPECT_FALSE(tcp->options.mss);
}

// The invariants a caller may rely on after a successful parse.
void ExpectSane(const std::optional<TcpRepr>& tcp, PE why, size_t size) {
  if (!tcp) {
    EXPECT_NE(why, PE::kNone);
    return;
  }
  EXPECT_EQ(why, PE::kNone);
  EXPECT_GE(tcp->header_len, 20);
  EXPECT_LE(tcp->header_len, size);
  EXPECT_EQ(tcp->header_len % 4, 0);
  EXPECT_LE(tcp->options.sack_count, 4);
  if (tcp->options.window_scale) {
    EXPECT_LE(*tcp->options.window_scale, 14);
  }
}

TEST(WireTcp, EveryTruncationOfRandomOptionBytesIsSafe) {
  // Headers of every data offset whose option area is random, parsed at every length.
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    for (uint8_t off = 5; off <= 15; ++off) {
      Bytes s = kAck;
      s.resize(off * 4u + rng() % 8);
      s[12] = static_cast<uint8_t>(off << 4);
      for (size_t i = 20; i < s.size(); ++i) {
        // Bias toward option kinds and small lengths so the walk goes deep.
        const uint32_t r = rng();
        s[i] = static_cast<uint8_t>(r % 4 == 0 ? r >> 8 : (r >> 8) % 12);
      }
      for (size_t n = 0; n <= s.size(); ++n) {
        PE why = PE::kNone;
        auto tcp = ParseExact(std::span(s).first(n), &why);
        ExpectSane(tcp, why, n);
        if (HasFatalFailure() || HasNonfatalFailure()) return;
      }
    }
  }
}

TEST(WireTcp, EveryFourByteOptionAreaFromInterestingBytesIsSafe) {
  // Kinds, lengths around each known option's size, and extremes: 16^4 option areas, each in a
  // 24-byte header that ends exactly where the heap buffer does.
  const uint8_t kValues[] = {0, 1, 2, 3, 4, 5, 8, 10, 18, 34, 6, 7, 9, 11, 0xfe, 0xff};
  Bytes s = WithOptions(Bytes(4, 0));
  for (uint32_t i = 0; i < 1u << 16; ++i) {
    for (int k = 0; k < 4; ++k) s[20 + k] = kValues[(i >> (4 * k)) & 0xf];
    PE why = PE::kNone;
    auto tcp = ParseExact(s, &why);
    ExpectSane(tcp, why, s.size());
    if (HasNonfatalFailure()) return;
  }
}

TEST(WireTcp, RandomBytesNeverCrashTheParser) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 10000; ++i) {
    Bytes s(rng() % 72);
    for (auto& b : s) b = static_cast<uint8_t>(rng());
    PE why = PE::kNone;
    auto tcp = ParseExact(s, &why);
    ExpectSane(tcp, why, s.size());
    if (HasNonfatalFailure()) return;  // one report is enough
  }
}

TEST(WireTcp, ParseEmitRoundTripOfRandomReprs) {
  std::mt19937 rng(99);
  for (int i = 0; i < 2000; ++i) {
    TcpRepr r;
    r.src_port = static_cast<uint16_t>(rng());
    r.dst_port = static_cast<uint16_t>(rng());
    r.seq = rng();
    r.ack = rng();
    r.flags = static_cast<uint8_t>(rng());
    r.window = static_cast<uint16_t>(rng());
    r.urgent = static_cast<uint16_t>(rng());
    if (rng() % 2) r.options.mss = static_cast<uint16_t>(rng());
    if (rng() % 2) r.options.window_scale = static_cast<uint8_t>(rng() % 15);
    r.options.sack_permitted = rng() % 2;
    if (rng() % 2)
      r.options.timestamps = std::pair(static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()));
    r.options.sack_count = static_cast<uint8_t>(rng() % 5);
    for (auto& b : r.options.sack_blocks)
      b = {static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};

    const Bytes payload = test::Pattern(rng() % 40);
    Bytes seg = EmitWith(r, payload, kPeerIp, kOurIp);
    ASSERT_TRUE(VerifyTcpChecksumV4(seg, kPeerIp, kOurIp));
    auto back = Parse(seg);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->header_len, r.HeaderLength());
    EXPECT_EQ(back->src_port, r.src_port);
    EXPECT_EQ(back->dst_port, r.dst_port);
    EXPECT_EQ(back->seq, r.seq);
    EXPECT_EQ(back->ack, r.ack);
    EXPECT_EQ(back->flags, r.flags);
    EXPECT_EQ(back->window, r.window);
    EXPECT_EQ(back->urgent, r.urgent);
    EXPECT_EQ(back->options.mss, r.options.mss);
    EXPECT_EQ(back->options.window_scale, r.options.window_scale);
    EXPECT_EQ(back->options.sack_permitted, r.options.sack_permitted);
    EXPECT_EQ(back->options.timestamps, r.options.timestamps);
    ASSERT_EQ(back->options.sack_count, r.EmittedSackBlocks());
    for (int k = 0; k < back->options.sack_count; ++k)
      EXPECT_EQ(back->options.sack_blocks[k], r.options.sack_blocks[k]);
    // Emitting what was parsed gives the same bytes again.
    EXPECT_EQ(EmitWith(*back, payload, kPeerIp, kOurIp), seg);
    if (HasFailure()) return;
  }
}

TEST(WireTcp, ChecksumFailsForAnyChangedByteOrWrongPseudoHeader) {
  for (size_t i = 0; i < kData.size(); ++i) {
    Bytes bad = kData;
    bad[i] ^= 0x01;
    EXPECT_FALSE(VerifyTcpChecksumV4(bad, kPeerIp, kOurIp)) << "byte " << i;
  }
  EXPECT_FALSE(VerifyTcpChecksumV4(kData, kPeerIp, Ipv4Addr::FromOctets(198, 18, 0, 3)))
      << "a segment for another address";
  EXPECT_FALSE(VerifyTcpChecksumV4(std::span(kData).first(kData.size() - 1), kPeerIp, kOurIp))
      << "a length that disagrees with the pseudo-header";
}

// The IPv6 pseudo-header (RFC 8200 8.1) as bytes.
Bytes PseudoHeaderV6(const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& dst,
                     uint32_t len) {
  Bytes p(src.begin(), src.end());
  p.insert(p.end(), dst.begin(), dst.end());
  Bytes tail(8, 0);
  Store32(&tail[0], len);
  tail[7] = kTcp;
  p.insert(p.end(), tail.begin(), tail.end());
  return p;
}

TEST(WireTcp, Ipv6ChecksumUsesThe40BytePseudoHeader) {
  const std::array<uint8_t, 16> src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const std::array<uint8_t, 16> dst = {0xfe, 0x80, 0, 0,    0,    0, 0, 0,
                                       0x02, 0x00, 0, 0xff, 0xfe, 0, 0, 0x02};
  Bytes seg = kData;
  seg[16] = seg[17] = 0;
  const uint16_t expected = NaiveChecksum(test::Concat(PseudoHeaderV6(src, dst, 47), seg));
  EXPECT_EQ(TcpChecksumV6(seg, src, dst), expected);
  Store16(&seg[16], expected);
  EXPECT_TRUE(VerifyTcpChecksumV6(seg, src, dst));
  std::array<uint8_t, 16> other = dst;
  other[15] = 0x03;
  EXPECT_FALSE(VerifyTcpChecksumV6(seg, src, other)) << "a segment for another address";
  EXPECT_FALSE(VerifyTcpChecksumV4(seg, kPeerIp, kOurIp)) << "the IPv4 pseudo-header differs";
  seg[40] ^= 0x80;
  EXPECT_FALSE(VerifyTcpChecksumV6(seg, src, dst));
}

}  // namespace
}  // namespace tapsock::wire
