// Tests for the TCP header (stack/wire/tcp.h, RFC 9293 3.1-3.2, RFC 7323, RFC 2018): golden
// segments parsed and emitted in Linux's layout (tcp_golden.h); the hostile inputs are in
// tcp_hostile_test.cc.
#include "stack/wire/tcp.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tests/unit/wire/tcp_golden.h"

namespace tapsock::wire {
namespace {

using namespace tcp_test;  // NOLINT: the goldens, their helpers, Bytes, PE

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

}  // namespace
}  // namespace tapsock::wire
