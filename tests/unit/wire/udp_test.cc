// Tests for the UDP header (stack/wire/udp.h, RFC 768): Parse() checks the length field against
// the IP payload, EmitV4() writes the checksum over the IPv4 pseudo-header (a computed zero goes
// out as 0xffff), and VerifyUdpChecksumV4() accepts a zero checksum as "none" (IPv4 only).
// Golden bytes: a real datagram "hello, tapsock\n" (odd length) from 198.18.0.1:40000 to
// 198.18.0.2:7 whose checksum, 0x3093, is recomputed here from the pseudo-header by hand.
#include "stack/wire/udp.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/frame_builder.h"

namespace tapsock::wire {
namespace {

using test::Bytes;
using test::kOurIp;
using test::kPeerIp;
using test::NaiveChecksum;

const Bytes kDatagram = {
    0x9c, 0x40,  // source port 40000
    0x00, 0x07,  // destination port 7 (echo)
    0x00, 0x17,  // length 23: header 8 + payload 15
    0x30, 0x93,  // checksum
    'h',  'e',  'l', 'l', 'o', ',', ' ', 't', 'a', 'p', 's', 'o', 'c', 'k', '\n',
};

Bytes Payload() {
  return Bytes(kDatagram.begin() + 8, kDatagram.end());
}

TEST(WireUdp, GoldenChecksumIsRightOverThePseudoHeader) {
  Bytes zeroed = kDatagram;
  zeroed[6] = zeroed[7] = 0;
  Bytes flat = test::Concat(test::PseudoHeader(kPeerIp, kOurIp, 17, 23), zeroed);
  EXPECT_EQ(NaiveChecksum(flat), 0x3093);
}

TEST(WireUdp, ParsesGoldenDatagram) {
  auto udp = UdpRepr::Parse(kDatagram);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->src_port, 40000);
  EXPECT_EQ(udp->dst_port, 7);
  EXPECT_EQ(udp->length, 23);
  EXPECT_EQ(udp->checksum, 0x3093);
  EXPECT_TRUE(VerifyUdpChecksumV4(kDatagram, kPeerIp, kOurIp));
}

TEST(WireUdp, EmitReproducesGoldenDatagram) {
  Bytes out(kDatagram.size(), 0xee);
  auto payload = Payload();
  std::copy(payload.begin(), payload.end(), out.begin() + 8);
  UdpRepr{40000, 7, 23, 0}.EmitV4(out.data(), kPeerIp, kOurIp);
  EXPECT_EQ(out, kDatagram);
}

TEST(WireUdp, EveryTruncationIsRejected) {
  for (size_t n = 0; n < kDatagram.size(); ++n)
    EXPECT_FALSE(UdpRepr::Parse(std::span(kDatagram).first(n))) << "length " << n;
}

TEST(WireUdp, LengthFieldBelowHeaderSizeIsRejected) {
  for (uint8_t len = 0; len < 8; ++len) {
    Bytes bad = kDatagram;
    bad[4] = 0;
    bad[5] = len;
    EXPECT_FALSE(UdpRepr::Parse(bad)) << "length field " << int{len};
  }
}

TEST(WireUdp, LengthFieldBeyondTheBufferIsRejected) {
  for (uint16_t len : {24, 0x100, 0xffff}) {
    Bytes bad = kDatagram;
    Store16(&bad[4], len);
    EXPECT_FALSE(UdpRepr::Parse(bad)) << "length field " << len;
  }
}

TEST(WireUdp, LengthFieldShorterThanTheBufferIsAccepted) {
  // Bytes after `length` are not part of the datagram (the transport layer trims them).
  Bytes header_only = kDatagram;
  header_only[5] = 8;
  auto udp = UdpRepr::Parse(header_only);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->length, 8);
}

TEST(WireUdp, ZeroChecksumMeansNoneOverIpv4) {
  Bytes d = kDatagram;
  d[6] = d[7] = 0;
  EXPECT_TRUE(VerifyUdpChecksumV4(d, kPeerIp, kOurIp));
  EXPECT_TRUE(VerifyUdpChecksumV4(d, Ipv4Addr::FromOctets(1, 2, 3, 4), kOurIp))
      << "no checksum: the pseudo-header is not checked either";
}

TEST(WireUdp, ComputedZeroIsSentAsAllOnes) {
  // Choose the last payload word so the sum comes out at 0xffff (checksum 0): with the word
  // zero the checksum is c = ~s, so putting c in the word makes the sum s + ~s = 0xffff.
  Bytes d(8 + 4, 0);
  d[8] = 0x12;
  d[9] = 0x34;
  UdpRepr r{5000, 6000, 12, 0};
  r.EmitV4(d.data(), kPeerIp, kOurIp);
  const uint16_t c = Load16(&d[6]);
  Store16(&d[10], c);
  r.EmitV4(d.data(), kPeerIp, kOurIp);
  EXPECT_EQ(Load16(&d[6]), 0xffff) << "RFC 768: a computed zero is transmitted as all ones";
  Bytes zeroed = d;
  zeroed[6] = zeroed[7] = 0;
  EXPECT_EQ(NaiveChecksum(test::Concat(test::PseudoHeader(kPeerIp, kOurIp, 17, 12), zeroed)), 0);
  EXPECT_TRUE(VerifyUdpChecksumV4(d, kPeerIp, kOurIp));
}

TEST(WireUdp, WrongChecksumOrWrongPseudoHeaderFailsVerification) {
  for (size_t i = 0; i < kDatagram.size(); ++i) {
    if (i == 6 || i == 7) continue;  // see below: the checksum itself
    Bytes bad = kDatagram;
    bad[i] ^= 0x01;
    EXPECT_FALSE(VerifyUdpChecksumV4(bad, kPeerIp, kOurIp)) << "byte " << i;
  }
  Bytes bad = kDatagram;
  bad[7] ^= 0x01;
  EXPECT_FALSE(VerifyUdpChecksumV4(bad, kPeerIp, kOurIp));
  EXPECT_FALSE(VerifyUdpChecksumV4(kDatagram, kPeerIp, Ipv4Addr::FromOctets(198, 18, 0, 3)))
      << "a datagram for another address";
}

}  // namespace
}  // namespace tapsock::wire
