// The segment-exact TCP fixture: one connection driven from the wire, opened actively
// (ConnectLocked) or passively (a listener), with the peer's sequence state kept here. Tests assert
// the exact segments sent, on the manual clock only.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <functional>
#include <vector>

#include "stack/transport/tcp/tcp_protocol.h"
#include "tests/unit/transport/tcp_wire_fixture.h"

namespace tapsock::test {

using tcp::RttEstimator;
using tcp::State;
using tcp::TcpEndpoint;
using wire::TcpRepr;

constexpr uint8_t kA = TcpRepr::kAck;
constexpr uint8_t kAP = TcpRepr::kAck | TcpRepr::kPsh;
constexpr uint8_t kFA = TcpRepr::kFin | TcpRepr::kAck;

using Out = TcpOut;

class TcpSegmentsFixture : public TcpWireFixture {
 protected:
  static constexpr uint16_t kListenPort = 80;    // ours, passive role
  static constexpr uint16_t kPeerPort80 = 80;    // the peer's, active role
  static constexpr uint16_t kPeerPort = 40000;   // the peer's, passive role
  static constexpr uint32_t kPeerIsn = 5000;
  static constexpr uint16_t kPeerWindow = 65535;
  static constexpr uint16_t kPeerMss = 1460;
  void TearDown() override {
    for (TcpEndpoint* ep : held_) ep->CloseLocked();
    stack_.FlushLocked();
    StackFixture::TearDown();
  }
  // Exactly one segment was sent; returns it (a default Out otherwise, after a test failure).
  Out OneSent() {
    auto s = SentTcp();
    EXPECT_EQ(s.size(), 1u);
    return s.size() == 1 ? s[0] : Out{};
  }
  // A segment from the peer, with the peer's current seq and ack.
  TcpRepr Peer(uint8_t flags, uint16_t window = kPeerWindow) const {
    TcpRepr h;
    h.src_port = peer_port_;
    h.dst_port = our_port_;
    h.seq = peer_nxt_;
    h.ack = ack_of_ours_;
    h.flags = flags;
    h.window = window;
    return h;
  }
  static void PeerSynOptions(TcpRepr& h) {
    h.options.mss = kPeerMss;
    h.options.window_scale = 0;  // scaling agreed, the peer's window unscaled: exact arithmetic
    h.options.sack_permitted = true;
  }
  // The peer sends `data` in order; its sequence moves on.
  void PeerData(std::span<const uint8_t> data) {
    InjectTcp(Peer(kAP), data);
    peer_nxt_ += static_cast<uint32_t>(data.size());
  }
  // The peer acknowledges everything up to our `seq`.
  void PeerAck(uint32_t ack, uint16_t window = kPeerWindow) {
    ack_of_ours_ = ack;
    InjectTcp(Peer(kA, window));
  }

  // Active open: our SYN, the peer's SYN-ACK, our ACK. Leaves the SYN in syn_.
  TcpEndpoint* ActiveOpen() {
    LearnPeer();
    conn_ = stack_.tcp().NewEndpointLocked(false);
    held_.push_back(conn_);
    if (setup_) setup_(*conn_);
    EXPECT_EQ(conn_->ConnectLocked(V4(kPeerIp, kPeerPort80)).error(), Error::kInProgress);
    stack_.FlushLocked();
    syn_ = OneSent().h;
    iss_ = syn_.seq;
    our_port_ = conn_->local_port();
    peer_port_ = kPeerPort80;
    TcpRepr synack = Peer(TcpRepr::kSyn | TcpRepr::kAck);
    synack.seq = kPeerIsn;
    synack.ack = iss_ + 1;
    PeerSynOptions(synack);
    InjectTcp(synack);
    peer_nxt_ = kPeerIsn + 1;
    ack_of_ours_ = iss_ + 1;
    handshake_ack_ = OneSent().h;
    return conn_;
  }
  // Passive open: the peer's SYN to our listener, our SYN-ACK, the peer's ACK; then accept.
  TcpEndpoint* PassiveOpen() {
    LearnPeer();
    TcpEndpoint* l = stack_.tcp().NewEndpointLocked(false);
    held_.push_back(l);
    if (setup_) setup_(*l);
    EXPECT_TRUE(l->BindLocked(V4(Ipv4Addr::Any(), kListenPort)).ok());
    EXPECT_TRUE(l->ListenLocked(8).ok());
    our_port_ = kListenPort;
    peer_port_ = kPeerPort;
    TcpRepr syn = Peer(TcpRepr::kSyn);
    syn.seq = kPeerIsn;
    syn.ack = 0;
    PeerSynOptions(syn);
    InjectTcp(syn);
    syn_ = OneSent().h;  // the SYN-ACK
    EXPECT_EQ(syn_.flags, TcpRepr::kSyn | TcpRepr::kAck);
    EXPECT_EQ(syn_.ack, kPeerIsn + 1);
    iss_ = syn_.seq;
    peer_nxt_ = kPeerIsn + 1;
    PeerAck(iss_ + 1);
    EXPECT_TRUE(SentTcp().empty()) << "nothing answers the handshake's last ACK";
    auto child = l->AcceptLocked();
    EXPECT_TRUE(child.ok());
    if (!child.ok()) return nullptr;
    conn_ = child.value();
    held_.push_back(conn_);
    return conn_;
  }
  Result<size_t> Send(std::span<const uint8_t> data) {
    iovec iov = IovecOf(data);
    auto r = conn_->SendLocked({&iov, 1}, false);
    stack_.FlushLocked();
    return r;
  }
  Result<Bytes> Recv(size_t max = 70000) {
    Bytes buf(max);
    iovec iov{buf.data(), buf.size()};
    auto r = conn_->RecvLocked({&iov, 1}, false);
    stack_.FlushLocked();
    if (!r.ok()) return r.error();
    buf.resize(r.value());
    return buf;
  }
  // How long until the connection's next timer.
  Instant UntilDeadline() const { return conn_->NextDeadline() - stack_.now(); }

  void ExpectPureAck(const Out& o, uint32_t seq, uint32_t ack) {
    EXPECT_EQ(o.h.flags, kA);
    EXPECT_EQ(o.h.seq, seq);
    EXPECT_EQ(o.h.ack, ack);
    EXPECT_TRUE(o.data.empty());
    EXPECT_GT(o.h.window, 0) << "an open receive window is advertised";
    EXPECT_FALSE(o.h.options.mss.has_value()) << "SYN options only on a SYN";
  }
  std::function<void(TcpEndpoint&)> setup_;  // socket options before the handshake
  std::vector<TcpEndpoint*> held_;
  TcpEndpoint* conn_ = nullptr;
  TcpRepr syn_, handshake_ack_;
  uint32_t iss_ = 0;
  uint16_t our_port_ = 0, peer_port_ = 0;
  uint32_t peer_nxt_ = 0;     // the peer's next sequence number
  uint32_t ack_of_ours_ = 0;  // what the peer's segments acknowledge
};

}  // namespace tapsock::test
