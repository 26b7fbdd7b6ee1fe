// Tests for the IPv4 header (stack/wire/ipv4.h, RFC 791): Parse() is the single validation step
// for every IPv4 packet off the TAP, so each length field that can disagree with the buffer
// (Ripple20's bug class) gets a case: version, IHL, total length against IHL and against the
// frame, and the header checksum. Golden bytes: a textbook UDP header (checksum 0xb861) and the
// header of a real ICMP echo request from 198.18.0.1.
#include "stack/wire/ipv4.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/frame_builder.h"

namespace tapsock::wire {
namespace {

using test::Bytes;
using test::FixIpv4Checksum;
using test::NaiveChecksum;
using PE = Ipv4Repr::ParseError;

// 192.168.0.1 -> 192.168.0.199, UDP, total length 115 (0x73), id 0, DF, TTL 64, checksum 0xb861.
const Bytes kTextbookHeader = {
    0x45,                    // version 4, IHL 5
    0x00,                    // TOS
    0x00, 0x73,              // total length 115
    0x00, 0x00,              // identification
    0x40, 0x00,              // flags: DF, fragment offset 0
    0x40,                    // TTL 64
    0x11,                    // protocol UDP
    0xb8, 0x61,              // header checksum
    0xc0, 0xa8, 0x00, 0x01,  // source 192.168.0.1
    0xc0, 0xa8, 0x00, 0xc7,  // destination 192.168.0.199
};

// The same header followed by its 95-byte payload, so total length matches the buffer.
Bytes TextbookPacket() {
  Bytes p = kTextbookHeader;
  p.resize(115, 0x5a);
  return p;
}

// 198.18.0.1 -> 198.18.0.2, ICMP, total length 60, id 0x1c46, DF, TTL 64, checksum 0x9253.
const Bytes kEchoHeader = {0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01,
                           0x92, 0x53, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02};

std::optional<Ipv4Repr> Parse(std::span<const uint8_t> p, PE* why) {
  return Ipv4Repr::Parse(p, why);
}

TEST(WireIpv4, GoldenChecksumsAreRight) {
  Bytes h = kTextbookHeader;
  h[10] = h[11] = 0;
  EXPECT_EQ(NaiveChecksum(h), 0xb861);
  h = kEchoHeader;
  h[10] = h[11] = 0;
  EXPECT_EQ(NaiveChecksum(h), 0x9253);
}

TEST(WireIpv4, ParsesTextbookHeader) {
  PE why = PE::kChecksum;
  auto ip = Parse(TextbookPacket(), &why);
  ASSERT_TRUE(ip);
  EXPECT_EQ(why, PE::kNone);
  EXPECT_EQ(ip->ihl_bytes, 20);
  EXPECT_EQ(ip->tos, 0);
  EXPECT_EQ(ip->total_len, 115);
  EXPECT_EQ(ip->id, 0);
  EXPECT_TRUE(ip->dont_fragment);
  EXPECT_FALSE(ip->more_fragments);
  EXPECT_EQ(ip->frag_offset, 0);
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->ttl, 64);
  EXPECT_EQ(ip->protocol, static_cast<uint8_t>(IpProto::kUdp));
  EXPECT_EQ(ip->src, Ipv4Addr::FromOctets(192, 168, 0, 1));
  EXPECT_EQ(ip->dst, Ipv4Addr::FromOctets(192, 168, 0, 199));
}

TEST(WireIpv4, ParsesEchoRequestHeader) {
  Bytes p = kEchoHeader;
  p.resize(60, 0x61);
  PE why;
  auto ip = Parse(p, &why);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->id, 0x1c46);
  EXPECT_EQ(ip->protocol, static_cast<uint8_t>(IpProto::kIcmp));
  EXPECT_EQ(ip->src, test::kPeerIp);
  EXPECT_EQ(ip->dst, test::kOurIp);
}

TEST(WireIpv4, EmitReproducesGoldenHeaders) {
  Ipv4Repr r;
  r.total_len = 115;
  r.id = 0;
  r.dont_fragment = true;
  r.ttl = 64;
  r.protocol = static_cast<uint8_t>(IpProto::kUdp);
  r.src = Ipv4Addr::FromOctets(192, 168, 0, 1);
  r.dst = Ipv4Addr::FromOctets(192, 168, 0, 199);
  Bytes out(20, 0xee);
  r.Emit(out.data());
  EXPECT_EQ(out, kTextbookHeader);

  r.total_len = 60;
  r.id = 0x1c46;
  r.protocol = static_cast<uint8_t>(IpProto::kIcmp);
  r.src = test::kPeerIp;
  r.dst = test::kOurIp;
  r.Emit(out.data());
  EXPECT_EQ(out, kEchoHeader);
}

TEST(WireIpv4, FragmentFieldsRoundTrip) {
  Ipv4Repr r;
  r.total_len = 20;
  r.more_fragments = true;
  r.frag_offset = 1480;
  Bytes out(20);
  r.Emit(out.data());
  EXPECT_EQ(out[6], 0x20 | (185 >> 8));  // MF, offset 1480/8 = 185
  EXPECT_EQ(out[7], 185 & 0xff);
  PE why;
  auto ip = Parse(out, &why);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->more_fragments);
  EXPECT_FALSE(ip->dont_fragment);
  EXPECT_EQ(ip->frag_offset, 1480);
  EXPECT_TRUE(ip->is_fragment());

  r.more_fragments = false;  // the last fragment: offset only
  r.Emit(out.data());
  ip = Parse(out, &why);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->is_fragment());

  r.frag_offset = 0;  // a whole datagram
  r.dont_fragment = true;
  r.Emit(out.data());
  ip = Parse(out, &why);
  ASSERT_TRUE(ip);
  EXPECT_FALSE(ip->is_fragment());
}

TEST(WireIpv4, EveryTruncationIsRejected) {
  const Bytes packet = TextbookPacket();
  for (size_t n = 0; n < packet.size(); ++n) {
    PE why = PE::kNone;
    EXPECT_FALSE(Parse(std::span(packet).first(n), &why)) << "length " << n;
    EXPECT_EQ(why, n < 20 ? PE::kTruncated : PE::kTotalLength) << "length " << n;
  }
}

TEST(WireIpv4, LinkPaddingBeyondTotalLengthIsAccepted) {
  Bytes p = TextbookPacket();
  p.resize(p.size() + 18, 0);
  PE why;
  auto ip = Parse(p, &why);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->total_len, 115);
}

struct Malformed {
  const char* name;
  void (*mutate)(Bytes&);
  bool fix_checksum;
  PE expected;
};

TEST(WireIpv4, MalformedHeadersAreRejectedWithTheirReason) {
  const Malformed kCases[] = {
      {"version 6", [](Bytes& p) { p[0] = 0x65; }, true, PE::kVersion},
      {"version 0", [](Bytes& p) { p[0] = 0x05; }, true, PE::kVersion},
      {"version 15", [](Bytes& p) { p[0] = 0xf5; }, true, PE::kVersion},
      {"IHL 0", [](Bytes& p) { p[0] = 0x40; }, false, PE::kHeaderLength},
      {"IHL 1", [](Bytes& p) { p[0] = 0x41; }, false, PE::kHeaderLength},
      {"IHL 4", [](Bytes& p) { p[0] = 0x44; }, false, PE::kHeaderLength},
      {"IHL 15 beyond a 40-byte buffer",
       [](Bytes& p) {
         p[0] = 0x4f;
         p.resize(40);
       },
       false, PE::kHeaderLength},
      {"total length 0", [](Bytes& p) { p[2] = p[3] = 0; }, true, PE::kHeaderLength},
      {"total length 19 < IHL 20",
       [](Bytes& p) {
         p[2] = 0;
         p[3] = 19;
       },
       true, PE::kHeaderLength},
      {"total length 23 < IHL 24 (options)",
       [](Bytes& p) {
         p[0] = 0x46;
         p[2] = 0;
         p[3] = 23;
       },
       true, PE::kHeaderLength},
      {"total length 116 > buffer 115", [](Bytes& p) { p[3] = 116; }, true, PE::kTotalLength},
      {"total length 65535 > buffer", [](Bytes& p) { p[2] = p[3] = 0xff; }, true, PE::kTotalLength},
      {"bad checksum", [](Bytes& p) { p[11] ^= 1; }, false, PE::kChecksum},
      {"TTL changed, checksum not updated", [](Bytes& p) { p[8] = 63; }, false, PE::kChecksum},
      {"source changed, checksum not updated", [](Bytes& p) { p[15] = 2; }, false, PE::kChecksum},
  };
  for (const auto& c : kCases) {
    Bytes p = TextbookPacket();
    c.mutate(p);
    if (c.fix_checksum) FixIpv4Checksum(p);
    PE why = PE::kNone;
    EXPECT_FALSE(Parse(p, &why)) << c.name;
    EXPECT_EQ(why, c.expected) << c.name;
  }
}

TEST(WireIpv4, ChecksumCoversOptions) {
  test::Ipv4Spec spec;
  spec.options = {0x01, 0x01, 0x01, 0x00};  // NOP NOP NOP EOL
  Bytes p = test::Ipv4(spec, test::Pattern(8));
  ASSERT_EQ(p[0], 0x46);
  PE why;
  auto ip = Parse(p, &why);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->ihl_bytes, 24);
  EXPECT_EQ(ip->total_len, 32);
  p[21] = 0x07;  // an option byte changes; the checksum no longer matches
  EXPECT_FALSE(Parse(p, &why));
  EXPECT_EQ(why, PE::kChecksum);
}

TEST(WireIpv4, PseudoHeaderSumMatchesItsBytes) {
  const Ipv4Addr src = Ipv4Addr::FromOctets(198, 18, 0, 1);
  const Ipv4Addr dst = Ipv4Addr::FromOctets(198, 19, 255, 254);
  Checksum c;
  AddPseudoHeader(c, src, dst, static_cast<uint8_t>(IpProto::kUdp), 0x1234);
  EXPECT_EQ(c.Finish(), NaiveChecksum(test::PseudoHeader(src, dst, 17, 0x1234)));
}

}  // namespace
}  // namespace tapsock::wire
