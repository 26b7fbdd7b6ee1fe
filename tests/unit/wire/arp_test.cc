// Tests for the ARP wire format (stack/wire/arp.h, RFC 826): the 28-byte Ethernet/IPv4 form that
// every neighbour lookup sends and every request from the TAP is parsed with. Golden bytes are a
// real "who-has 198.18.0.2 tell 198.18.0.1" request and its reply, as tcpdump -xx shows them
// (the Ethernet header is in ethernet_test.cc).
#include "stack/wire/arp.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/frame_builder.h"

namespace tapsock::wire {
namespace {

using test::Bytes;
using test::kOurIp;
using test::kOurMac;
using test::kPeerIp;
using test::kPeerMac;

const Bytes kRequest = {
    0x00, 0x01,                          // hardware type: Ethernet
    0x08, 0x00,                          // protocol type: IPv4
    0x06, 0x04,                          // hardware / protocol address lengths
    0x00, 0x01,                          // op: request
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // sender MAC
    0xc6, 0x12, 0x00, 0x01,              // sender IP 198.18.0.1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // target MAC: unknown
    0xc6, 0x12, 0x00, 0x02,              // target IP 198.18.0.2
};

const Bytes kReply = {
    0x00, 0x01,                          // hardware type: Ethernet
    0x08, 0x00,                          // protocol type: IPv4
    0x06, 0x04,                          // hardware / protocol address lengths
    0x00, 0x02,                          // op: reply
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  // sender MAC: the answer
    0xc6, 0x12, 0x00, 0x02,              // sender IP 198.18.0.2
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // target MAC: the asker
    0xc6, 0x12, 0x00, 0x01,              // target IP 198.18.0.1
};

TEST(WireArp, ParsesGoldenRequest) {
  auto arp = ArpRepr::Parse(kRequest);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->op, ArpRepr::kRequest);
  EXPECT_EQ(arp->sender_mac, kPeerMac);
  EXPECT_EQ(arp->sender_ip, kPeerIp);
  EXPECT_EQ(arp->target_mac, MacAddr{});
  EXPECT_EQ(arp->target_ip, kOurIp);
}

TEST(WireArp, ParsesGoldenReply) {
  auto arp = ArpRepr::Parse(kReply);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->op, ArpRepr::kReply);
  EXPECT_EQ(arp->sender_mac, kOurMac);
  EXPECT_EQ(arp->sender_ip, kOurIp);
  EXPECT_EQ(arp->target_mac, kPeerMac);
  EXPECT_EQ(arp->target_ip, kPeerIp);
}

TEST(WireArp, EmitReproducesGoldenBytes) {
  Bytes out(ArpRepr::kLen, 0xaa);
  ArpRepr{ArpRepr::kRequest, kPeerMac, kPeerIp, MacAddr{}, kOurIp}.Emit(out.data());
  EXPECT_EQ(out, kRequest);
  ArpRepr{ArpRepr::kReply, kOurMac, kOurIp, kPeerMac, kPeerIp}.Emit(out.data());
  EXPECT_EQ(out, kReply);
}

TEST(WireArp, EveryTruncationIsRejected) {
  for (size_t n = 0; n < ArpRepr::kLen; ++n)
    EXPECT_FALSE(ArpRepr::Parse(std::span(kRequest).first(n))) << "length " << n;
}

TEST(WireArp, EthernetPaddingAfterTheMessageIsIgnored) {
  Bytes padded = kRequest;
  padded.resize(46, 0);  // a minimum-size Ethernet frame carries 18 bytes of padding
  auto arp = ArpRepr::Parse(padded);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->target_ip, kOurIp);
}

struct BadField {
  const char* name;
  size_t offset;
  Bytes value;
};

TEST(WireArp, RejectsOtherHardwareProtocolsLengthsAndOps) {
  const BadField kCases[] = {
      {"htype IEEE 802", 0, {0x00, 0x06}},
      {"htype 0", 0, {0x00, 0x00}},
      {"ptype IPv6", 2, {0x86, 0xdd}},
      {"ptype 0x0806", 2, {0x08, 0x06}},
      {"hlen 8", 4, {0x08}},
      {"hlen 0", 4, {0x00}},
      {"plen 16", 5, {0x10}},
      {"op 0", 6, {0x00, 0x00}},
      {"op 3 (RARP request)", 6, {0x00, 0x03}},
      {"op 0x0101", 6, {0x01, 0x01}},
  };
  for (const auto& c : kCases) {
    Bytes bad = kRequest;
    std::copy(c.value.begin(), c.value.end(), bad.begin() + c.offset);
    EXPECT_FALSE(ArpRepr::Parse(bad)) << c.name;
  }
}

}  // namespace
}  // namespace tapsock::wire
