// One TCP connection driven segment by segment from the wire, opened actively (ConnectLocked) or
// passively (a listener); tests assert the exact segments sent, on the manual clock only.
#include <gtest/gtest.h>

#include "tests/unit/transport/tcp_segments_fixture.h"

namespace tapsock::test {
namespace {

using TcpSegmentsTest = TcpSegmentsFixture;

// 1. Active open: the SYN offers MSS, SACK, timestamps and window scaling; the SYN-ACK is ACKed.
TEST_F(TcpSegmentsTest, ActiveOpenSynOptionsAndHandshakeAck) {
  TcpEndpoint* c = ActiveOpen();
  EXPECT_EQ(syn_.flags, TcpRepr::kSyn);
  EXPECT_EQ(syn_.dst_port, kPeerPort80);
  EXPECT_EQ(syn_.ack, 0u);
  EXPECT_GT(syn_.window, 0);
  EXPECT_EQ(syn_.options.mss, 1460);
  EXPECT_TRUE(syn_.options.sack_permitted);
  ASSERT_TRUE(syn_.options.timestamps.has_value());
  EXPECT_EQ(syn_.options.timestamps->second, 0u) << "nothing to echo yet";
  ASSERT_TRUE(syn_.options.window_scale.has_value());
  EXPECT_EQ(*syn_.options.window_scale, 7) << "6 MB autotuning ceiling needs scale 7";
  ExpectPureAck(Out{handshake_ack_, {}}, iss_ + 1, kPeerIsn + 1);
  EXPECT_FALSE(handshake_ack_.options.timestamps.has_value()) << "the peer declined timestamps";
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(c->mss(), kPeerMss);
  EXPECT_EQ(c->InfoLocked().options, 2 | 4) << "SACK and window scaling, no timestamps";
}

// 2. In-order data: each segment is ACKed at once (quick-ack start) and can be read.
TEST_F(TcpSegmentsTest, InOrderDataIsAckedAndReadable) {
  for (bool active : {true, false}) {
    SCOPED_TRACE(active ? "active open" : "passive open");
    TcpEndpoint* c = active ? ActiveOpen() : PassiveOpen();
    ASSERT_NE(c, nullptr);
    Bytes a = Pattern(100, 0), b = Pattern(50, 100);
    PeerData(a);
    ExpectPureAck(OneSent(), iss_ + 1, kPeerIsn + 1 + 100);
    PeerData(b);
    ExpectPureAck(OneSent(), iss_ + 1, kPeerIsn + 1 + 150);
    EXPECT_EQ(c->ReadableBytesLocked(), 150u);
    auto r = Recv();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), Concat(a, b));
    EXPECT_EQ(Recv().error(), Error::kWouldBlock);
      for (TcpEndpoint* ep : held_) ep->CloseLocked();
    held_.clear();
    SentTcp();
  }
}

// The right edge we advertise never moves back, though our window is scaled (units of 128 bytes)
// and data arrives in odd sizes: what is left of an offer is rounded up, not down.
TEST_F(TcpSegmentsTest, AdvertisedRightEdgeNeverRecedesWithAScaledWindow) {
  ActiveOpen();
  uint32_t edge = 0;
  for (uint32_t i = 0; i < 40; ++i) {
    PeerData(Pattern(100 + 7 * i, i));  // unread: the window shrinks as data arrives
    for (const Out& o : SentTcp()) {
      uint32_t right = o.h.ack + (uint32_t{o.h.window} << 7);
      EXPECT_GE(right, edge) << "segment " << i << " pulled the right edge back";
      edge = std::max(edge, right);
    }
  }
  EXPECT_GT(edge, 0u);
}

// Receiver silly-window avoidance: once the buffer is full, reading less than a segment does not
// reopen the window (the sender would send a sliver); reading a segment's worth does.
TEST_F(TcpSegmentsTest, ReadingLessThanASegmentKeepsAFullWindowClosed) {
  setup_ = [](TcpEndpoint& ep) {
    ep.options().rcvbuf = 8192;
    ep.tcp_options().rcvbuf_locked = true;
  };
  ActiveOpen();
  bool closed = false;
  for (uint32_t i = 0; i < 64 && !closed; ++i) {
    PeerData(Pattern(700, i));  // unread: the buffer fills
    for (const Out& o : SentTcp()) closed = closed || o.h.window == 0;
  }
  ASSERT_TRUE(closed) << "the window never closed";
  ASSERT_TRUE(Recv(300).ok());
  SentTcp();
  InjectTcp(Peer(kA));  // anything that makes us answer with our window
  PeerData(Pattern(1, 0));  // a window probe: beyond the window, answered with an ACK
  for (const Out& o : SentTcp()) EXPECT_EQ(o.h.window, 0) << "a window for 300 bytes is a silly one";
  ASSERT_TRUE(Recv(4000).ok());
  auto update = SentTcp();
  ASSERT_FALSE(update.empty()) << "a window update once a segment's worth is free";
  uint8_t scale = syn_.options.window_scale.value_or(0);
  EXPECT_GE(uint32_t{update.back().h.window} << scale, 1460u);
}

// 3. Out-of-order data: an immediate duplicate ACK with a SACK block; the fill ACKs everything.
TEST_F(TcpSegmentsTest, OutOfOrderDataGetsSackThenCumulativeAck) {
  TcpEndpoint* c = PassiveOpen();
  ASSERT_NE(c, nullptr);
  Bytes first = Pattern(100, 0), second = Pattern(100, 100);
  peer_nxt_ += 100;  // the first segment is "lost"
  PeerData(second);
  Out dup = OneSent();
  ExpectPureAck(dup, iss_ + 1, kPeerIsn + 1);
  ASSERT_EQ(dup.h.options.sack_count, 1);
  EXPECT_EQ(dup.h.options.sack_blocks[0].first, kPeerIsn + 101);
  EXPECT_EQ(dup.h.options.sack_blocks[0].second, kPeerIsn + 201);
  EXPECT_EQ(c->ReadableBytesLocked(), 0u);
  peer_nxt_ = kPeerIsn + 1;  // the retransmission fills the hole
  PeerData(first);
  Out full = OneSent();
  ExpectPureAck(full, iss_ + 1, kPeerIsn + 201);
  EXPECT_EQ(full.h.options.sack_count, 0);
  auto r = Recv();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), Concat(first, second));
}

// 4. Retransmission timeout: the same segment again after the RTO, then after twice the RTO.
TEST_F(TcpSegmentsTest, RetransmissionTimeoutResendsAndBacksOff) {
  TcpEndpoint* c = ActiveOpen();
  Bytes data = Pattern(100);
  ASSERT_EQ(Send(data).value(), 100u);
  Out o = OneSent();
  EXPECT_EQ(o.h.flags, kAP);
  EXPECT_EQ(o.h.seq, iss_ + 1);
  EXPECT_EQ(o.h.ack, kPeerIsn + 1);
  EXPECT_EQ(o.data, data);
  const Instant rto = c->rtt().Rto();
  EXPECT_GE(rto, RttEstimator::kMinRto);
  EXPECT_EQ(UntilDeadline(), rto);
  Advance(rto - 1);
  EXPECT_TRUE(SentTcp().empty()) << "not before the RTO";
  Advance(1);
  Out re = OneSent();
  EXPECT_EQ(re.h.seq, iss_ + 1);
  EXPECT_EQ(re.h.flags & (TcpRepr::kSyn | TcpRepr::kFin | TcpRepr::kRst), 0);
  EXPECT_EQ(re.data, data);
  EXPECT_EQ(UntilDeadline(), 2 * rto) << "RFC 6298 5.5: the timer backs off";
  Advance(2 * rto - 1);
  EXPECT_TRUE(SentTcp().empty());
  Advance(1);
  re = OneSent();
  EXPECT_EQ(re.h.seq, iss_ + 1);
  EXPECT_EQ(re.data, data);
  EXPECT_EQ(UntilDeadline(), 4 * rto);
  EXPECT_EQ(stack_.stats().tcp.timeouts, 2u);
  PeerAck(iss_ + 101);
  EXPECT_TRUE(SentTcp().empty());
  EXPECT_EQ(c->UnsentOrUnackedBytesLocked(), 0u);
  EXPECT_EQ(c->NextDeadline(), kNever) << "all acknowledged: the timer is off";
}

// 5. Fast retransmit: the third duplicate ACK resends the first unacknowledged segment.
TEST_F(TcpSegmentsTest, ThreeDuplicateAcksTriggerFastRetransmit) {
  TcpEndpoint* c = ActiveOpen();
  Bytes data = Pattern(4 * kPeerMss);
  ASSERT_EQ(Send(data).value(), data.size());
  auto sent = SentTcp();
  ASSERT_EQ(sent.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sent[i].h.seq, iss_ + 1 + i * kPeerMss);
    EXPECT_EQ(sent[i].data.size(), kPeerMss);
  }
  // The first segment is lost: the peer ACKs the handshake again for each later one.
  for (int i = 1; i <= 3; ++i) {
    PeerAck(iss_ + 1);
    auto s = SentTcp();
    if (i < 3) {
      EXPECT_TRUE(s.empty()) << "duplicate ACK " << i;
    } else {
      ASSERT_EQ(s.size(), 1u);
      EXPECT_EQ(s[0].h.seq, iss_ + 1);
      EXPECT_EQ(s[0].data, Bytes(data.begin(), data.begin() + kPeerMss));
    }
  }
  EXPECT_EQ(stack_.stats().tcp.fast_retrans, 1u);
  EXPECT_EQ(stack_.stats().tcp.timeouts, 0u) << "before any timeout";
  EXPECT_TRUE(c->InfoLocked().in_recovery);
  PeerAck(iss_ + 1 + static_cast<uint32_t>(data.size()));  // the full ACK ends recovery
  EXPECT_FALSE(c->InfoLocked().in_recovery);
  EXPECT_EQ(c->UnsentOrUnackedBytesLocked(), 0u);
}

// Limited transmit (RFC 3042): with the window full, each of the first two duplicate ACKs lets one
// new segment out; the third starts fast retransmit.
TEST_F(TcpSegmentsTest, LimitedTransmitSendsNewDataOnTheFirstTwoDuplicateAcks) {
  ActiveOpen();
  Bytes data = Pattern(14 * kPeerMss);
  ASSERT_EQ(Send(data).value(), data.size());
  auto sent = SentTcp();
  ASSERT_EQ(sent.size(), 10u) << "the initial window (RFC 6928)";
  for (uint32_t i = 1; i <= 3; ++i) {
    PeerAck(iss_ + 1);
    auto s = SentTcp();
    ASSERT_EQ(s.size(), 1u) << "duplicate ACK " << i;
    uint32_t expect = i < 3 ? iss_ + 1 + (9 + i) * kPeerMss : iss_ + 1;
    EXPECT_EQ(s[0].h.seq, expect) << "duplicate ACK " << i;
  }
  EXPECT_EQ(stack_.stats().tcp.fast_retrans, 1u);
}

// 6. Zero window: nothing is sent, a probe follows the persist timeout, an open window sends.
TEST_F(TcpSegmentsTest, ZeroWindowPersistProbeThenDataFlows) {
  TcpEndpoint* c = PassiveOpen();
  ASSERT_NE(c, nullptr);
  PeerAck(iss_ + 1, 0);
  EXPECT_TRUE(SentTcp().empty() && c->snd_wnd() == 0u);
  Bytes data = Pattern(100);
  ASSERT_EQ(Send(data).value(), 100u);
  EXPECT_TRUE(SentTcp().empty()) << "the peer's window is closed";
  const Instant rto = c->rtt().Rto();
  EXPECT_EQ(UntilDeadline(), rto);
  Advance(rto - 1);
  EXPECT_TRUE(SentTcp().empty());
  Advance(1);
  Out probe = OneSent();
  EXPECT_EQ(probe.h.flags, kA);
  EXPECT_EQ(probe.h.seq, iss_) << "Linux's probe: snd_una - 1, which the receiver must answer";
  EXPECT_EQ(probe.h.ack, kPeerIsn + 1);
  EXPECT_TRUE(probe.data.empty());
  EXPECT_EQ(stack_.stats().tcp.zero_window_probes, 1u);
  EXPECT_EQ(UntilDeadline(), 2 * rto) << "probes back off";
  PeerAck(iss_ + 1, 0);  // the answer: still closed
  EXPECT_TRUE(SentTcp().empty());
  Advance(UntilDeadline());  // the second probe, 2 RTO after the first
  EXPECT_EQ(OneSent().h.seq, iss_);
  EXPECT_EQ(UntilDeadline(), 4 * rto);
  PeerAck(iss_ + 1, 0);
  EXPECT_TRUE(SentTcp().empty());
  PeerAck(iss_ + 1, kPeerWindow);  // a window update: the data goes at once
  Out o = OneSent();
  EXPECT_EQ(o.h.flags, kAP);
  EXPECT_EQ(o.h.seq, iss_ + 1);
  EXPECT_EQ(o.data, data);
}

// 7. Passive close: the peer's FIN -> CLOSE-WAIT and EOF; our FIN -> LAST-ACK; its ACK -> CLOSED.
TEST_F(TcpSegmentsTest, PeerFinThenOurFinThroughLastAck) {
  TcpEndpoint* c = PassiveOpen();
  ASSERT_NE(c, nullptr);
  InjectTcp(Peer(kFA));
  peer_nxt_ += 1;
  ExpectPureAck(OneSent(), iss_ + 1, kPeerIsn + 2);
  EXPECT_EQ(c->state(), State::kCloseWait);
  auto r = Recv();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().size(), 0u) << "end of stream";
  ASSERT_TRUE(c->ShutdownLocked(SHUT_WR).ok());
  stack_.FlushLocked();
  Out fin = OneSent();
  EXPECT_EQ(fin.h.flags, kFA);
  EXPECT_EQ(fin.h.seq, iss_ + 1);
  EXPECT_EQ(fin.h.ack, kPeerIsn + 2);
  EXPECT_TRUE(fin.data.empty() && c->state() == State::kLastAck);
  PeerAck(iss_ + 2);
  EXPECT_TRUE(SentTcp().empty());
  EXPECT_EQ(c->state(), State::kClosed);
  EXPECT_EQ(c->TakeErrorLocked(), Error::kOk);
}

// 8. Active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 60 s; a repeated FIN is ACKed again.
TEST_F(TcpSegmentsTest, ActiveCloseTimeWaitReAcksFinAndExpires) {
  TcpEndpoint* c = ActiveOpen();
  ASSERT_TRUE(c->ShutdownLocked(SHUT_WR).ok());
  stack_.FlushLocked();
  Out fin = OneSent();
  EXPECT_EQ(fin.h.flags, kFA);
  EXPECT_EQ(fin.h.seq, iss_ + 1);
  EXPECT_EQ(fin.h.ack, kPeerIsn + 1);
  EXPECT_EQ(c->state(), State::kFinWait1);
  PeerAck(iss_ + 2);
  EXPECT_TRUE(SentTcp().empty());
  EXPECT_EQ(c->state(), State::kFinWait2);
  TcpRepr peer_fin = Peer(kFA);
  InjectTcp(peer_fin);
  ExpectPureAck(OneSent(), iss_ + 2, kPeerIsn + 2);
  EXPECT_EQ(c->state(), State::kTimeWait);
  EXPECT_EQ(UntilDeadline(), 60 * kSecond);
  Advance(30 * kSecond);
  EXPECT_TRUE(c->state() == State::kTimeWait && SentTcp().empty());
  InjectTcp(peer_fin);  // our ACK was lost: the peer repeats its FIN
  ExpectPureAck(OneSent(), iss_ + 2, kPeerIsn + 2);
  EXPECT_EQ(UntilDeadline(), 60 * kSecond) << "RFC 9293: restart the 2 MSL timeout";
  Advance(60 * kSecond - 1);
  EXPECT_EQ(c->state(), State::kTimeWait);
  Advance(1);
  EXPECT_EQ(c->state(), State::kClosed);
  EXPECT_TRUE(SentTcp().empty()) << "TIME-WAIT ends silently";
}

// 9. RFC 5961 5.2: an ACK for data never sent gets a challenge ACK and the segment is dropped.
TEST_F(TcpSegmentsTest, AckOfUnsentDataGetsChallengeAckAndIsDropped) {
  TcpEndpoint* c = ActiveOpen();
  ASSERT_EQ(Send(Pattern(100)).value(), 100u);
  SentTcp();
  ack_of_ours_ = iss_ + 1 + 1000;  // beyond snd_max = iss + 101
  InjectTcp(Peer(kAP), ToBytes("injected"));
  ExpectPureAck(OneSent(), iss_ + 101, kPeerIsn + 1);
  EXPECT_EQ(stack_.stats().tcp.challenge_acks, 1u);
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_EQ(c->ReadableBytesLocked(), 0u) << "the data it carried is dropped";
  EXPECT_EQ(c->UnsentOrUnackedBytesLocked(), 100u) << "nothing was acknowledged";
  PeerAck(iss_ + 101);  // the real ACK still works
  EXPECT_EQ(c->UnsentOrUnackedBytesLocked(), 0u);
  EXPECT_EQ(c->state(), State::kEstablished);
}

// 10. Keepalive: a probe after keepidle, then one every keepintvl; keepcnt unanswered ones reset.
TEST_F(TcpSegmentsTest, KeepaliveProbesThenTimesOut) {
  setup_ = [](TcpEndpoint& ep) {
    ep.tcp_options().keepalive = true;
    ep.tcp_options().keepidle_s = 10;
    ep.tcp_options().keepintvl_s = 2;
    ep.tcp_options().keepcnt = 3;
  };
  TcpEndpoint* c = ActiveOpen();
  EXPECT_EQ(UntilDeadline(), 10 * kSecond);
  Advance(10 * kSecond - 1);
  EXPECT_TRUE(SentTcp().empty());
  Advance(1);
  for (int probe = 1; probe <= 3; ++probe) {
    SCOPED_TRACE(probe);
    Out o = OneSent();
    EXPECT_EQ(o.h.flags, kA);
    EXPECT_EQ(o.h.seq, iss_) << "snd_una - 1";
    EXPECT_EQ(o.h.ack, kPeerIsn + 1);
    EXPECT_TRUE(o.data.empty() && c->state() == State::kEstablished);
    EXPECT_EQ(UntilDeadline(), 2 * kSecond);
    Advance(2 * kSecond);
  }
  EXPECT_EQ(stack_.stats().tcp.keepalive_probes, 3u);
  Out rst = OneSent();
  EXPECT_TRUE(rst.h.flags & TcpRepr::kRst);
  EXPECT_EQ(rst.h.seq, iss_ + 1);
  EXPECT_EQ(c->state(), State::kClosed);
  EXPECT_EQ(c->TakeErrorLocked(), Error::kTimedOut);
}

// 3b. A FIN alone, ahead of a hole: a duplicate ACK at once (RFC 5681 4.2); the fill takes the
// connection to CLOSE-WAIT and ACKs data and FIN together.
TEST_F(TcpSegmentsTest, OutOfOrderBareFinIsDupAckedAndHeldUntilTheHoleFills) {
  TcpEndpoint* c = PassiveOpen();
  ASSERT_NE(c, nullptr);
  TcpRepr fin = Peer(kFA);
  fin.seq = kPeerIsn + 1 + 100;  // after 100 bytes the peer sent that were lost
  InjectTcp(fin);
  auto s = SentTcp();
  EXPECT_EQ(s.size(), 1u) << "an out-of-order segment is ACKed at once";
  if (s.size() == 1) ExpectPureAck(s[0], iss_ + 1, kPeerIsn + 1);
  EXPECT_EQ(c->state(), State::kEstablished);
  PeerData(Pattern(100));
  ExpectPureAck(OneSent(), iss_ + 1, kPeerIsn + 1 + 100 + 1);
  EXPECT_EQ(c->state(), State::kCloseWait);
  EXPECT_EQ(Recv().value(), Pattern(100));
  EXPECT_EQ(Recv().value().size(), 0u);
}

// Closing with unread data resets (RFC 2525 2.17) and gives the received buffers back at once.
TEST_F(TcpSegmentsTest, CloseWithUnreadDataResetsAndFreesTheReceiveQueue) {
  TcpEndpoint* c = PassiveOpen();
  ASSERT_NE(c, nullptr);
  PeerData(Pattern(100));
  SentTcp();
  const size_t before = stack_.pool().in_use();
  c->CloseLocked();
  held_.erase(std::find(held_.begin(), held_.end(), c));
  stack_.FlushLocked();
  Out rst = OneSent();
  EXPECT_EQ(rst.h.flags, TcpRepr::kRst | TcpRepr::kAck);
  EXPECT_EQ(rst.h.seq, iss_ + 1);
  EXPECT_LT(stack_.pool().in_use(), before) << "the unread segment is still held";
}

}  // namespace
}  // namespace tapsock::test
