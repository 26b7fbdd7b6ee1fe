// Tests for Ethernet II framing and MAC address predicates (stack/wire/ethernet.h, address.h):
// the first parse every frame from the TAP meets, and the header every frame we send carries.
// Golden bytes are the header of a real ARP broadcast and of a unicast IPv4 frame.
#include "stack/wire/ethernet.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/frame_builder.h"

namespace tapsock::wire {
namespace {

using test::Bytes;

// A broadcast ARP frame header: dst ff:ff:ff:ff:ff:ff, src 02:00:00:00:00:01, type ARP.
const Bytes kArpBroadcastHeader = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // destination: broadcast
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // source: locally administered unicast
    0x08, 0x06,                          // EtherType: ARP
};

// A unicast IPv4 frame header: 02:00:00:00:00:01 -> 02:00:00:00:00:02, then the first IP bytes.
const Bytes kIpv4Frame = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  // destination
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // source
    0x08, 0x00,                          // EtherType: IPv4
    0x45, 0x00, 0x00, 0x14,              // payload (not looked at by the Ethernet layer)
};

TEST(WireEthernet, ParsesGoldenBroadcastHeader) {
  auto eth = EthernetRepr::Parse(kArpBroadcastHeader);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->dst, MacAddr::Broadcast());
  EXPECT_EQ(eth->src, (MacAddr{{0x02, 0, 0, 0, 0, 0x01}}));
  EXPECT_EQ(eth->ethertype, static_cast<uint16_t>(EtherType::kArp));
}

TEST(WireEthernet, ParsesGoldenUnicastFrameAndIgnoresPayload) {
  auto eth = EthernetRepr::Parse(kIpv4Frame);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->dst, test::kOurMac);
  EXPECT_EQ(eth->src, test::kPeerMac);
  EXPECT_EQ(eth->ethertype, 0x0800);
}

TEST(WireEthernet, EmitReproducesGoldenBytes) {
  Bytes out(EthernetRepr::kHeaderLen, 0xaa);
  EthernetRepr{MacAddr::Broadcast(), test::kPeerMac, 0x0806}.Emit(out.data());
  EXPECT_EQ(out, kArpBroadcastHeader);
  EthernetRepr{test::kOurMac, test::kPeerMac, 0x0800}.Emit(out.data());
  EXPECT_EQ(out, Bytes(kIpv4Frame.begin(), kIpv4Frame.begin() + 14));
}

TEST(WireEthernet, EveryTruncationIsRejected) {
  for (size_t n = 0; n < EthernetRepr::kHeaderLen; ++n)
    EXPECT_FALSE(EthernetRepr::Parse(std::span(kArpBroadcastHeader).first(n))) << "length " << n;
  EXPECT_TRUE(EthernetRepr::Parse(kArpBroadcastHeader)) << "a bare header (empty payload) parses";
}

TEST(WireEthernet, EtherTypesRoundTrip) {
  for (uint16_t type : {0x0800, 0x0806, 0x86dd, 0x8100, 0x88cc, 0x0000, 0xffff}) {
    Bytes out(EthernetRepr::kHeaderLen);
    EthernetRepr{test::kOurMac, test::kPeerMac, type}.Emit(out.data());
    EXPECT_EQ(out[12], type >> 8);
    EXPECT_EQ(out[13], type & 0xff);
    auto eth = EthernetRepr::Parse(out);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->ethertype, type);
  }
}

struct MacCase {
  MacAddr mac;
  bool broadcast, multicast, zero;
  const char* text;
};

TEST(WireEthernet, MacAddressPredicates) {
  const MacCase kCases[] = {
      {MacAddr::Broadcast(), true, true, false, "ff:ff:ff:ff:ff:ff"},
      {MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}}, false, true, false, "01:00:5e:00:00:fb"},
      {MacAddr{{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}}, false, true, false, "33:33:00:00:00:01"},
      {MacAddr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}}, false, false, false, "02:00:00:00:00:01"},
      {MacAddr{}, false, false, true, "00:00:00:00:00:00"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(c.mac.IsBroadcast(), c.broadcast) << c.text;
    EXPECT_EQ(c.mac.IsMulticast(), c.multicast) << c.text;
    EXPECT_EQ(c.mac.IsZero(), c.zero) << c.text;
    EXPECT_EQ(c.mac.ToString(), c.text);
  }
}

}  // namespace
}  // namespace tapsock::wire
