// Tests for the TCP header (stack/wire/tcp.h, RFC 9293 3.1-3.2, RFC 7323, RFC 2018): Parse() is
// the only thing between an untrusted segment and the TCP state machine, so beside golden segments
// it gets the bug class of AMNESIA:33 and Ripple20: a data offset that disagrees with the segment,
// option lengths of 0, 1 and past the header, known options of the wrong size, every truncation
// and random bytes (each parsed from an exactly sized heap buffer, so a sanitizer build catches a
// one-byte over-read). Emit() is pinned to the byte layout Linux sends.
//
// Golden segments, written by hand in Linux's layout between 198.18.0.1:40000 (the peer) and
// 198.18.0.2:5000 (us); each checksum is recomputed in GoldenChecksumsAreRight from the
// pseudo-header with the slow reference sum:
//   kSyn      the peer's SYN: MSS 1460, SACK_PERM, TS, NOP, WS 7 (Linux's SYN option block)
//   kAck      the peer's handshake ACK: NOP NOP TS
//   kData     PSH|ACK carrying "hello, tapsock\n" (odd length, so the checksum pads)
//   kRst      our RST|ACK refusing a SYN to a closed port: no options
//   kSackAck  our ACK with TS and two SACK blocks: NOP NOP TS, NOP NOP SACK
#include "stack/wire/tcp.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "tests/unit/frame_builder.h"

namespace tapsock::wire {
namespace {

using test::Bytes;
using test::kOurIp;
using test::kPeerIp;
using test::NaiveChecksum;
using PE = TcpRepr::ParseError;

constexpr uint8_t kTcp = 6;

const Bytes kSyn = {
    0x9c, 0x40,              // source port 40000
    0x13, 0x88,              // destination port 5000
    0x6b, 0x8b, 0x45, 0x67,  // sequence number (ISN)
    0x00, 0x00, 0x00, 0x00,  // acknowledgment number: none yet
    0xa0,                    // data offset 10 words (40 bytes)
    0x02,                    // flags: SYN
    0xfa, 0xf0,              // window 64240
    0x1d, 0xdd,              // checksum
    0x00, 0x00,              // urgent pointer
    0x02, 0x04, 0x05, 0xb4,  // MSS 1460
    0x04, 0x02,              // SACK permitted
    0x08, 0x0a,              // timestamps:
    0x00, 0x0f, 0x42, 0x40,  //   TSval 1000000
    0x00, 0x00, 0x00, 0x00,  //   TSecr 0
    0x01,                    // NOP
    0x03, 0x03, 0x07,        // window scale 7
};

const Bytes kAck = {
    0x9c, 0x40, 0x13, 0x88,  // ports 40000 -> 5000
    0x6b, 0x8b, 0x45, 0x68,  // sequence number ISN + 1
    0x11, 0x22, 0x33, 0x45,  // acknowledgment: our ISN 0x11223344 + 1
    0x80,                    // data offset 8 words (32 bytes)
    0x10,                    // flags: ACK
    0x01, 0xf6,              // window 502 (<< 7 = 64256)
    0xd0, 0xf2,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01,              // NOP NOP
    0x08, 0x0a,              // timestamps:
    0x00, 0x0f, 0x42, 0x41,  //   TSval 1000001
    0x00, 0x00, 0x30, 0x39,  //   TSecr 12345
};

const Bytes kData = {
    0x9c, 0x40, 0x13, 0x88,  // ports 40000 -> 5000
    0x6b, 0x8b, 0x45, 0x68,  // sequence number
    0x11, 0x22, 0x33, 0x45,  // acknowledgment number
    0x80,                    // data offset 8 words (32 bytes)
    0x18,                    // flags: PSH|ACK
    0x01, 0xf6,              // window 502
    0x2a, 0x1d,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01,              // NOP NOP
    0x08, 0x0a,              // timestamps:
    0x00, 0x0f, 0x42, 0x42,  //   TSval 1000002
    0x00, 0x00, 0x30, 0x39,  //   TSecr 12345
    'h',  'e',  'l',  'l',  'o', ',', ' ', 't', 'a', 'p', 's', 'o', 'c', 'k', '\n',
};

const Bytes kRst = {
    0x13, 0x88, 0x9c, 0x40,  // ports 5000 -> 40000
    0x00, 0x00, 0x00, 0x00,  // sequence number 0 (the SYN carried no ACK: RFC 9293 3.10.7.1)
    0x6b, 0x8b, 0x45, 0x68,  // acknowledgment: the SYN's ISN + 1
    0x50,                    // data offset 5 words (20 bytes)
    0x14,                    // flags: RST|ACK
    0x00, 0x00,              // window 0
    0xc2, 0xec,              // checksum
    0x00, 0x00,              // urgent pointer
};

const Bytes kSackAck = {
    0x13, 0x88, 0x9c, 0x40,  // ports 5000 -> 40000
    0x11, 0x22, 0x33, 0x45,  // sequence number
    0x6b, 0x8b, 0x45, 0x77,  // acknowledgment: after the 15 bytes of kData
    0xd0,                    // data offset 13 words (52 bytes)
    0x10,                    // flags: ACK
    0x01, 0xf6,              // window 502
    0xb6, 0x27,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01,              // NOP NOP
    0x08, 0x0a,              // timestamps:
    0x00, 0x00, 0x30, 0x3e,  //   TSval 12350
    0x00, 0x0f, 0x42, 0x42,  //   TSecr 1000002
    0x01, 0x01,              // NOP NOP
    0x05, 0x12,              // SACK, 2 blocks (2 + 16 bytes)
    0x6b, 0x8b, 0x45, 0x80,  //   left edge 1
    0x6b, 0x8b, 0x45, 0x90,  //   right edge 1
    0x6b, 0x8b, 0x45, 0xa0,  //   left edge 2
    0x6b, 0x8b, 0x45, 0xb0,  //   right edge 2
};

struct Golden {
  const char* name;
  const Bytes* bytes;
  Ipv4Addr src;
  Ipv4Addr dst;
  uint8_t header_len;
};

const Golden kGoldens[] = {
    {"SYN", &kSyn, kPeerIp, kOurIp, 40},
    {"ACK with TS", &kAck, kPeerIp, kOurIp, 32},
    {"PSH|ACK with data", &kData, kPeerIp, kOurIp, 32},
    {"RST|ACK", &kRst, kOurIp, kPeerIp, 20},
    {"ACK with TS and SACK", &kSackAck, kOurIp, kPeerIp, 52},
};

// Parses from a heap copy of exactly `bytes`, so any read past the end is a sanitizer error.
std::optional<TcpRepr> ParseExact(std::span<const uint8_t> bytes, PE* why) {
  auto copy = std::make_unique<uint8_t[]>(bytes.size() + (bytes.empty() ? 1 : 0));
  std::copy(bytes.begin(), bytes.end(), copy.get());
  return TcpRepr::Parse({copy.get(), bytes.size()}, why);
}

std::optional<TcpRepr> Parse(std::span<const uint8_t> bytes) {
  PE why = PE::kNone;
  auto r = ParseExact(bytes, &why);
  EXPECT_EQ(r.has_value(), why == PE::kNone);
  return r;
}

// A 20-byte header (the kAck fields) followed by `options` (a multiple of 4 bytes).
Bytes WithOptions(const Bytes& options) {
  Bytes s(20 + options.size());
  std::copy(kAck.begin(), kAck.begin() + 20, s.begin());
  std::copy(options.begin(), options.end(), s.begin() + 20);
  s[12] = static_cast<uint8_t>((s.size() / 4) << 4);
  return s;
}

// Emits `r` with `payload` after it; the checksum is computed by Emit.
Bytes EmitWith(const TcpRepr& r, std::span<const uint8_t> payload, Ipv4Addr src, Ipv4Addr dst) {
  Bytes out(r.HeaderLength() + payload.size(), 0xee);
  std::copy(payload.begin(), payload.end(), out.begin() + r.HeaderLength());
  r.Emit(out.data(), static_cast<uint32_t>(payload.size()), src, dst);
  return out;
}

// Only the option bytes Emit writes.
Bytes EmittedOptions(const TcpOptions& o) {
  TcpRepr r;
  r.options = o;
  Bytes out(r.HeaderLength(), 0xee);
  r.EmitNoChecksum(out.data());
  EXPECT_EQ(out.size(), 20 + r.OptionsLength());
  EXPECT_EQ(out[12] >> 4, out.size() / 4);
  return Bytes(out.begin() + 20, out.end());
}

TEST(WireTcp, GoldenChecksumsAreRight) {
  for (const auto& g : kGoldens) {
    Bytes zeroed = *g.bytes;
    zeroed[16] = zeroed[17] = 0;
    const Bytes flat = test::Concat(
        test::PseudoHeader(g.src, g.dst, kTcp, static_cast<uint16_t>(zeroed.size())), zeroed);
    EXPECT_EQ(NaiveChecksum(flat), Load16(&(*g.bytes)[16])) << g.name;
    EXPECT_TRUE(VerifyTcpChecksumV4(*g.bytes, g.src, g.dst)) << g.name;
    EXPECT_EQ(TcpChecksumV4(zeroed, g.src, g.dst), Load16(&(*g.bytes)[16])) << g.name;
  }
}

TEST(WireTcp, ParsesLinuxSyn) {
  PE why = PE::kTruncated;
  auto tcp = TcpRepr::Parse(kSyn, &why);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(why, PE::kNone);
  EXPECT_EQ(tcp->src_port, 40000);
  EXPECT_EQ(tcp->dst_port, 5000);
  EXPECT_EQ(tcp->seq, 0x6b8b4567u);
  EXPECT_EQ(tcp->ack, 0u);
  EXPECT_EQ(tcp->flags, TcpRepr::kSyn);
  EXPECT_TRUE(tcp->has(TcpRepr::kSyn));
  EXPECT_FALSE(tcp->has(TcpRepr::kAck));
  EXPECT_EQ(tcp->window, 64240);
  EXPECT_EQ(tcp->urgent, 0);
  EXPECT_EQ(tcp->header_len, 40);
  const TcpOptions& o = tcp->options;
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  ASSERT_TRUE(o.timestamps);
  EXPECT_EQ(o.timestamps->first, 1000000u);
  EXPECT_EQ(o.timestamps->second, 0u);
  EXPECT_EQ(o.window_scale, 7);
  EXPECT_EQ(o.sack_count, 0);
}

TEST(WireTcp, ParsesAckWithTimestamps) {
  auto tcp = Parse(kAck);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->seq, 0x6b8b4568u);
  EXPECT_EQ(tcp->ack, 0x11223345u);
  EXPECT_EQ(tcp->flags, TcpRepr::kAck);
  EXPECT_EQ(tcp->window, 502);
  EXPECT_EQ(tcp->header_len, 32);
  EXPECT_EQ(tcp->options.timestamps, std::pair(1000001u, 12345u));
  EXPECT_FALSE(tcp->options.mss);
  EXPECT_FALSE(tcp->options.window_scale);
  EXPECT_FALSE(tcp->options.sack_permitted);
  EXPECT_EQ(tcp->options.sack_count, 0);
}

TEST(WireTcp, ParsesDataSegmentAndFindsThePayload) {
  auto tcp = Parse(kData);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->flags, TcpRepr::kPsh | TcpRepr::kAck);
  EXPECT_EQ(tcp->header_len, 32);
  auto payload = std::span(kData).subspan(tcp->header_len);
  EXPECT_EQ(Bytes(payload.begin(), payload.end()), test::ToBytes("hello, tapsock\n"));
}

TEST(WireTcp, ParsesRst) {
  auto tcp = Parse(kRst);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->src_port, 5000);
  EXPECT_EQ(tcp->dst_port, 40000);
  EXPECT_EQ(tcp->seq, 0u);
  EXPECT_EQ(tcp->ack, 0x6b8b4568u);
  EXPECT_EQ(tcp->flags, TcpRepr::kRst | TcpRepr::kAck);
  EXPECT_EQ(tcp->window, 0);
  EXPECT_EQ(tcp->header_len, 20);
  EXPECT_FALSE(tcp->options.timestamps);
  EXPECT_FALSE(tcp->options.mss);
}

TEST(WireTcp, ParsesSackBlocks) {
  auto tcp = Parse(kSackAck);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->header_len, 52);
  EXPECT_EQ(tcp->options.timestamps, std::pair(12350u, 1000002u));
  ASSERT_EQ(tcp->options.sack_count, 2);
  EXPECT_EQ(tcp->options.sack_blocks[0], std::pair(0x6b8b4580u, 0x6b8b4590u));
  EXPECT_EQ(tcp->options.sack_blocks[1], std::pair(0x6b8b45a0u, 0x6b8b45b0u));
}

TEST(WireTcp, EveryFlagBitParsesAndReservedBitsAreIgnored) {
  const uint8_t kAll[] = {TcpRepr::kFin, TcpRepr::kSyn, TcpRepr::kRst, TcpRepr::kPsh,
                          TcpRepr::kAck, TcpRepr::kUrg, TcpRepr::kEce, TcpRepr::kCwr};
  uint8_t seen = 0;
  for (uint8_t f : kAll) {
    Bytes s = kRst;
    s[13] = f;
    s[12] = 0x5f;  // the reserved nibble and the old NS bit, all set
    auto tcp = Parse(s);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->flags, f);
    EXPECT_EQ(tcp->header_len, 20);
    seen |= f;
  }
  EXPECT_EQ(seen, 0xff);
}

TEST(WireTcp, EmitReproducesEveryGoldenSegment) {
  for (const auto& g : kGoldens) {
    auto tcp = Parse(*g.bytes);
    ASSERT_TRUE(tcp) << g.name;
    EXPECT_EQ(tcp->header_len, g.header_len) << g.name;
    EXPECT_EQ(tcp->HeaderLength(), g.header_len) << g.name;
    auto payload = std::span(*g.bytes).subspan(tcp->header_len);
    EXPECT_EQ(EmitWith(*tcp, payload, g.src, g.dst), *g.bytes) << g.name;
  }
}

TEST(WireTcp, EmitOfAHandBuiltSynMatchesLinux) {
  TcpRepr r;
  r.src_port = 40000;
  r.dst_port = 5000;
  r.seq = 0x6b8b4567;
  r.flags = TcpRepr::kSyn;
  r.window = 64240;
  r.options.mss = 1460;
  r.options.sack_permitted = true;
  r.options.timestamps = {1000000, 0};
  r.options.window_scale = 7;
  EXPECT_EQ(r.OptionsLength(), 20u);
  EXPECT_EQ(r.HeaderLength(), 40u);
  EXPECT_EQ(EmitWith(r, {}, kPeerIp, kOurIp), kSyn);
}

TEST(WireTcp, EmitChecksumCoversThePayload) {
  TcpRepr r;
  r.src_port = 5000;
  r.dst_port = 40000;
  r.seq = 1;
  r.ack = 2;
  r.flags = TcpRepr::kAck | TcpRepr::kPsh;
  r.window = 1000;
  r.options.timestamps = {7, 8};
  for (size_t n : {0u, 1u, 2u, 3u, 1448u}) {
    const Bytes payload = test::Pattern(n, 0x30);
    Bytes seg = EmitWith(r, payload, kOurIp, kPeerIp);
    EXPECT_TRUE(VerifyTcpChecksumV4(seg, kOurIp, kPeerIp)) << n;
    Bytes zeroed = seg;
    zeroed[16] = zeroed[17] = 0;
    EXPECT_EQ(
        NaiveChecksum(test::Concat(
            test::PseudoHeader(kOurIp, kPeerIp, kTcp, static_cast<uint16_t>(seg.size())), zeroed)),
        Load16(&seg[16]))
        << n;
  }
}

TEST(WireTcp, EmitNoChecksumLeavesTheFieldZero) {
  auto tcp = Parse(kData);
  ASSERT_TRUE(tcp);
  Bytes out = kData;
  out[16] = out[17] = 0xee;
  tcp->EmitNoChecksum(out.data());
  Bytes expected = kData;
  expected[16] = expected[17] = 0;
  EXPECT_EQ(out, expected);
}

struct Layout {
  const char* name;
  TcpOptions options;
  Bytes bytes;
};

TcpOptions Opts(std::optional<uint16_t> mss, bool sack_perm,
                std::optional<std::pair<uint32_t, uint32_t>> ts, std::optional<uint8_t> ws) {
  TcpOptions o;
  o.mss = mss;
  o.sack_permitted = sack_perm;
  o.timestamps = ts;
  o.window_scale = ws;
  return o;
}

TEST(WireTcp, OptionsFollowLinuxLayout) {
  const std::pair<uint32_t, uint32_t> ts{0x01020304, 0x05060708};
  const Layout kCases[] = {
      {"none", {}, {}},
      {"MSS only", Opts(536, false, {}, {}), {0x02, 0x04, 0x02, 0x18}},
      {"MSS 0 is still sent", Opts(0, false, {}, {}), {0x02, 0x04, 0x00, 0x00}},
      {"SYN without timestamps",
       Opts(1460, true, {}, 7),
       {
           0x02, 0x04, 0x05, 0xb4,  // MSS
           0x01, 0x01, 0x04, 0x02,  // NOP NOP SACK_PERM
           0x01, 0x03, 0x03, 0x07,  // NOP WS
       }},
      {"SYN with everything",
       Opts(1460, true, ts, 7),
       {
           0x02, 0x04, 0x05, 0xb4,  // MSS
           0x04, 0x02, 0x08, 0x0a,  // SACK_PERM TS
           0x01, 0x02, 0x03, 0x04,  //   TSval
           0x05, 0x06, 0x07, 0x08,  //   TSecr
           0x01, 0x03, 0x03, 0x07,  // NOP WS
       }},
      {"SYN with TS, no SACK",
       Opts(1460, false, ts, 7),
       {
           0x02, 0x04, 0x05, 0xb4,  // MSS
           0x01, 0x01, 0x08, 0x0a,  // NOP NOP TS
           0x01, 0x02, 0x03, 0x04,  //   TSval
           0x05, 0x06, 0x07, 0x08,  //   TSecr
           0x01, 0x03, 0x03, 0x07,  // NOP WS
       }},
      {"TS only",
       Opts({}, false, ts, {}),
       {
           0x01, 0x01, 0x08, 0x0a,  // NOP NOP TS
           0x01, 0x02, 0x03, 0x04,  //   TSval
           0x05, 0x06, 0x07, 0x08,  //   TSecr
       }},
      {"WS only", Opts({}, false, {}, 14), {0x01, 0x03, 0x03, 0x0e}},
      {"SACK_PERM only", Opts({}, true, {}, {}), {0x01, 0x01, 0x04, 0x02}},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(EmittedOptions(c.options), c.bytes) << c.name;
    // And they parse back to what was asked for.
    auto tcp = Parse(WithOptions(c.bytes));
    ASSERT_TRUE(tcp) << c.name;
    EXPECT_EQ(tcp->options.mss, c.options.mss) << c.name;
    EXPECT_EQ(tcp->options.sack_permitted, c.options.sack_permitted) << c.name;
    EXPECT_EQ(tcp->options.timestamps, c.options.timestamps) << c.name;
    EXPECT_EQ(tcp->options.window_scale, c.options.window_scale) << c.name;
  }
}

TEST(WireTcp, SackBlocksAreLimitedToTheOptionSpace) {
  TcpOptions o;
  o.sack_count = 4;
  for (uint32_t i = 0; i < 4; ++i) o.sack_blocks[i] = {100 * i + 1, 100 * i + 50};
  TcpRepr r;
  r.options = o;
  EXPECT_EQ(r.EmittedSackBlocks(), 4);
  EXPECT_EQ(r.OptionsLength(), 36u);

  r.options.timestamps = {1, 2};  // 12 + 4 + 3 * 8 = 40: the fourth block does not fit
  EXPECT_EQ(r.EmittedSackBlocks(), 3);
  EXPECT_EQ(r.OptionsLength(), 40u);
  Bytes seg = EmitWith(r, {}, kOurIp, kPeerIp);
  ASSERT_EQ(seg.size(), 60u);
  EXPECT_EQ(seg[12], 0xf0);
  auto tcp = Parse(seg);
  ASSERT_TRUE(tcp);
  ASSERT_EQ(tcp->options.sack_count, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tcp->options.sack_blocks[i], o.sack_blocks[i]) << i;

  r.options.sack_count = 200;  // nonsense from a caller is capped, never read past the array
  r.options.timestamps.reset();
  EXPECT_EQ(r.EmittedSackBlocks(), 4);

  r.options.mss = 1460;  // 4 + 12 + 4 + 4 leaves 16: two blocks
  r.options.timestamps = {1, 2};
  r.options.window_scale = 7;
  EXPECT_EQ(r.EmittedSackBlocks(), 2);
  EXPECT_EQ(r.OptionsLength(), 40u);

  r.options.sack_count = 0;
  EXPECT_EQ(r.EmittedSackBlocks(), 0);
  EXPECT_EQ(r.OptionsLength(), 20u);
}

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
