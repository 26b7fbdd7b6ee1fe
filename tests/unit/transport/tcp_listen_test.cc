// A listener on the wire side: a SYN flood fills the SYN queue, after which SYN cookies (RFC 4987)
// still let a real connection in; resets and ACKs outside the window leave a connection alone
// (RFC 5961).
#include <gtest/gtest.h>

#include "stack/transport/tcp/tcp_protocol.h"
#include "tests/unit/transport/tcp_wire_fixture.h"

namespace tapsock::test {
namespace {

using tcp::State;
using tcp::TcpEndpoint;
using wire::TcpRepr;

class TcpListenTest : public TcpWireFixture {
 protected:
  static constexpr uint16_t kPort = 80;

  TcpEndpoint* Listener(int backlog) {
    TcpEndpoint* l = stack_.tcp().NewEndpointLocked(false);
    held_.push_back(l);
    EXPECT_TRUE(l->BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
    EXPECT_TRUE(l->ListenLocked(backlog).ok());
    return l;
  }
  void TearDown() override {
    for (TcpEndpoint* ep : held_) ep->CloseLocked();
    stack_.FlushLocked();
  }
  static TcpRepr Syn(uint16_t sport, uint32_t isn) {
    TcpRepr h;
    h.src_port = sport;
    h.dst_port = kPort;
    h.seq = isn;
    h.flags = TcpRepr::kSyn;
    h.window = 65535;
    h.options.mss = 1460;
    h.options.window_scale = 7;
    h.options.sack_permitted = true;
    return h;
  }
  // The TCP headers of the segments sent since the last call.
  std::vector<TcpRepr> SentHeaders() {
    std::vector<TcpRepr> out;
    for (const SentFrame& f : TakeSent()) {
      if (!f.ip || f.ip->protocol != static_cast<uint8_t>(wire::IpProto::kTcp)) continue;
      wire::TcpRepr::ParseError why;
      auto h = TcpRepr::Parse(std::span<const uint8_t>(f.ip_packet).subspan(f.ip->ihl_bytes), &why);
      if (h) out.push_back(*h);
    }
    return out;
  }
  // A full handshake from `sport`; returns the accepted connection.
  TcpEndpoint* Handshake(TcpEndpoint* listener, uint16_t sport) {
    InjectTcp(Syn(sport, 1000));
    auto sent = SentHeaders();
    EXPECT_EQ(sent.size(), 1u);
    if (sent.empty()) return nullptr;
    TcpRepr ack;
    ack.src_port = sport;
    ack.dst_port = kPort;
    ack.seq = 1001;
    ack.ack = sent[0].seq + 1;
    ack.flags = TcpRepr::kAck;
    ack.window = 512;
    InjectTcp(ack);
    auto child = listener->AcceptLocked();
    if (!child.ok()) return nullptr;
    held_.push_back(child.value());
    return child.value();
  }

  std::vector<TcpEndpoint*> held_;
};

TEST_F(TcpListenTest, SynAckOffersOurOptions) {
  LearnPeer();
  Listener(16);
  InjectTcp(Syn(40000, 1000));
  auto sent = SentHeaders();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].flags, TcpRepr::kSyn | TcpRepr::kAck);
  EXPECT_EQ(sent[0].ack, 1001u);
  EXPECT_EQ(sent[0].options.mss, 1460);
  EXPECT_TRUE(sent[0].options.window_scale.has_value());
  EXPECT_TRUE(sent[0].options.sack_permitted);
}

TEST_F(TcpListenTest, SynFloodThenARealConnectionThroughACookie) {
  LearnPeer();
  TcpEndpoint* listener = Listener(16);
  for (uint16_t i = 0; i < 300; ++i) InjectTcp(Syn(static_cast<uint16_t>(10000 + i), 5000 + i));
  EXPECT_GT(stack_.stats().tcp.syncookies_sent, 0u) << "the SYN queue filled";
  SentHeaders();
  InjectTcp(Syn(20000, 1000));
  auto sent = SentHeaders();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(sent[0].options.window_scale.has_value()) << "a cookie SYN-ACK remembers no scaling";
  TcpRepr ack;
  ack.src_port = 20000;
  ack.dst_port = kPort;
  ack.seq = 1001;
  ack.ack = sent[0].seq + 1;
  ack.flags = TcpRepr::kAck;
  ack.window = 512;
  InjectTcp(ack, ToBytes("GET /"));
  EXPECT_EQ(stack_.stats().tcp.syncookies_recv, 1u);
  // The flood's half-open connections came first in the accept order only if they completed;
  // none did, so the cookie connection is the first to accept.
  auto child = listener->AcceptLocked();
  ASSERT_TRUE(child.ok());
  held_.push_back(child.value());
  EXPECT_EQ(child.value()->state(), State::kEstablished);
  EXPECT_EQ(child.value()->ReadableBytesLocked(), 5u);
}

// A stray ACK is reset; only after a recent SYN-queue overflow is it taken for a (forged) cookie,
// as Linux counts it (tcp_synq_no_recent_overflow).
TEST_F(TcpListenTest, StrayAckIsResetAndAForgedCookieCountsOnlyAfterAnOverflow) {
  LearnPeer();
  Listener(16);
  TcpRepr ack;
  ack.src_port = 30000;
  ack.dst_port = kPort;
  ack.seq = 1;
  ack.ack = 0x12345678;
  ack.flags = TcpRepr::kAck;
  InjectTcp(ack);
  auto sent = SentHeaders();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].flags & TcpRepr::kRst);
  EXPECT_EQ(stack_.stats().tcp.syncookies_failed, 0u) << "no overflow: not a cookie";
  for (uint16_t i = 0; i < 300; ++i) InjectTcp(Syn(static_cast<uint16_t>(10000 + i), 5000 + i));
  ASSERT_GT(stack_.stats().tcp.syncookies_sent, 0u) << "the SYN queue filled";
  SentHeaders();
  InjectTcp(ack);
  sent = SentHeaders();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].flags & TcpRepr::kRst);
  EXPECT_EQ(stack_.stats().tcp.syncookies_failed, 1u);
}

TEST_F(TcpListenTest, OutOfWindowResetAndAckDoNotResetAConnection) {
  LearnPeer();
  TcpEndpoint* conn = Handshake(Listener(16), 40001);
  ASSERT_NE(conn, nullptr);
  SentHeaders();
  TcpRepr rst;
  rst.src_port = 40001;
  rst.dst_port = kPort;
  rst.seq = 1001 + 100000000;  // far outside the window: dropped silently
  rst.flags = TcpRepr::kRst;
  InjectTcp(rst);
  EXPECT_EQ(conn->state(), State::kEstablished);
  EXPECT_TRUE(SentHeaders().empty());
  rst.seq = 1001 + 100;  // in the window but not exact: a challenge ACK (RFC 5961 3.2)
  InjectTcp(rst);
  EXPECT_EQ(conn->state(), State::kEstablished);
  auto sent = SentHeaders();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].flags, TcpRepr::kAck);
  EXPECT_EQ(sent[0].ack, 1001u);
  TcpRepr syn = Syn(40001, 77);  // a SYN on an established connection: challenge ACK (RFC 5961 4)
  syn.seq = 1001;
  InjectTcp(syn);
  EXPECT_EQ(conn->state(), State::kEstablished);
  EXPECT_EQ(stack_.stats().tcp.challenge_acks, 2u);
  rst.seq = 1001;  // exactly rcv_nxt: a real reset
  InjectTcp(rst);
  EXPECT_EQ(conn->state(), State::kClosed);
  EXPECT_EQ(conn->TakeErrorLocked(), Error::kConnectionReset);
}

}  // namespace
}  // namespace tapsock::test
