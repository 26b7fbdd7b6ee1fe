// Tests for the UDP datapath (stack/transport/udp_endpoint.cc send/receive and
// udp_protocol.cc receive, RFC 768 and RFC 1122 4.1): what a datagram looks like on the wire,
// size limits (65507 bytes over loopback, the TAP MTU while fragmentation is missing), broadcast
// permission, routing (on-link, default gateway, no route), the bounded receive queue, peek,
// truncating reads, zero-length datagrams and checksum handling on receive. Binding and demux
// are in udp_bind_test.cc.
#include <gtest/gtest.h>

#include "tests/unit/stack_fixture.h"

namespace tapsock::test {
namespace {

constexpr uint16_t kPort = 5000;
constexpr Ipv4Addr kGateway = kPeerIp;
constexpr Ipv4Addr kFarHost = Ipv4Addr::FromOctets(198, 19, 0, 5);

class UdpTest : public StackFixture {
 protected:
  const UdpStats& st() { return stack_.stats().udp; }
};

TEST_F(UdpTest, SentDatagramOnTheWire) {
  LearnPeer();
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  auto n = SendTo(ep, kPeerIp, 7, ToBytes("hello, tapsock\n"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 15u);
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  const SentFrame& f = sent[0];
  EXPECT_EQ(f.eth.dst, kPeerMac);
  EXPECT_EQ(f.eth.src, kOurMac);
  EXPECT_EQ(f.eth.ethertype, 0x0800);
  ASSERT_TRUE(f.ip);
  EXPECT_EQ(f.ip->ihl_bytes, 20);
  EXPECT_EQ(f.ip->total_len, 20 + 8 + 15);
  EXPECT_EQ(f.ip->ttl, kDefaultTtl);
  EXPECT_EQ(f.ip->tos, 0);
  EXPECT_FALSE(f.ip->is_fragment());
  EXPECT_EQ(f.ip->protocol, 17);
  EXPECT_EQ(f.ip->src, kOurIp);
  EXPECT_EQ(f.ip->dst, kPeerIp);
  ASSERT_TRUE(f.udp);
  EXPECT_EQ(f.udp->src_port, kPort);
  EXPECT_EQ(f.udp->dst_port, 7);
  EXPECT_EQ(f.udp->length, 23);
  EXPECT_TRUE(f.udp_checksum_ok);
  EXPECT_NE(f.udp->checksum, 0) << "we always send a checksum";
  EXPECT_EQ(f.payload, ToBytes("hello, tapsock\n"));
  EXPECT_EQ(f.raw.size(), 14u + 43) << "no padding added by the stack";
  EXPECT_EQ(st().out_datagrams, 1u);
}

TEST_F(UdpTest, TtlAndTosOptionsReachTheHeader) {
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  ep.options().ttl = 7;
  ep.options().tos = 0xb8;  // EF
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("x")).ok());
  auto f = TakeSent().at(0);
  EXPECT_EQ(f.ip->ttl, 7);
  EXPECT_EQ(f.ip->tos, 0xb8);
}

TEST_F(UdpTest, ComputedZeroChecksumIsSentAsAllOnes) {
  LearnPeer();
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  // Find the payload word that makes the sum 0xffff, as in the wire test.
  Bytes payload(2, 0);
  Bytes probe = Udp(kOurIp, kPeerIp, kPort, 7, payload);
  wire::Store16(payload.data(), wire::Load16(&probe[6]));
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, payload).ok());
  auto f = TakeSent().at(0);
  EXPECT_EQ(f.udp->checksum, 0xffff);
  EXPECT_TRUE(f.udp_checksum_ok);
}

TEST_F(UdpTest, GatherAndScatter) {
  UdpEndpoint& rx = BoundUdp(Ipv4Addr::Loopback(), kPort);
  UdpEndpoint& tx = NewUdp();
  char a[] = "scat", b[] = "ter", c[] = "-gather";
  iovec out[] = {{a, 4}, {b, 3}, {c, 7}};
  FullAddress to = V4(Ipv4Addr::Loopback(), kPort);
  SendOptions so;
  so.dst = &to;
  auto n = tx.SendLocked(out, so);
  stack_.FlushLocked();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 14u);
  char x[5] = {}, y[20] = {};
  iovec in[] = {{x, 5}, {y, 20}};
  auto r = rx.RecvLocked(in, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().copied, 14u);
  EXPECT_EQ(std::string(x, 5), "scatt");
  EXPECT_EQ(std::string(y), "er-gather");
  EXPECT_EQ(r.value().meta.src.port, tx.LocalAddressLocked().port);
  EXPECT_EQ(r.value().meta.ifindex, Stack::kLoopbackIndex);
}

TEST_F(UdpTest, ShortReadTruncatesAndDiscardsTheRest) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  Inject(FrameUdp(7000, kPort, ToBytes("0123456789")));
  char buf[4];
  iovec iov{buf, sizeof buf};
  auto r = ep.RecvLocked({&iov, 1}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().copied, 4u);
  EXPECT_EQ(r.value().datagram_len, 10u) << "what MSG_TRUNC reports";
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock) << "the rest of a datagram is gone";
}

TEST_F(UdpTest, ReceivedMetadata) {
  UdpEndpoint& ep = BoundUdp(Ipv4Addr::Any(), kPort);
  Ipv4Spec ip;
  ip.ttl = 33;
  ip.tos = 0x28;
  Inject(FrameUdp(7000, kPort, ToBytes("meta"), ip));
  EXPECT_EQ(ep.NextDatagramSizeLocked(), 4u);
  auto r = Recv(ep);
  ASSERT_TRUE(r.ok());
  const DatagramMeta& m = r.value().result.meta;
  EXPECT_EQ(m.src.addr, IpAddr::V4(kPeerIp));
  EXPECT_EQ(m.src.port, 7000);
  EXPECT_EQ(m.dst, kOurIp);
  EXPECT_EQ(m.ifindex, nic_->index());
  EXPECT_EQ(m.ttl, 33);
  EXPECT_EQ(m.tos, 0x28);
  EXPECT_EQ(st().in_datagrams, 1u);
}

TEST_F(UdpTest, ReceiveQueueIsBoundedByRcvbuf) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  // Each datagram from the wire is charged its whole buffer, like Linux's skb truesize.
  const int kTrueSize = static_cast<int>(PacketPool::kSmall + sizeof(PacketBuffer));
  ep.options().rcvbuf = 3 * kTrueSize;
  for (uint8_t i = 0; i < 10; ++i) Inject(FrameUdp(7000, kPort, Pattern(100, i)));
  EXPECT_EQ(st().rcvbuf_errors, 7u);
  EXPECT_EQ(ep.QueuedBytesLocked(), 3u * kTrueSize);
  ASSERT_EQ(RecvData(ep), Pattern(100, 0)) << "the oldest stay, newcomers are dropped";
  Inject(FrameUdp(7000, kPort, Pattern(100, 42)));  // reading made room for one
  EXPECT_EQ(st().rcvbuf_errors, 7u);
  EXPECT_EQ(RecvData(ep), Pattern(100, 1));
  EXPECT_EQ(RecvData(ep), Pattern(100, 2));
  EXPECT_EQ(RecvData(ep), Pattern(100, 42));
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
  EXPECT_EQ(ep.QueuedBytesLocked(), 0u);
}

TEST_F(UdpTest, OneDatagramIsAlwaysAcceptedIntoAnEmptyQueue) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  ep.options().rcvbuf = kMinRcvBuf;
  Inject(FrameUdp(7000, kPort, Pattern(1400)));  // bigger than the budget on its own
  EXPECT_TRUE(Recv(ep).ok());
}

TEST_F(UdpTest, PeekLeavesTheDatagramQueued) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  Inject(FrameUdp(7000, kPort, ToBytes("first")));
  Inject(FrameUdp(7000, kPort, ToBytes("second")));
  EXPECT_TRUE(ep.ReadinessLocked() & kReadable);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(RecvData(ep, /*peek=*/true), ToBytes("first"));
  EXPECT_EQ(RecvData(ep), ToBytes("first"));
  EXPECT_EQ(RecvData(ep), ToBytes("second"));
  EXPECT_FALSE(ep.ReadinessLocked() & kReadable);
}

TEST_F(UdpTest, ZeroLengthDatagrams) {
  UdpEndpoint& ep = BoundUdp(Ipv4Addr::Any(), kPort);
  Inject(FrameUdp(7000, kPort, Bytes{}));  // from the wire: UDP length 8
  UdpEndpoint& tx = NewUdp();
  auto n = SendTo(tx, Ipv4Addr::Loopback(), kPort, Bytes{});  // over loopback
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 0u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(ep.ReadinessLocked() & kReadable) << "an empty datagram is still readable";
    auto r = Recv(ep);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().result.datagram_len, 0u);
  }
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
}

TEST_F(UdpTest, ZeroLengthSendAndRecvWithNullBuffers) {
  UdpEndpoint& rx = BoundUdp(Ipv4Addr::Loopback(), kPort);
  UdpEndpoint& tx = NewUdp();
  FullAddress to = V4(Ipv4Addr::Loopback(), kPort);
  SendOptions so;
  so.dst = &to;
  iovec null_iov{nullptr, 0};
  ASSERT_TRUE(tx.SendLocked({&null_iov, 1}, so).ok());
  stack_.FlushLocked();
  ASSERT_TRUE(SendTo(tx, to, ToBytes("abc")).ok());
  auto empty = rx.RecvLocked({&null_iov, 1}, false);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value().datagram_len, 0u);
  auto truncated = rx.RecvLocked({&null_iov, 1}, false);  // recv(fd, NULL, 0, MSG_TRUNC)
  ASSERT_TRUE(truncated.ok());
  EXPECT_EQ(truncated.value().copied, 0u);
  EXPECT_EQ(truncated.value().datagram_len, 3u);
}

TEST_F(UdpTest, LargestDatagramOverLoopback) {
  UdpEndpoint& rx = BoundUdp(Ipv4Addr::Loopback(), kPort);
  UdpEndpoint& tx = NewUdp();
  Bytes big = Pattern(65507, 3);
  auto n = SendTo(tx, Ipv4Addr::Loopback(), kPort, big);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 65507u);
  auto r = Recv(rx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data, big);
  EXPECT_EQ(SendTo(tx, Ipv4Addr::Loopback(), kPort, Pattern(65508)).error(),
            Error::kMessageTooLong);
  EXPECT_EQ(Recv(rx).error(), Error::kWouldBlock);
}

TEST_F(UdpTest, DatagramBeyondTheTapMtuIsTooLong) {
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  EXPECT_TRUE(SendTo(ep, kPeerIp, 7, Pattern(1472)).ok()) << "exactly a 1500-byte packet";
  EXPECT_EQ(TakeSent().at(0).ip->total_len, 1500);
  EXPECT_EQ(SendTo(ep, kPeerIp, 7, Pattern(1473)).error(), Error::kMessageTooLong)
      << "no fragmentation yet";
  EXPECT_EQ(SentCount(), 0u);
  EXPECT_EQ(stack_.stats().ip.out_discards, 1u);
  EXPECT_EQ(st().out_datagrams, 1u);
}

TEST_F(UdpTest, BroadcastNeedsSoBroadcast) {
  UdpEndpoint& ep = NewUdp();
  for (Ipv4Addr dst : {Ipv4Addr::Broadcast(), kSubnetBroadcast}) {
    SCOPED_TRACE(dst.ToString());
    EXPECT_EQ(SendTo(ep, dst, 9, ToBytes("x")).error(), Error::kBroadcastNotPermitted);
    EXPECT_EQ(NewUdp().ConnectLocked(V4(dst, 9)).error(), Error::kBroadcastNotPermitted);
  }
  EXPECT_EQ(SentCount(), 0u);
  ep.options().broadcast = true;
  for (Ipv4Addr dst : {Ipv4Addr::Broadcast(), kSubnetBroadcast}) {
    SCOPED_TRACE(dst.ToString());
    ASSERT_TRUE(SendTo(ep, dst, 9, ToBytes("x")).ok());
    auto sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u) << "no ARP for a broadcast";
    EXPECT_EQ(sent[0].eth.dst, MacAddr::Broadcast());
    ASSERT_TRUE(sent[0].IsUdp());
    EXPECT_EQ(sent[0].ip->dst, dst);
    EXPECT_EQ(sent[0].ip->src, kOurIp);
  }
}

TEST_F(UdpTest, BadChecksumFromTheWireIsDropped) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  Bytes frame = FrameUdp(7000, kPort, ToBytes("corrupt"));
  frame.back() ^= 0x20;
  Inject(frame);
  EXPECT_EQ(st().in_csum_errors, 1u);
  EXPECT_EQ(st().in_errors, 1u);
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
  EXPECT_EQ(SentCount(), 0u) << "no port unreachable for a corrupt datagram";
}

TEST_F(UdpTest, ZeroChecksumFromTheWireIsAccepted) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  Bytes frame = FrameUdp(7000, kPort, ToBytes("no checksum"));
  frame[14 + 20 + 6] = frame[14 + 20 + 7] = 0;
  Inject(frame);
  EXPECT_EQ(RecvData(ep), ToBytes("no checksum"));
}

TEST_F(UdpTest, UdpLengthFieldRules) {
  UdpEndpoint& ep = BoundUdp(kOurIp, kPort);
  // Shorter than the IP payload: the datagram is what UDP says, the rest is ignored.
  Bytes dgram = Concat(Udp(kPeerIp, kOurIp, 7000, kPort, ToBytes("kept")), ToBytes("junk"));
  Inject(FrameIpv4({}, dgram));
  EXPECT_EQ(RecvData(ep), ToBytes("kept"));
  // Longer than the IP payload, or shorter than its own header: dropped.
  for (uint16_t len : {uint16_t{17}, uint16_t{7}, uint16_t{0}}) {
    Bytes bad = Udp(kPeerIp, kOurIp, 7000, kPort, ToBytes("data"));
    wire::Store16(&bad[4], len);
    bad[6] = bad[7] = 0;
    Inject(FrameIpv4({}, bad));
  }
  EXPECT_EQ(st().in_errors, 3u);
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
}

TEST_F(UdpTest, DestinationRules) {
  UdpEndpoint& ep = NewUdp();
  iovec iov{nullptr, 0};
  EXPECT_EQ(ep.SendLocked({&iov, 1}, SendOptions{}).error(), Error::kDestinationRequired);
  EXPECT_EQ(SendTo(ep, kPeerIp, 0, ToBytes("x")).error(), Error::kInvalidArgument) << "port 0";
  EXPECT_FALSE(ep.bound()) << "a failed send does not bind";
}

TEST_F(UdpTest, NoRouteIsNetworkUnreachable) {
  UdpEndpoint& ep = NewUdp();
  EXPECT_EQ(SendTo(ep, kFarHost, 7, ToBytes("x")).error(), Error::kNetworkUnreachable)
      << "198.19.0.5 is off-link and there is no gateway";
  EXPECT_EQ(stack_.stats().ip.out_no_routes, 1u);
  EXPECT_EQ(SentCount(), 0u);

  Stack bare;  // loopback only
  MutexLock lock(bare.mu());
  UdpEndpoint lone(bare, false);
  FullAddress to = V4(kPeerIp, 7);
  SendOptions so;
  so.dst = &to;
  char x = 'x';
  iovec iov{&x, 1};
  Error send_error = lone.SendLocked({&iov, 1}, so).error();
  Error connect_error = lone.ConnectLocked(to).error();
  lone.CloseLocked();
  EXPECT_EQ(send_error, Error::kNetworkUnreachable);
  EXPECT_EQ(connect_error, Error::kNetworkUnreachable);
}

TEST_F(UdpTest, DefaultGatewayCarriesOffLinkTraffic) {
  EXPECT_FALSE(stack_.AddDefaultGatewayLocked(Ipv4Addr::FromOctets(198, 19, 0, 1)))
      << "a gateway must be on-link";
  ASSERT_TRUE(stack_.AddDefaultGatewayLocked(kGateway));
  UdpEndpoint& ep = NewUdp();
  ASSERT_TRUE(SendTo(ep, kFarHost, 7, ToBytes("far")).ok());
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].IsArp(wire::ArpRepr::kRequest));
  EXPECT_EQ(sent[0].arp->target_ip, kGateway) << "we resolve the next hop, not the host";
  Inject(FrameArpReplyFromPeer());
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].eth.dst, kPeerMac);
  ASSERT_TRUE(sent[0].IsUdp());
  EXPECT_EQ(sent[0].ip->dst, kFarHost) << "the IP destination stays the far host";
  EXPECT_EQ(sent[0].ip->src, kOurIp);
  EXPECT_TRUE(sent[0].udp_checksum_ok);
}

TEST_F(UdpTest, OnLinkRouteWinsOverTheDefaultGateway) {
  LearnPeer();
  ASSERT_TRUE(stack_.AddDefaultGatewayLocked(kGateway));
  UdpEndpoint& ep = NewUdp();
  const Ipv4Addr kNeighbour = Ipv4Addr::FromOctets(198, 18, 0, 9);
  ASSERT_TRUE(SendTo(ep, kNeighbour, 7, ToBytes("near")).ok());
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].IsArp(wire::ArpRepr::kRequest));
  EXPECT_EQ(sent[0].arp->target_ip, kNeighbour) << "longest prefix: the /24, not the /0";
}

TEST_F(UdpTest, MulticastIsSentToItsEthernetGroupNotToTheGateway) {
  ASSERT_TRUE(stack_.AddDefaultGatewayLocked(kGateway));
  UdpEndpoint& ep = NewUdp();
  ASSERT_TRUE(SendTo(ep, Ipv4Addr::FromOctets(224, 0, 0, 251), 5353, ToBytes("mdns")).ok());
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u) << "no ARP for a multicast group";
  EXPECT_EQ(sent[0].eth.dst, (MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}}));
  ASSERT_TRUE(sent[0].IsUdp());
  EXPECT_EQ(sent[0].ip->dst, Ipv4Addr::FromOctets(224, 0, 0, 251));
  EXPECT_EQ(sent[0].ip->ttl, 1) << "IP_MULTICAST_TTL defaults to 1";
}

TEST_F(UdpTest, SendToOurOwnTapAddressLoopsBack) {
  UdpEndpoint& rx = BoundUdp(kOurIp, kPort);
  UdpEndpoint& tx = NewUdp();
  ASSERT_TRUE(SendTo(tx, kOurIp, kPort, ToBytes("to myself")).ok());
  EXPECT_EQ(SentCount(), 0u) << "never on the TAP";
  auto r = Recv(rx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data, ToBytes("to myself"));
  EXPECT_EQ(r.value().result.meta.src.addr, IpAddr::V4(kOurIp));
}

TEST_F(UdpTest, LoopbackSourceNeverLeavesTheTap) {
  LearnPeer();
  UdpEndpoint& ep = BoundUdp(Ipv4Addr::Loopback(), kPort);
  EXPECT_EQ(SendTo(ep, kPeerIp, 7, ToBytes("x")).error(), Error::kInvalidArgument);
  EXPECT_EQ(SentCount(), 0u);
  UdpEndpoint& connecting = BoundUdp(Ipv4Addr::Loopback(), kPort + 1);
  EXPECT_EQ(connecting.ConnectLocked(V4(kPeerIp, 7)).error(), Error::kInvalidArgument);
}

TEST_F(UdpTest, LoopbackSourceNeverLeavesTheTapEvenAsABroadcast) {
  UdpEndpoint& ep = BoundUdp(Ipv4Addr::Loopback(), kPort);
  ep.options().broadcast = true;
  (void)SendTo(ep, Ipv4Addr::Broadcast(), 9, ToBytes("x"));
  (void)SendTo(ep, kSubnetBroadcast, 9, ToBytes("x"));
  for (const SentFrame& f : TakeSent()) {
    ASSERT_TRUE(f.ip);
    EXPECT_FALSE(f.ip->src.IsLoopback()) << "a martian to " << f.ip->dst.ToString();
  }
}

TEST_F(UdpTest, ZeroAddressDestinationMeansThisHost) {
  UdpEndpoint& server = BoundUdp(Ipv4Addr::Any(), kPort);
  UdpEndpoint& client = NewUdp();
  ASSERT_TRUE(client.ConnectLocked(V4(Ipv4Addr::Any(), kPort)).ok());
  ASSERT_TRUE(Send(client, ToBytes("ping")).ok());
  EXPECT_EQ(SentCount(), 0u) << "0.0.0.0 is this host, never the wire";
  auto r = Recv(server);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().data, ToBytes("ping"));
  ASSERT_TRUE(SendTo(server, r.value().result.meta.src, ToBytes("pong")).ok());
  EXPECT_EQ(RecvData(client), ToBytes("pong")) << "the reply matches the connected peer";
}

}  // namespace
}  // namespace tapsock::test
