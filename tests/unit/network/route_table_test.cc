// Tests for routing (stack/network/route_table.cc, Stack::RouteV4Locked in stack/stack.cc) and
// the per-NIC address helpers in stack/nic.h: longest-prefix match, our own addresses through
// loopback (as Linux's local table does), limited and subnet-directed broadcast, gateways as next
// hops, source address choice, SO_BINDTODEVICE, and the RFC 3021 /31 that has no broadcast.
#include <gtest/gtest.h>

#include "tests/unit/stack_fixture.h"

namespace tapsock::test {
namespace {

using RouteTest = StackFixture;

Ipv4Addr A(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return Ipv4Addr::FromOctets(a, b, c, d);
}

TEST(RouteTable, LongestPrefixWinsAndTiesGoToTheFirst) {
  RouteTable t;
  Nic nic1(11, "a", nullptr, false), nic2(12, "b", nullptr, false), nic3(13, "c", nullptr, false);
  Nic *n1 = &nic1, *n2 = &nic2, *n3 = &nic3;
  t.Add({Ipv4Addr::Any(), 0, A(198, 18, 0, 1), n1});
  t.Add({A(198, 18, 0, 0), 15, Ipv4Addr::Any(), n2});
  t.Add({A(198, 18, 0, 0), 24, Ipv4Addr::Any(), n3});
  t.Add({A(198, 18, 0, 0), 24, Ipv4Addr::Any(), n1});
  EXPECT_EQ(t.Lookup(A(198, 18, 0, 9))->nic, n3);
  EXPECT_EQ(t.Lookup(A(198, 19, 7, 9))->nic, n2);
  EXPECT_EQ(t.Lookup(A(192, 0, 2, 1))->nic, n1);
  RouteTable empty;
  EXPECT_EQ(empty.Lookup(A(198, 18, 0, 9)), nullptr);
}

TEST(NicPrefix, BroadcastAndNetmask) {
  struct Case {
    Ipv4Prefix prefix;
    Ipv4Addr broadcast, netmask;
  };
  const Case kCases[] = {
      {{A(198, 18, 0, 2), 24}, A(198, 18, 0, 255), A(255, 255, 255, 0)},
      {{A(198, 18, 0, 2), 15}, A(198, 19, 255, 255), A(255, 254, 0, 0)},
      {{A(198, 18, 0, 2), 32}, A(198, 18, 0, 2), A(255, 255, 255, 255)},
      {{A(198, 18, 0, 2), 0}, A(255, 255, 255, 255), A(0, 0, 0, 0)},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(c.prefix.SubnetBroadcast(), c.broadcast) << c.prefix.prefix_len;
    EXPECT_EQ(c.prefix.Netmask(), c.netmask) << c.prefix.prefix_len;
  }
}

TEST_F(RouteTest, NicIndexesAndNames) {
  EXPECT_EQ(stack_.loopback().index(), Stack::kLoopbackIndex);
  EXPECT_EQ(stack_.FindNicByName("lo"), &stack_.loopback());
  EXPECT_EQ(stack_.FindNicByName("tap0"), nic_);
  EXPECT_EQ(nic_->index(), 2);
  EXPECT_EQ(stack_.FindNic(2), nic_);
  EXPECT_EQ(stack_.FindNic(3), nullptr);
  EXPECT_EQ(nic_->mac(), kOurMac);
  EXPECT_EQ(nic_->mtu(), 1500u);
}

TEST_F(RouteTest, OurAddressesGoThroughLoopback) {
  for (Ipv4Addr dst : {kOurIp, Ipv4Addr::Loopback(), A(127, 9, 9, 9)}) {
    auto r = stack_.RouteV4Locked(dst, Ipv4Addr::Any(), 0);
    ASSERT_TRUE(r.ok()) << dst.ToString();
    EXPECT_TRUE(r.value().nic->loopback()) << dst.ToString();
    EXPECT_EQ(r.value().next_hop, dst);
  }
  EXPECT_EQ(stack_.RouteV4Locked(kOurIp, Ipv4Addr::Any(), 0).value().src, kOurIp);
  EXPECT_EQ(stack_.RouteV4Locked(A(127, 9, 9, 9), Ipv4Addr::Any(), 0).value().src,
            Ipv4Addr::Loopback());
}

TEST_F(RouteTest, OnLinkGatewayAndBroadcastRoutes) {
  ASSERT_TRUE(stack_.AddDefaultGatewayLocked(kPeerIp));
  struct Case {
    Ipv4Addr dst, next_hop;
    bool broadcast;
  };
  const Case kCases[] = {
      {A(198, 18, 0, 9), A(198, 18, 0, 9), false},
      {A(198, 19, 0, 5), kPeerIp, false},
      {kSubnetBroadcast, kSubnetBroadcast, true},
      {Ipv4Addr::Broadcast(), Ipv4Addr::Broadcast(), true},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.dst.ToString());
    auto r = stack_.RouteV4Locked(c.dst, Ipv4Addr::Any(), 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().nic, nic_);
    EXPECT_EQ(r.value().dst, c.dst);
    EXPECT_EQ(r.value().next_hop, c.next_hop);
    EXPECT_EQ(r.value().src, kOurIp);
    EXPECT_EQ(r.value().broadcast, c.broadcast);
  }
}

TEST_F(RouteTest, SourceFollowsTheSubnetOfTheNextHop) {
  const Ipv4Addr kSecond = A(198, 19, 0, 2);
  stack_.AddAddressLocked(*nic_, {kSecond, 24});
  EXPECT_EQ(stack_.RouteV4Locked(A(198, 19, 0, 7), Ipv4Addr::Any(), 0).value().src, kSecond);
  EXPECT_EQ(stack_.RouteV4Locked(A(198, 18, 0, 7), Ipv4Addr::Any(), 0).value().src, kOurIp);
  EXPECT_EQ(stack_.RouteV4Locked(A(198, 18, 0, 7), kSecond, 0).value().src, kSecond)
      << "a bound source is kept";
}

TEST_F(RouteTest, NoRouteAndWrongDevice) {
  EXPECT_EQ(stack_.RouteV4Locked(A(198, 19, 0, 5), Ipv4Addr::Any(), 0).error(),
            Error::kNetworkUnreachable);
  EXPECT_EQ(stack_.RouteV4Locked(kPeerIp, Ipv4Addr::Any(), Stack::kLoopbackIndex).error(),
            Error::kNetworkUnreachable)
      << "SO_BINDTODEVICE lo cannot reach the TAP's subnet";
  EXPECT_TRUE(stack_.RouteV4Locked(kPeerIp, Ipv4Addr::Any(), nic_->index()).ok());
  EXPECT_FALSE(stack_.AddDefaultGatewayLocked(A(198, 19, 0, 1))) << "not on any subnet";
}

TEST_F(RouteTest, LocalAndBroadcastPredicates) {
  EXPECT_TRUE(stack_.IsLocalAddressLocked(kOurIp));
  EXPECT_TRUE(stack_.IsLocalAddressLocked(A(127, 0, 0, 1)));
  EXPECT_TRUE(stack_.IsLocalAddressLocked(A(127, 200, 0, 1)));
  EXPECT_FALSE(stack_.IsLocalAddressLocked(kPeerIp));
  EXPECT_FALSE(stack_.IsLocalAddressLocked(kSubnetBroadcast));
  EXPECT_TRUE(stack_.IsBroadcastLocked(kSubnetBroadcast));
  EXPECT_TRUE(stack_.IsBroadcastLocked(Ipv4Addr::Broadcast()));
  EXPECT_FALSE(stack_.IsBroadcastLocked(A(127, 255, 255, 255))) << "loopback's /8 is not counted";
  EXPECT_FALSE(stack_.IsBroadcastLocked(A(198, 18, 0, 0)));
}

TEST_F(RouteTest, PointToPointSlash31HasNoBroadcast) {
  // RFC 3021: both addresses of a /31 are hosts.
  stack_.AddAddressLocked(*nic_, {A(198, 19, 0, 0), 31});
  EXPECT_FALSE(nic_->IsBroadcastFor(A(198, 19, 0, 1)));
  auto r = stack_.RouteV4Locked(A(198, 19, 0, 1), Ipv4Addr::Any(), 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().broadcast);
  EXPECT_EQ(r.value().src, A(198, 19, 0, 0));
}

}  // namespace
}  // namespace tapsock::test
