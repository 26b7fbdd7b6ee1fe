// Tests for the ICMPv4 header (stack/wire/icmpv4.h, RFC 792): Parse() validates the length and the
// checksum over the whole message (the ICMP layer trusts it for echo and for the quoted datagram of
// errors), Emit() writes header and checksum over a payload already in place. Golden bytes: a real
// Windows-style echo request (id 1, seq 7, 32 bytes "abc...") from 198.18.0.1, and its reply.
#include "stack/wire/icmpv4.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/frame_builder.h"

namespace tapsock::wire {
namespace {

using test::Bytes;
using test::NaiveChecksum;

const Bytes kEchoRequest = {
    0x08,        // type: echo request
    0x00,        // code
    0x4d, 0x54,  // checksum
    0x00, 0x01,  // identifier 1
    0x00, 0x07,  // sequence 7
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
    0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
};

// The reply differs only in type, so its checksum is the request's plus 0x0800 (RFC 1624).
const Bytes kEchoReplyHeader = {0x00, 0x00, 0x55, 0x54, 0x00, 0x01, 0x00, 0x07};

Bytes EchoBody() {
  return Bytes(kEchoRequest.begin() + 8, kEchoRequest.end());
}

TEST(WireIcmpv4, GoldenChecksumsAreRight) {
  Bytes m = kEchoRequest;
  m[2] = m[3] = 0;
  EXPECT_EQ(NaiveChecksum(m), 0x4d54);
  Bytes reply = test::Concat(kEchoReplyHeader, EchoBody());
  reply[2] = reply[3] = 0;
  EXPECT_EQ(NaiveChecksum(reply), 0x5554);
}

TEST(WireIcmpv4, ParsesGoldenEchoRequest) {
  auto icmp = Icmpv4Repr::Parse(kEchoRequest);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type, Icmpv4Repr::kEchoRequest);
  EXPECT_EQ(icmp->code, 0);
  EXPECT_EQ(icmp->rest, 0x00010007u) << "identifier 1 in the high half, sequence 7 in the low";
}

TEST(WireIcmpv4, EmitReproducesGoldenEchoRequestAndReply) {
  Bytes out = kEchoRequest;
  out[0] = out[2] = out[3] = 0xee;  // Emit must overwrite header and checksum
  Icmpv4Repr{Icmpv4Repr::kEchoRequest, 0, 0x00010007}.Emit(out.data(), 32);
  EXPECT_EQ(out, kEchoRequest);

  Icmpv4Repr{Icmpv4Repr::kEchoReply, 0, 0x00010007}.Emit(out.data(), 32);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 8), kEchoReplyHeader);
  EXPECT_EQ(Bytes(out.begin() + 8, out.end()), EchoBody()) << "the payload is left alone";
}

TEST(WireIcmpv4, EveryTruncationIsRejected) {
  // Shorter than the header, or a payload cut short so the checksum no longer covers it.
  for (size_t n = 0; n < kEchoRequest.size(); ++n)
    EXPECT_FALSE(Icmpv4Repr::Parse(std::span(kEchoRequest).first(n))) << "length " << n;
}

TEST(WireIcmpv4, AnyCorruptedByteIsRejected) {
  for (size_t i = 0; i < kEchoRequest.size(); ++i) {
    Bytes bad = kEchoRequest;
    bad[i] ^= 0x10;
    EXPECT_FALSE(Icmpv4Repr::Parse(bad)) << "byte " << i;
  }
}

TEST(WireIcmpv4, EmptyPayloadAndOddPayloadRoundTrip) {
  for (size_t n : {0u, 1u, 7u, 548u}) {
    Bytes m(8 + n);
    auto body = test::Pattern(n, 0x80);
    std::copy(body.begin(), body.end(), m.begin() + 8);
    Icmpv4Repr{Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, 0}.Emit(
        m.data(), static_cast<uint32_t>(n));
    EXPECT_EQ(NaiveChecksum(m), 0) << "payload " << n;
    auto icmp = Icmpv4Repr::Parse(m);
    ASSERT_TRUE(icmp) << "payload " << n;
    EXPECT_EQ(icmp->type, 3);
    EXPECT_EQ(icmp->code, 3);
    EXPECT_EQ(icmp->rest, 0u);
  }
}

TEST(WireIcmpv4, FragNeededCarriesTheMtuInTheLowHalf) {
  // RFC 1191: "next-hop MTU" in the low 16 bits of the second word.
  Bytes m(8);
  Icmpv4Repr{Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kFragNeeded, 1400}.Emit(m.data(), 0);
  EXPECT_EQ(m[6], 1400 >> 8);
  EXPECT_EQ(m[7], 1400 & 0xff);
  auto icmp = Icmpv4Repr::Parse(m);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->rest & 0xffff, 1400u);
}

}  // namespace
}  // namespace tapsock::wire
