// Tests for the link entry point and IPv4 receive path (stack/stack.cc DeliverFrameLocked,
// stack/network/ipv4.cc, RFC 791 and RFC 1122 3.2.1): every rule that drops a frame is one row of
// a table (a crafted frame, the counter that must move), checked for "dropped, counted, nothing
// sent, nothing delivered"; then what must get through (link padding, options, broadcasts), the
// ICMP protocol-unreachable answer, and the unpredictability of the IP ID we send.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "tests/unit/stack_fixture.h"

namespace tapsock::test {
namespace {

constexpr uint16_t kPort = 5000;

class Ipv4Test : public StackFixture {
 protected:
  Ipv4Test() : listener_(BoundUdp(Ipv4Addr::Any(), kPort)) {}
  const IpStats& st() { return stack_.stats().ip; }

  UdpEndpoint& listener_;
};

// A valid UDP datagram to the listener, with raw bytes to edit (the IP header is at byte 14).
Bytes GoodFrame(Ipv4Spec ip = {}) {
  return FrameUdp(40000, kPort, ToBytes("data"), ip);
}

Bytes EditIp(std::function<void(Bytes& frame)> edit, bool fix_checksum) {
  Bytes f = GoodFrame();
  edit(f);
  if (fix_checksum) FixIpv4Checksum(std::span(f).subspan(14));
  return f;
}

Bytes FromSource(Ipv4Addr src) {
  Ipv4Spec ip;
  ip.src = src;
  return GoodFrame(ip);
}
Bytes ToDestination(Ipv4Addr dst) {
  Ipv4Spec ip;
  ip.dst = dst;
  return GoodFrame(ip);
}
Bytes Fragment(bool more, uint16_t offset) {
  Ipv4Spec ip;
  ip.more_fragments = more;
  ip.frag_offset = offset;
  return GoodFrame(ip);
}

uint64_t ErrorCount(const IpStats& s) {
  return s.in_hdr_errors + s.in_addr_errors + s.in_unknown_protos + s.in_discards +
         s.in_checksum_errors + s.in_truncated + s.frag_dropped;
}

struct DropCase {
  const char* name;
  std::function<Bytes()> frame;
  uint64_t IpStats::*counter;  // Linux's MIB counter for the drop (ip_rcv_core, ip_rcv_finish)
};

const DropCase kDropCases[] = {
    {"header truncated to 19 bytes",
     [] { return EditIp([](Bytes& f) { f.resize(14 + 19); }, false); }, &IpStats::in_hdr_errors},
    {"version 6 in an IPv4 EtherType", [] { return EditIp([](Bytes& f) { f[14] = 0x65; }, true); },
     &IpStats::in_hdr_errors},
    {"IHL 4", [] { return EditIp([](Bytes& f) { f[14] = 0x44; }, true); }, &IpStats::in_hdr_errors},
    {"IHL 0", [] { return EditIp([](Bytes& f) { f[14] = 0x40; }, false); },
     &IpStats::in_hdr_errors},
    {"IHL 15 beyond the frame", [] { return EditIp([](Bytes& f) { f[14] = 0x4f; }, false); },
     &IpStats::in_hdr_errors},
    {"total length beyond the frame", [] { return EditIp([](Bytes& f) { f[17] += 1; }, true); },
     &IpStats::in_truncated},
    {"total length 0xffff", [] { return EditIp([](Bytes& f) { f[16] = f[17] = 0xff; }, true); },
     &IpStats::in_truncated},
    {"total length 19 below IHL",
     [] { return EditIp([](Bytes& f) { wire::Store16(&f[16], 19); }, true); },
     &IpStats::in_hdr_errors},
    {"bad header checksum", [] { return EditIp([](Bytes& f) { f[24] ^= 0x40; }, false); },
     &IpStats::in_checksum_errors},
    {"source multicast 224.0.0.1", [] { return FromSource(Ipv4Addr::FromOctets(224, 0, 0, 1)); },
     &IpStats::in_addr_errors},
    {"source limited broadcast", [] { return FromSource(Ipv4Addr::Broadcast()); },
     &IpStats::in_addr_errors},
    {"source subnet broadcast 198.18.0.255", [] { return FromSource(kSubnetBroadcast); },
     &IpStats::in_addr_errors},
    {"source loopback on the TAP NIC", [] { return FromSource(Ipv4Addr::Loopback()); },
     &IpStats::in_addr_errors},
    {"source 127.1.2.3 on the TAP NIC",
     [] { return FromSource(Ipv4Addr::FromOctets(127, 1, 2, 3)); }, &IpStats::in_addr_errors},
    {"source is our own address (martian)", [] { return FromSource(kOurIp); },
     &IpStats::in_addr_errors},
    {"source class E 240.0.0.1", [] { return FromSource(Ipv4Addr::FromOctets(240, 0, 0, 1)); },
     &IpStats::in_addr_errors},
    {"source 0.0.0.0 to a unicast address", [] { return FromSource(Ipv4Addr::Any()); },
     &IpStats::in_addr_errors},
    {"source 0.1.2.3 (this network)", [] { return FromSource(Ipv4Addr::FromOctets(0, 1, 2, 3)); },
     &IpStats::in_addr_errors},
    {"destination not ours 198.18.0.77",
     [] { return ToDestination(Ipv4Addr::FromOctets(198, 18, 0, 77)); }, &IpStats::in_addr_errors},
    {"destination loopback on the TAP NIC", [] { return ToDestination(Ipv4Addr::Loopback()); },
     &IpStats::in_addr_errors},
    {"destination on another subnet 198.19.0.2",
     [] { return ToDestination(Ipv4Addr::FromOctets(198, 19, 0, 2)); }, &IpStats::in_addr_errors},
    {"first fragment (MF set)", [] { return Fragment(true, 0); }, &IpStats::frag_dropped},
    {"middle fragment", [] { return Fragment(true, 1480); }, &IpStats::frag_dropped},
    {"last fragment (offset 8)", [] { return Fragment(false, 8); }, &IpStats::frag_dropped},
};

TEST_F(Ipv4Test, ValidFrameIsDelivered) {
  Inject(GoodFrame());
  auto r = Recv(listener_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data, ToBytes("data"));
  EXPECT_EQ(st().in_receives, 1u);
  EXPECT_EQ(st().in_delivers, 1u);
}

TEST_F(Ipv4Test, EachReceiveRuleDropsAndCounts) {
  for (const DropCase& c : kDropCases) {
    SCOPED_TRACE(c.name);
    const IpStats before = st();
    const uint64_t no_ports = stack_.stats().udp.no_ports;
    Inject(c.frame());
    EXPECT_EQ(st().in_receives, before.in_receives + 1);
    EXPECT_EQ(st().in_delivers, before.in_delivers);
    EXPECT_EQ(st().*c.counter, before.*c.counter + 1);
    EXPECT_EQ(ErrorCount(st()), ErrorCount(before) + 1) << "exactly one drop counter moves";
    EXPECT_EQ(SentCount(), 0u) << "no reply, no ICMP error";
    EXPECT_EQ(Recv(listener_).error(), Error::kWouldBlock);
    EXPECT_EQ(stack_.stats().udp.no_ports, no_ports);
  }
}

TEST_F(Ipv4Test, EthernetPaddingBeyondTotalLengthIsIgnored) {
  Bytes frame = FrameUdp(40000, kPort, ToBytes("abcd"));
  ASSERT_EQ(frame.size(), 14u + 20 + 8 + 4);
  frame.resize(60, 0xee);  // a minimum-size frame; non-zero padding would break the UDP checksum
  Inject(frame);
  auto r = Recv(listener_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().result.datagram_len, 4u);
  EXPECT_EQ(r.value().data, ToBytes("abcd"));
}

TEST_F(Ipv4Test, HeaderWithOptionsDeliversThePayloadAfterThem) {
  Ipv4Spec ip;
  ip.options = {0x01, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00};  // NOPs and EOLs: IHL 7
  Inject(GoodFrame(ip));
  auto r = Recv(listener_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data, ToBytes("data"));
}

TEST_F(Ipv4Test, BroadcastDestinationsAreAccepted) {
  const Ipv4Addr kDsts[] = {kSubnetBroadcast, Ipv4Addr::Broadcast()};
  for (Ipv4Addr dst : kDsts) {
    Ipv4Spec ip;
    ip.dst = dst;
    Inject(GoodFrame(ip));  // Ethernet unicast to us is fine too; Linux accepts either
    Inject(FrameUdp(40000, kPort, ToBytes("data"), ip, MacAddr::Broadcast()));
    for (int i = 0; i < 2; ++i) {
      auto r = Recv(listener_);
      ASSERT_TRUE(r.ok()) << dst.ToString();
      EXPECT_EQ(r.value().result.meta.dst, dst);
    }
  }
  EXPECT_EQ(SentCount(), 0u);
}

TEST_F(Ipv4Test, UnspecifiedSourceToLimitedBroadcastIsAccepted) {
  // A host without an address yet (a DHCP client) sends from 0.0.0.0 to 255.255.255.255.
  Ipv4Spec ip;
  ip.src = Ipv4Addr::Any();
  ip.dst = Ipv4Addr::Broadcast();
  Inject(FrameUdp(68, kPort, ToBytes("discover"), ip, MacAddr::Broadcast()));
  auto r = Recv(listener_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().result.meta.src.addr.IsAny());
}

TEST_F(Ipv4Test, UnknownProtocolGetsProtocolUnreachable) {
  LearnPeer();
  Ipv4Spec ip;
  ip.protocol = 253;  // RFC 3692 experimentation
  const Bytes payload = Pattern(12, 0x30);
  Bytes frame = FrameIpv4(ip, payload);
  Inject(frame);
  EXPECT_EQ(st().in_unknown_protos, 1u);
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  const SentFrame& f = sent[0];
  EXPECT_EQ(f.eth.dst, kPeerMac);
  ASSERT_TRUE(f.IsIcmp(wire::Icmpv4Repr::kDestUnreachable, wire::Icmpv4Repr::kProtoUnreach));
  EXPECT_EQ(f.ip->src, kOurIp);
  EXPECT_EQ(f.ip->dst, kPeerIp);
  EXPECT_EQ(f.icmp->rest, 0u);
  EXPECT_EQ(f.payload, Bytes(frame.begin() + 14, frame.end())) << "quotes the whole packet";
  EXPECT_EQ(stack_.stats().icmp.out_dest_unreachs, 1u);
}

TEST_F(Ipv4Test, UnknownProtocolToBroadcastGetsNoError) {
  LearnPeer();
  Ipv4Spec ip;
  ip.protocol = 253;
  ip.dst = kSubnetBroadcast;
  Inject(FrameIpv4(ip, Pattern(12), MacAddr::Broadcast()));
  EXPECT_EQ(st().in_unknown_protos, 1u);
  EXPECT_EQ(SentCount(), 0u) << "RFC 1122 3.2.2: never an ICMP error about a broadcast";
}

TEST_F(Ipv4Test, FrameForAnotherMacIsDroppedAtTheLinkLayer) {
  Inject(FrameUdp(40000, kPort, ToBytes("data"), {}, kOtherMac));
  EXPECT_EQ(stack_.stats().link.not_for_us, 1u);
  EXPECT_EQ(st().in_receives, 0u);
  EXPECT_EQ(Recv(listener_).error(), Error::kWouldBlock);
}

TEST_F(Ipv4Test, LinkLayerDropsRuntsAndUnknownEtherTypes) {
  Bytes good = GoodFrame();
  Inject(Bytes(good.begin(), good.begin() + 13));
  Inject(Bytes{});
  EXPECT_EQ(stack_.stats().link.rx_dropped, 2u);
  for (uint16_t type : {0x88cc, 0x8100, 0x86dd}) {  // LLDP, an 802.1Q tag, IPv6 (not yet)
    Bytes f = good;
    wire::Store16(&f[12], type);
    Inject(f);
  }
  EXPECT_EQ(stack_.stats().link.unknown_ethertype, 3u);
  EXPECT_EQ(stack_.stats().link.rx_frames, 5u);
  EXPECT_EQ(st().in_receives, 0u);
  EXPECT_EQ(SentCount(), 0u);
}

TEST_F(Ipv4Test, OutgoingIpIdsAreNotSequential) {
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  std::set<uint16_t> ids;
  uint16_t prev = 0;
  bool all_plus_one = true;
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("x")).ok());
    auto f = TakeSent().at(0);
    ASSERT_TRUE(f.ip);
    if (i > 0 && f.ip->id != static_cast<uint16_t>(prev + 1)) all_plus_one = false;
    prev = f.ip->id;
    ids.insert(f.ip->id);
  }
  EXPECT_EQ(ids.size(), 32u) << "no repeats in a short run";
  EXPECT_FALSE(all_plus_one);
}

TEST_F(Ipv4Test, FirstIpIdDiffersBetweenStacks) {
  std::set<uint16_t> first_ids;
  for (int i = 0; i < 10; ++i) {
    Stack s;
    MemoryLink link(s.pool(), kOurMac);
    MutexLock lock(s.mu());
    Nic* nic = s.AddNicLocked("tap0", &link);
    s.AddAddressLocked(*nic, {kOurIp, kPrefixLen});
    UdpEndpoint ep(s, false);
    FullAddress to = V4(Ipv4Addr::Broadcast(), 9);
    ep.options().broadcast = true;
    char x = 'x';
    iovec iov{&x, 1};
    SendOptions so;
    so.dst = &to;
    EXPECT_TRUE(ep.SendLocked({&iov, 1}, so).ok());
    ep.CloseLocked();
    s.FlushLocked();
    auto f = ParseSent(link.PopSent());
    ASSERT_TRUE(f.ip);
    first_ids.insert(f.ip->id);
  }
  EXPECT_GT(first_ids.size(), 1u);
}

}  // namespace
}  // namespace tapsock::test
