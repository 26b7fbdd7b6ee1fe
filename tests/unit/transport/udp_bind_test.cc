// Tests for UDP binding and demultiplexing (stack/transport/udp_protocol.cc and the bind/connect
// half of udp_endpoint.cc), against Linux's inet_bind, udp_lib_get_port and compute_score: which
// bindings conflict (and what SO_REUSEADDR/SO_REUSEPORT allow), ephemeral ports (RFC 6056: in
// ip_local_port_range and unpredictable), which socket a datagram from the wire reaches (connected
// over specific over wildcard, AF_INET over dual-stack), IPv4 on AF_INET6 sockets, and what
// connect() fixes and disconnect (AF_UNSPEC) releases. The send/receive half is in udp_test.cc.
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/stack_fixture.h"

namespace tapsock::test {
namespace {

constexpr uint16_t kPort = 5000;

FullAddress V6Any(uint16_t port) {
  const uint8_t zeros[16] = {};
  return {IpAddr::V6(zeros), port};
}
FullAddress V4Mapped(Ipv4Addr a, uint16_t port) {
  return {IpAddr::V6(MappedBytes(a).data()), port};
}

class UdpBindTest : public StackFixture {
 protected:
  UdpEndpoint& Reusing() {
    UdpEndpoint& ep = NewUdp();
    ep.options().reuse_addr = true;
    return ep;
  }
  // Injects a datagram from peer_ip:sport to dst:kPort and returns who got it (nullptr: nobody).
  UdpEndpoint* WhoGets(Ipv4Addr peer_ip, uint16_t sport, Ipv4Addr dst = kOurIp) {
    Ipv4Spec ip;
    ip.src = peer_ip;
    ip.dst = dst;
    Inject(FrameUdp(sport, kPort, ToBytes("who"), ip));
    UdpEndpoint* got = nullptr;
    for (auto& ep : endpoints_) {
      if (Recv(*ep).ok()) {
        EXPECT_EQ(got, nullptr) << "a unicast datagram reached two sockets";
        got = ep.get();
      }
    }
    return got;
  }
};

TEST_F(UdpBindTest, SpecificBindingBeatsWildcard) {
  UdpEndpoint& wildcard = Reusing();
  UdpEndpoint& specific = Reusing();
  ASSERT_TRUE(wildcard.BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
  ASSERT_TRUE(specific.BindLocked(V4(kOurIp, kPort)).ok());
  EXPECT_EQ(WhoGets(kPeerIp, 7000), &specific);
  EXPECT_EQ(WhoGets(kPeerIp, 7000, kSubnetBroadcast), &wildcard) << "only the wildcard matches";
}

TEST_F(UdpBindTest, ConnectedSocketBeatsBoundOnesForItsPeerOnly) {
  UdpEndpoint& bound = Reusing();
  UdpEndpoint& connected = Reusing();
  ASSERT_TRUE(bound.BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
  ASSERT_TRUE(connected.BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
  ASSERT_TRUE(connected.ConnectLocked(V4(kPeerIp, 7000)).ok());
  EXPECT_EQ(WhoGets(kPeerIp, 7000), &connected);
  EXPECT_EQ(WhoGets(kPeerIp, 7001), &bound);
  EXPECT_EQ(WhoGets(Ipv4Addr::FromOctets(198, 18, 0, 3), 7000), &bound);
}

TEST_F(UdpBindTest, ConnectedSocketIgnoresOtherPeers) {
  LearnPeer();
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  ASSERT_TRUE(ep.ConnectLocked(V4(kPeerIp, 7000)).ok());
  EXPECT_EQ(WhoGets(kPeerIp, 7001), nullptr);
  EXPECT_EQ(WhoGets(Ipv4Addr::FromOctets(198, 18, 0, 3), 7000), nullptr);
  EXPECT_EQ(stack_.stats().udp.no_ports, 2u);
  EXPECT_EQ(WhoGets(kPeerIp, 7000), &ep);
  auto sent = TakeSent();
  ASSERT_GE(sent.size(), 1u);
  EXPECT_TRUE(sent[0].IsIcmp(wire::Icmpv4Repr::kDestUnreachable, wire::Icmpv4Repr::kPortUnreach))
      << "to the peer nobody listens for, as Linux answers";
}

TEST_F(UdpBindTest, BroadcastReachesEveryMatchingSocket) {
  UdpEndpoint& a = Reusing();
  UdpEndpoint& b = Reusing();
  UdpEndpoint& unicast_only = Reusing();
  ASSERT_TRUE(a.BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
  ASSERT_TRUE(b.BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
  ASSERT_TRUE(unicast_only.BindLocked(V4(kOurIp, kPort)).ok());
  Ipv4Spec ip;
  ip.dst = kSubnetBroadcast;
  Inject(FrameUdp(7000, kPort, ToBytes("all"), ip, MacAddr::Broadcast()));
  for (UdpEndpoint* ep : {&a, &b}) {
    auto r = Recv(*ep);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().data, ToBytes("all"));
    EXPECT_EQ(r.value().result.meta.dst, kSubnetBroadcast);
  }
  EXPECT_EQ(Recv(unicast_only).error(), Error::kWouldBlock);
}

struct BindCase {
  const char* name;
  Ipv4Addr first, second;
  bool reuse_first, reuse_second;
  bool second_ok;
};

TEST_F(UdpBindTest, ConflictRules) {
  const Ipv4Addr kAny = Ipv4Addr::Any();
  const Ipv4Addr kLo = Ipv4Addr::Loopback();
  const BindCase kCases[] = {
      {"same address twice", kOurIp, kOurIp, false, false, false},
      {"wildcard twice", kAny, kAny, false, false, false},
      {"wildcard then specific", kAny, kOurIp, false, false, false},
      {"specific then wildcard", kOurIp, kAny, false, false, false},
      {"different specific addresses", kLo, kOurIp, false, false, true},
      {"both SO_REUSEADDR", kOurIp, kOurIp, true, true, true},
      {"only the first SO_REUSEADDR", kOurIp, kOurIp, true, false, false},
      {"only the second SO_REUSEADDR", kOurIp, kOurIp, false, true, false},
  };
  uint16_t port = kPort;
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    ++port;
    UdpEndpoint& a = NewUdp();
    UdpEndpoint& b = NewUdp();
    a.options().reuse_addr = c.reuse_first;
    b.options().reuse_addr = c.reuse_second;
    ASSERT_TRUE(a.BindLocked(V4(c.first, port)).ok());
    Status s = b.BindLocked(V4(c.second, port));
    EXPECT_EQ(s.ok(), c.second_ok);
    if (!c.second_ok) {
      EXPECT_EQ(s.error(), Error::kAddressInUse);
      EXPECT_FALSE(b.bound()) << "a failed bind leaves the socket unbound";
      EXPECT_TRUE(b.BindLocked(V4(c.second, static_cast<uint16_t>(port + 100))).ok());
    }
  }
}

TEST_F(UdpBindTest, ReusePortOnBothAllowsSharing) {
  UdpEndpoint& a = NewUdp();
  UdpEndpoint& b = NewUdp();
  a.options().reuse_port = b.options().reuse_port = true;
  ASSERT_TRUE(a.BindLocked(V4(kOurIp, kPort)).ok());
  EXPECT_TRUE(b.BindLocked(V4(kOurIp, kPort)).ok());
}

TEST_F(UdpBindTest, ClosingReleasesThePort) {
  UdpEndpoint& a = BoundUdp(kOurIp, kPort);
  a.CloseLocked();
  EXPECT_TRUE(NewUdp().BindLocked(V4(kOurIp, kPort)).ok());
}

TEST_F(UdpBindTest, EphemeralPortsAreInRangeAndDistinct) {
  std::set<uint16_t> ports;
  for (int i = 0; i < 300; ++i) {
    UdpEndpoint& ep = NewUdp();
    ASSERT_TRUE(ep.BindLocked(V4(Ipv4Addr::Any(), 0)).ok());
    uint16_t p = ep.LocalAddressLocked().port;
    EXPECT_GE(p, UdpProtocol::kEphemeralFirst);
    EXPECT_LE(p, UdpProtocol::kEphemeralLast);
    ports.insert(p);
  }
  EXPECT_EQ(ports.size(), 300u);
}

TEST_F(UdpBindTest, FirstEphemeralPortDiffersBetweenStacks) {
  std::set<uint16_t> first_ports;
  for (int i = 0; i < 10; ++i) {
    Stack s;
    MutexLock lock(s.mu());
    UdpEndpoint ep(s, false);
    Status st = ep.BindLocked(V4(Ipv4Addr::Any(), 0));
    first_ports.insert(ep.LocalAddressLocked().port);
    ep.CloseLocked();
    ASSERT_TRUE(st.ok());
  }
  EXPECT_GT(first_ports.size(), 1u) << "RFC 6056: the first port must not be predictable";
}

TEST_F(UdpBindTest, AddressRules) {
  EXPECT_EQ(NewUdp().BindLocked(V4(Ipv4Addr::FromOctets(198, 18, 0, 77), kPort)).error(),
            Error::kAddressNotAvailable);
  EXPECT_EQ(NewUdp().BindLocked(V4(Ipv4Addr::FromOctets(198, 19, 0, 2), kPort)).error(),
            Error::kAddressNotAvailable);
  EXPECT_TRUE(NewUdp().BindLocked(V4(Ipv4Addr::FromOctets(127, 0, 0, 5), kPort)).ok())
      << "all of 127/8 is local";
  EXPECT_TRUE(NewUdp().BindLocked(V4(kSubnetBroadcast, kPort)).ok()) << "Linux allows it";
  EXPECT_TRUE(NewUdp().BindLocked(V4(Ipv4Addr::FromOctets(224, 0, 0, 251), kPort)).ok());
}

TEST_F(UdpBindTest, RebindingIsInvalid) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  EXPECT_EQ(ep.BindLocked(V4(kOurIp, kPort + 1)).error(), Error::kInvalidArgument);
  EXPECT_EQ(ep.LocalAddressLocked().port, kPort);
  UdpEndpoint& autobound = NewUdp();
  ASSERT_TRUE(SendTo(autobound, Ipv4Addr::Loopback(), 9, ToBytes("x")).ok());
  EXPECT_EQ(autobound.BindLocked(V4(kOurIp, kPort + 2)).error(), Error::kInvalidArgument)
      << "sending bound it";
}

TEST_F(UdpBindTest, DualStackWildcardReceivesIpv4AndReportsAnIpv4Source) {
  UdpEndpoint& ep = NewUdp(/*v6=*/true);
  ASSERT_TRUE(ep.BindLocked(V6Any(kPort)).ok());
  Inject(FrameUdp(7000, kPort, ToBytes("v4 to v6")));
  auto r = Recv(ep);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data, ToBytes("v4 to v6"));
  const FullAddress& src = r.value().result.meta.src;
  EXPECT_TRUE(src.addr.is_v4());
  EXPECT_EQ(src.addr.v4(), kPeerIp);
  EXPECT_EQ(src.port, 7000);
}

TEST_F(UdpBindTest, V4MappedBindingReceivesIpv4) {
  UdpEndpoint& ep = NewUdp(/*v6=*/true);
  ASSERT_TRUE(ep.BindLocked(V4Mapped(kOurIp, kPort)).ok());
  Inject(FrameUdp(7000, kPort, ToBytes("mapped")));
  EXPECT_TRUE(Recv(ep).ok());
}

TEST_F(UdpBindTest, V6OnlySocketGetsNoIpv4) {
  UdpEndpoint& ep = NewUdp(/*v6=*/true);
  ep.options().v6_only = true;
  ASSERT_TRUE(ep.BindLocked(V6Any(kPort)).ok());
  Inject(FrameUdp(7000, kPort, ToBytes("v4")));
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
  EXPECT_EQ(stack_.stats().udp.no_ports, 1u);
  UdpEndpoint& mapped = NewUdp(true);
  mapped.options().v6_only = true;
  EXPECT_EQ(mapped.BindLocked(V4Mapped(kOurIp, 0)).error(), Error::kInvalidArgument)
      << "IPV6_V6ONLY forbids a v4-mapped address";
}

TEST_F(UdpBindTest, DualStackAndIpv4WildcardsConflictUnlessV6Only) {
  UdpEndpoint& v4 = BoundUdp(Ipv4Addr::Any(), kPort);
  EXPECT_EQ(NewUdp(true).BindLocked(V6Any(kPort)).error(), Error::kAddressInUse);
  UdpEndpoint& v6only = NewUdp(true);
  v6only.options().v6_only = true;
  EXPECT_TRUE(v6only.BindLocked(V6Any(kPort)).ok());
  EXPECT_EQ(WhoGets(kPeerIp, 7000), &v4);
}

TEST_F(UdpBindTest, Ipv4SocketBeatsDualStackSocketForIpv4) {
  // Both may take the datagram (SO_REUSEADDR); compute_score prefers the AF_INET one.
  UdpEndpoint& dual = NewUdp(true);
  dual.options().reuse_addr = true;
  ASSERT_TRUE(dual.BindLocked(V6Any(kPort)).ok());
  UdpEndpoint& v4 = Reusing();
  ASSERT_TRUE(v4.BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
  EXPECT_EQ(WhoGets(kPeerIp, 7000), &v4);
}

TEST_F(UdpBindTest, ConnectFixesTheLocalAddressAndDisconnectReleasesIt) {
  UdpEndpoint& ep = NewUdp();
  ASSERT_TRUE(ep.ConnectLocked(V4(kPeerIp, 7000)).ok());
  FullAddress local = ep.LocalAddressLocked();
  EXPECT_EQ(local.addr, IpAddr::V4(kOurIp)) << "the route's source";
  EXPECT_GE(local.port, UdpProtocol::kEphemeralFirst);
  auto peer = ep.PeerAddressLocked();
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer.value().addr, IpAddr::V4(kPeerIp));
  EXPECT_EQ(peer.value().port, 7000);

  ASSERT_TRUE(ep.DisconnectLocked().ok());
  EXPECT_EQ(ep.PeerAddressLocked().error(), Error::kNotConnected);
  EXPECT_TRUE(ep.LocalAddressLocked().addr.IsAny());
  EXPECT_EQ(ep.LocalAddressLocked().port, 0) << "the autobound port is released";
  EXPECT_TRUE(NewUdp().BindLocked(V4(kOurIp, local.port)).ok()) << "and free for others";
}

TEST_F(UdpBindTest, DisconnectKeepsWhatBindAskedFor) {
  UdpEndpoint& specific = BoundUdp(kOurIp, kPort);
  ASSERT_TRUE(specific.ConnectLocked(V4(kPeerIp, 7000)).ok());
  ASSERT_TRUE(specific.DisconnectLocked().ok());
  EXPECT_EQ(specific.LocalAddressLocked().addr, IpAddr::V4(kOurIp));
  EXPECT_EQ(specific.LocalAddressLocked().port, kPort);

  UdpEndpoint& wildcard = BoundUdp(Ipv4Addr::Any(), kPort + 1);
  ASSERT_TRUE(wildcard.ConnectLocked(V4(kPeerIp, 7000)).ok());
  EXPECT_EQ(wildcard.LocalAddressLocked().addr, IpAddr::V4(kOurIp));
  ASSERT_TRUE(wildcard.DisconnectLocked().ok());
  EXPECT_TRUE(wildcard.LocalAddressLocked().addr.IsAny()) << "connect's choice is forgotten";
  EXPECT_EQ(wildcard.LocalAddressLocked().port, kPort + 1) << "bind's port is kept";
  Inject(FrameUdp(7001, kPort + 1, ToBytes("anyone")));
  EXPECT_TRUE(Recv(wildcard).ok()) << "and it hears every peer again";
}

TEST_F(UdpBindTest, ConnectOnADualStackSocketFixesAMappedAddress) {
  UdpEndpoint& ep = NewUdp(true);
  ASSERT_TRUE(ep.ConnectLocked(V4Mapped(kPeerIp, 7000)).ok());
  EXPECT_EQ(ep.LocalAddressLocked().addr, IpAddr::V6(MappedBytes(kOurIp).data()));
  UdpEndpoint& v6only = NewUdp(true);
  v6only.options().v6_only = true;
  EXPECT_EQ(v6only.ConnectLocked(V4Mapped(kPeerIp, 7000)).error(), Error::kNetworkUnreachable);
}

}  // namespace
}  // namespace tapsock::test
