// Tests for ICMPv4 (stack/network/icmpv4.cc, RFC 792 and RFC 1122 3.2.2): echo replies mirror the
// request exactly and go back to the requester's MAC; broadcast echo and corrupt messages get
// nothing; a UDP datagram to a closed port gets a port unreachable quoting it (never for a
// broadcast); errors are rate-limited by a token bucket; and an incoming error about a datagram a
// connected UdpEndpoint sent becomes that socket's one-shot error (unconnected sockets ignore it).
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/stack_fixture.h"

namespace tapsock::test {
namespace {

using wire::Icmpv4Repr;

const Bytes kEchoBody = ToBytes("abcdefghijklmnopqrstuvwabcdefghi");
constexpr uint32_t kIdSeq = 0x00010007;  // identifier 1, sequence 7

class Icmpv4Test : public StackFixture {
 protected:
  const IcmpStats& st() { return stack_.stats().icmp; }

  // The echo reply the stack must send for a request with `body` from the peer.
  void ExpectEchoReply(const SentFrame& f, std::span<const uint8_t> body, uint8_t tos = 0) {
    EXPECT_EQ(f.eth.dst, kPeerMac);
    EXPECT_EQ(f.eth.src, kOurMac);
    ASSERT_TRUE(f.ip);
    EXPECT_EQ(f.ip->src, kOurIp);
    EXPECT_EQ(f.ip->dst, kPeerIp);
    EXPECT_EQ(f.ip->tos, tos);
    EXPECT_EQ(f.ip->ttl, kDefaultTtl);
    ASSERT_TRUE(f.IsIcmp(Icmpv4Repr::kEchoReply, 0)) << "an echo reply with a valid checksum";
    EXPECT_EQ(f.icmp->rest, kIdSeq) << "identifier and sequence unchanged";
    EXPECT_EQ(f.payload, Bytes(body.begin(), body.end()));
    EXPECT_EQ(NaiveChecksum(std::span(f.ip_packet).subspan(f.ip->ihl_bytes)), 0);
  }

  // A connected endpoint 198.18.0.2:4000 -> 198.18.0.1:7 that has sent one datagram; returns the
  // IP packet it sent (what an ICMP error would quote).
  Bytes ConnectAndSend(UdpEndpoint& ep) {
    EXPECT_TRUE(ep.BindLocked(V4(kOurIp, 4000)).ok());
    EXPECT_TRUE(ep.ConnectLocked(V4(kPeerIp, 7)).ok());
    EXPECT_TRUE(Send(ep, ToBytes("knock knock")).ok());
    auto sent = TakeSent();
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? Bytes{} : sent[0].ip_packet;
  }

  // The peer reports `type`/`code` about `quoted` (an IP packet we sent), quoting 28 bytes.
  void InjectError(uint8_t type, uint8_t code, std::span<const uint8_t> quoted) {
    Inject(FrameIcmp(type, code, 0, quoted.first(std::min<size_t>(quoted.size(), 28))));
  }
};

TEST_F(Icmpv4Test, EchoRequestGetsAnIdenticalReply) {
  LearnPeer();
  Inject(FrameIcmp(Icmpv4Repr::kEchoRequest, 0, kIdSeq, kEchoBody));
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEchoReply(sent[0], kEchoBody);
  EXPECT_EQ(st().in_msgs, 1u);
  EXPECT_EQ(st().in_echos, 1u);
  EXPECT_EQ(st().out_echo_reps, 1u);
  EXPECT_EQ(st().out_msgs, 1u);
}

TEST_F(Icmpv4Test, EchoReplyWaitsForArpWhenTheRequesterIsUnknown) {
  Inject(FrameIcmp(Icmpv4Repr::kEchoRequest, 0, kIdSeq, kEchoBody));
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].IsArp(wire::ArpRepr::kRequest));
  EXPECT_EQ(sent[0].arp->target_ip, kPeerIp);
  Inject(FrameArpReplyFromPeer());
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEchoReply(sent[0], kEchoBody);
}

TEST_F(Icmpv4Test, EchoPayloadsOfAnySizeAndTheTosComeBack) {
  LearnPeer();
  for (size_t n : {0u, 1u, 3u, 57u, 1472u}) {  // 1472: a full 1500-byte frame
    SCOPED_TRACE(n);
    Ipv4Spec ip;
    ip.tos = 0x10;
    Bytes body = Pattern(n, 0x41);
    Inject(FrameIcmp(Icmpv4Repr::kEchoRequest, 0, kIdSeq, body, ip));
    auto sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    ExpectEchoReply(sent[0], body, 0x10);
  }
}

TEST_F(Icmpv4Test, EchoToABroadcastAddressIsIgnored) {
  LearnPeer();
  for (Ipv4Addr dst : {kSubnetBroadcast, Ipv4Addr::Broadcast()}) {
    Ipv4Spec ip;
    ip.dst = dst;
    Inject(FrameIcmp(Icmpv4Repr::kEchoRequest, 0, kIdSeq, kEchoBody, ip, MacAddr::Broadcast()));
  }
  EXPECT_EQ(SentCount(), 0u) << "icmp_echo_ignore_broadcasts, as Linux defaults to";
  EXPECT_EQ(st().in_echos, 2u);
  EXPECT_EQ(st().out_msgs, 0u);
}

TEST_F(Icmpv4Test, CorruptOrTruncatedMessagesAreCountedAndIgnored) {
  LearnPeer();
  Bytes bad = FrameIcmp(Icmpv4Repr::kEchoRequest, 0, kIdSeq, kEchoBody);
  bad.back() ^= 0x01;  // payload changed after the checksum was computed
  Inject(bad);
  Ipv4Spec ip;
  ip.protocol = static_cast<uint8_t>(wire::IpProto::kIcmp);
  Inject(FrameIpv4(ip, Bytes{0x08, 0x00, 0xf7, 0xff}));  // 4 bytes: shorter than the header
  EXPECT_EQ(st().in_errors, 2u);
  EXPECT_EQ(st().in_echos, 0u);
  EXPECT_EQ(SentCount(), 0u);
}

TEST_F(Icmpv4Test, IncomingEchoReplyIsCountedOnly) {
  LearnPeer();
  Inject(FrameIcmp(Icmpv4Repr::kEchoReply, 0, kIdSeq, kEchoBody));
  EXPECT_EQ(st().in_echo_reps, 1u);
  EXPECT_EQ(SentCount(), 0u);
}

TEST_F(Icmpv4Test, UdpToAClosedPortGetsPortUnreachableQuotingIt) {
  LearnPeer();
  Bytes frame = FrameUdp(40000, 9999, ToBytes("anyone there?"));
  Inject(frame);
  EXPECT_EQ(stack_.stats().udp.no_ports, 1u);
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  const SentFrame& f = sent[0];
  EXPECT_EQ(f.eth.dst, kPeerMac);
  EXPECT_EQ(f.ip->src, kOurIp);
  EXPECT_EQ(f.ip->dst, kPeerIp);
  EXPECT_EQ(f.ip->ttl, kDefaultTtl);
  ASSERT_TRUE(f.IsIcmp(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach));
  EXPECT_EQ(f.icmp->rest, 0u) << "the unused word is zero";
  EXPECT_EQ(f.payload, Bytes(frame.begin() + 14, frame.end()))
      << "the original IP header and the datagram, byte for byte";
  EXPECT_EQ(st().out_dest_unreachs, 1u);
}

TEST_F(Icmpv4Test, QuoteOfALargeDatagramStopsAt576BytesInAll) {
  LearnPeer();
  Bytes frame = FrameUdp(40000, 9999, Pattern(1000));
  Inject(frame);
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].IsIcmp(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach));
  EXPECT_EQ(sent[0].ip->total_len, 576) << "RFC 1812 4.3.2.3";
  EXPECT_EQ(sent[0].payload, Bytes(frame.begin() + 14, frame.begin() + 14 + 548));
}

TEST_F(Icmpv4Test, NoPortUnreachableForABroadcastDatagram) {
  LearnPeer();
  for (Ipv4Addr dst : {kSubnetBroadcast, Ipv4Addr::Broadcast()}) {
    Ipv4Spec ip;
    ip.dst = dst;
    Inject(FrameUdp(40000, 9999, ToBytes("x"), ip, MacAddr::Broadcast()));
  }
  EXPECT_EQ(stack_.stats().udp.no_ports, 2u);
  EXPECT_EQ(SentCount(), 0u);
  EXPECT_EQ(st().out_rate_limited, 0u) << "suppressed before the rate limiter";
}

TEST_F(Icmpv4Test, ErrorsAreRateLimitedByATokenBucket) {
  LearnPeer();
  for (int i = 0; i < 200; ++i)
    Inject(FrameUdp(40000, static_cast<uint16_t>(9000 + i), Pattern(4)));
  EXPECT_EQ(SentCount(), static_cast<size_t>(Icmpv4Protocol::kBurst));
  EXPECT_EQ(st().out_rate_limited, 200u - Icmpv4Protocol::kBurst);
  link_.sent().clear();

  // kPerSecond tokens a second: 10 ms buys 10 more errors.
  stack_.SetNowLocked(stack_.now() + 10 * kMillisecond);
  for (int i = 0; i < 20; ++i) Inject(FrameUdp(40000, 9000, Pattern(4)));
  EXPECT_EQ(SentCount(), 10u);
  link_.sent().clear();

  // A long pause refills only up to the burst.
  stack_.SetNowLocked(stack_.now() + 60 * kSecond);
  for (int i = 0; i < 200; ++i) Inject(FrameUdp(40000, 9000, Pattern(4)));
  EXPECT_EQ(SentCount(), static_cast<size_t>(Icmpv4Protocol::kBurst));
}

TEST_F(Icmpv4Test, PortUnreachableMakesTheConnectedSocketsNextRecvFail) {
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  Bytes ours = ConnectAndSend(ep);
  InjectError(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, ours);
  EXPECT_EQ(st().in_dest_unreachs, 1u);
  EXPECT_TRUE(ep.ReadinessLocked() & kError);
  EXPECT_EQ(Recv(ep).error(), Error::kConnectionRefused);
  EXPECT_FALSE(ep.ReadinessLocked() & kError);
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
}

TEST_F(Icmpv4Test, PortUnreachableMakesTheConnectedSocketsNextSendFail) {
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  Bytes ours = ConnectAndSend(ep);
  InjectError(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, ours);
  EXPECT_EQ(Send(ep, ToBytes("again")).error(), Error::kConnectionRefused);
  EXPECT_EQ(SentCount(), 0u) << "the failing send sends nothing";
  auto ok = Send(ep, ToBytes("again"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), 5u);
  EXPECT_EQ(SentCount(), 1u);
}

TEST_F(Icmpv4Test, UnconnectedSocketIgnoresErrors) {
  LearnPeer();
  UdpEndpoint& ep = BoundUdp(kOurIp, 4000);
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("knock knock")).ok());
  Bytes ours = TakeSent().at(0).ip_packet;
  InjectError(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, ours);
  EXPECT_EQ(st().in_dest_unreachs, 1u);
  EXPECT_FALSE(ep.ReadinessLocked() & kError);
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
  EXPECT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("again")).ok());
}

struct ErrorMapping {
  uint8_t type, code;
  Error expected;  // kWouldBlock: not reported (a soft error, RFC 1122 3.2.2.1)
};

TEST_F(Icmpv4Test, HardErrorsBecomeTheConnectedSocketsError) {
  const ErrorMapping kCases[] = {
      {Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, Error::kConnectionRefused},
      {Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kFragNeeded, Error::kMessageTooLong},
  };
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  Bytes ours = ConnectAndSend(ep);
  for (const auto& c : kCases) {
    SCOPED_TRACE(testing::Message() << "type " << int{c.type} << " code " << int{c.code});
    InjectError(c.type, c.code, ours);
    EXPECT_EQ(Recv(ep).error(), c.expected);
  }
}

TEST_F(Icmpv4Test, SoftErrorsAreNotReportedAndProtoUnreachIsNoProtoOpt) {
  const ErrorMapping kCases[] = {
      {Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kNetUnreach, Error::kWouldBlock},
      {Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kHostUnreach, Error::kWouldBlock},
      {Icmpv4Repr::kTimeExceeded, 0, Error::kWouldBlock},
      {Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kProtoUnreach, Error::kProtocolOption},
  };
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  Bytes ours = ConnectAndSend(ep);
  for (const auto& c : kCases) {
    SCOPED_TRACE(testing::Message() << "type " << int{c.type} << " code " << int{c.code});
    InjectError(c.type, c.code, ours);
    EXPECT_EQ(Recv(ep).error(), c.expected);
  }
}

TEST_F(Icmpv4Test, ConnectedSocketToAClosedLoopbackPortIsRefused) {
  UdpEndpoint& ep = NewUdp();
  ASSERT_TRUE(ep.ConnectLocked(V4(Ipv4Addr::Loopback(), 9)).ok());
  ASSERT_TRUE(Send(ep, ToBytes("discard?")).ok());
  EXPECT_EQ(Recv(ep).error(), Error::kConnectionRefused);
  EXPECT_EQ(SentCount(), 0u) << "nothing of this reaches the TAP";
}

TEST_F(Icmpv4Test, LoopbackErrorsAreNotRateLimited) {
  std::vector<UdpEndpoint*> eps;
  for (uint16_t i = 0; i < 2 * Icmpv4Protocol::kBurst; ++i) {
    UdpEndpoint& ep = NewUdp();
    ASSERT_TRUE(ep.ConnectLocked(V4(Ipv4Addr::Loopback(), static_cast<uint16_t>(20000 + i))).ok());
    ASSERT_TRUE(Send(ep, ToBytes("x")).ok());
    eps.push_back(&ep);
  }
  for (UdpEndpoint* ep : eps) EXPECT_EQ(Recv(*ep).error(), Error::kConnectionRefused);
}

TEST_F(Icmpv4Test, NoErrorAboutALinkLayerBroadcastOrMulticastFrame) {
  LearnPeer();
  Inject(FrameUdp(40000, 9999, ToBytes("x"), {}, MacAddr::Broadcast()));
  Inject(FrameUdp(40000, 9999, ToBytes("x"), {}, MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}));
  Ipv4Spec ip;
  ip.protocol = 253;
  Inject(FrameIpv4(ip, Pattern(8), MacAddr::Broadcast()));
  EXPECT_EQ(SentCount(), 0u);
}

TEST_F(Icmpv4Test, ErrorsAboutOtherFlowsOrWithShortQuotesAreIgnored) {
  LearnPeer();
  UdpEndpoint& ep = NewUdp();
  Bytes ours = ConnectAndSend(ep);
  Bytes other_port = ours;
  wire::Store16(&other_port[20 + 2], 8);  // quoted destination port 8, not 7
  Bytes other_peer = ours;
  other_peer[19] = 3;  // quoted destination 198.18.0.3
  InjectError(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, other_port);
  InjectError(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, other_peer);
  for (size_t n : {0u, 19u, 20u, 27u}) {  // no room for the quoted ports
    Inject(FrameIcmp(Icmpv4Repr::kDestUnreachable, Icmpv4Repr::kPortUnreach, 0,
                     std::span(ours).first(n)));
  }
  EXPECT_EQ(st().in_dest_unreachs, 6u);
  EXPECT_FALSE(ep.ReadinessLocked() & kError);
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
  EXPECT_EQ(SentCount(), 0u) << "never an ICMP error about an ICMP error";
}

}  // namespace
}  // namespace tapsock::test
