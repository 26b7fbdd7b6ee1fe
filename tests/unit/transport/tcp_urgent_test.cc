// Urgent data segment by segment: the URG flag and urgent pointer on what we send after a MSG_OOB
// send (Linux's reading: the pointer is one past the urgent byte), and the byte put aside when a
// segment with URG arrives. One connection, opened passively from the wire, on the manual clock.
#include <gtest/gtest.h>
#include <poll.h>

#include <functional>
#include <string>

#include "stack/transport/tcp/tcp_protocol.h"
#include "tests/unit/transport/tcp_wire_fixture.h"

namespace tapsock::test {
namespace {

using tcp::TcpEndpoint;
using wire::TcpRepr;

constexpr uint8_t kA = TcpRepr::kAck;
constexpr uint8_t kAP = TcpRepr::kAck | TcpRepr::kPsh;
constexpr uint8_t kUrg = TcpRepr::kUrg;

using Out = TcpOut;

// Counts the SIGURGs the socket would raise.
class UrgentCounter : public EndpointObserver {
 public:
  void OnReadinessChangedLocked() override {}
  void OnUrgentDataLocked() override { ++announced; }
  int announced = 0;
};

class TcpUrgentTest : public TcpWireFixture {
 protected:
  static constexpr uint16_t kPort = 80, kPeerPort = 40000, kPeerMss = 1460;
  static constexpr uint32_t kPeerIsn = 5000;

  void TearDown() override {
    for (TcpEndpoint* ep : held_) ep->CloseLocked();
    stack_.FlushLocked();
    StackFixture::TearDown();
  }
  TcpRepr Peer(uint8_t flags) const {
    TcpRepr h;
    h.src_port = kPeerPort;
    h.dst_port = kPort;
    h.seq = peer_nxt_;
    h.ack = ack_of_ours_;
    h.flags = flags;
    h.window = peer_window_;
    return h;
  }
  // The peer sends `data`; with `urgent`, the segment carries URG and that pointer.
  void PeerData(std::string_view data, uint16_t urgent = 0) {
    TcpRepr h = Peer(kAP | (urgent ? kUrg : 0));
    h.urgent = urgent;
    InjectTcp(h, ToBytes(data));
    peer_nxt_ += static_cast<uint32_t>(data.size());
  }
  void PeerAck(uint32_t ack) {
    ack_of_ours_ = ack;
    InjectTcp(Peer(kA));
  }
  // The peer's SYN to our listener, our SYN-ACK, the peer's ACK (with `window`); then accept.
  TcpEndpoint* Open(uint16_t window = 65535) {
    LearnPeer();
    TcpEndpoint* l = stack_.tcp().NewEndpointLocked(false);
    held_.push_back(l);
    if (setup_) setup_(*l);
    EXPECT_TRUE(l->BindLocked(V4(Ipv4Addr::Any(), kPort)).ok());
    EXPECT_TRUE(l->ListenLocked(8).ok());
    TcpRepr syn = Peer(TcpRepr::kSyn);
    syn.seq = kPeerIsn;
    syn.ack = 0;
    syn.options.mss = kPeerMss;
    InjectTcp(syn);
    auto synack = SentTcp();
    EXPECT_EQ(synack.size(), 1u);
    iss_ = synack.empty() ? 0 : synack[0].h.seq;
    peer_nxt_ = kPeerIsn + 1;
    peer_window_ = window;
    PeerAck(iss_ + 1);
    auto child = l->AcceptLocked();
    EXPECT_TRUE(child.ok());
    if (!child.ok()) return nullptr;
    conn_ = child.value();
    held_.push_back(conn_);
    conn_->SetObserver(&counter_);
    return conn_;
  }
  Result<size_t> Send(std::string_view data, bool oob) {
    Bytes b = ToBytes(data);
    iovec iov = IovecOf(b);
    auto r = conn_->SendLocked({&iov, 1}, false, oob);
    stack_.FlushLocked();
    return r;
  }
  // A non-blocking read of up to `n` bytes, or the error's name.
  std::string Recv(size_t n = 100, bool peek = false) {
    std::string buf(n, '\0');
    iovec iov{buf.data(), n};
    auto r = conn_->RecvLocked({&iov, 1}, peek);
    stack_.FlushLocked();
    if (!r.ok()) return r.error() == Error::kWouldBlock ? "<EAGAIN>" : "<error>";
    return buf.substr(0, r.value());
  }
  std::string RecvOob(bool peek = false) {
    uint8_t byte = 0;
    auto r = conn_->RecvUrgentLocked(&byte, peek);
    if (r.ok()) return r.value() ? std::string(1, static_cast<char>(byte)) : "";
    if (r.error() == Error::kWouldBlock) return "<EAGAIN>";
    return r.error() == Error::kInvalidArgument ? "<EINVAL>" : "<error>";
  }
  static void ExpectUrgent(const Out& o, uint16_t pointer) {
    EXPECT_TRUE(o.h.flags & kUrg) << "seq " << o.h.seq;
    EXPECT_EQ(o.h.urgent, pointer) << "seq " << o.h.seq;
  }

  std::function<void(TcpEndpoint&)> setup_;
  std::vector<TcpEndpoint*> held_;
  TcpEndpoint* conn_ = nullptr;
  UrgentCounter counter_;
  uint32_t iss_ = 0, peer_nxt_ = 0, ack_of_ours_ = 0;
  uint16_t peer_window_ = 65535;
};

// Every segment that starts before the urgent pointer carries it, relative to its own sequence
// number; once the peer acknowledges the pointer, urgent mode is over.
TEST_F(TcpUrgentTest, OobSendMarksEverySegmentUpToThePointer) {
  ASSERT_NE(Open(), nullptr);
  std::string data(3000, 'x');
  ASSERT_EQ(Send(data, true).value(), 3000u);
  auto s = SentTcp();
  ASSERT_EQ(s.size(), 3u);
  ExpectUrgent(s[0], 3000);
  ExpectUrgent(s[1], 3000 - kPeerMss);
  ExpectUrgent(s[2], 3000 - 2 * kPeerMss);
  EXPECT_EQ(s[2].h.seq + s[2].h.urgent, iss_ + 1 + 3000) << "one past the urgent byte";
  PeerAck(iss_ + 1 + 3000);
  ASSERT_EQ(Send("more", false).value(), 4u);
  s = SentTcp();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FALSE(s[0].h.flags & kUrg) << "urgent mode ended with the ACK";
  EXPECT_EQ(s[0].h.urgent, 0);
}

// Behind a closed window the urgent byte cannot go, but its pointer does: on our ACKs, and on a
// zero-window probe at snd_una that the peer accepts (tcp_write_wakeup).
TEST_F(TcpUrgentTest, PointerRidesOnAcksAndProbesWhileTheByteWaits) {
  TcpEndpoint* c = Open(0);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(Send("ab!", true).value(), 3u);
  EXPECT_TRUE(SentTcp().empty()) << "the window is closed";
  PeerData("hi");
  auto s = SentTcp();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].h.seq, iss_ + 1);
  EXPECT_TRUE(s[0].data.empty());
  ExpectUrgent(s[0], 3);
  Advance(c->NextDeadline() - stack_.now());  // the persist timer
  s = SentTcp();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].h.seq, iss_ + 1) << "in the window: its pointer counts";
  ExpectUrgent(s[0], 3);
  EXPECT_EQ(s[1].h.seq, iss_) << "the usual probe, one below snd_una";
  ExpectUrgent(s[1], 4);
}

// Urgent mode switches Nagle and TCP_CORK off (tcp_nagle_test).
TEST_F(TcpUrgentTest, OobSendIsNeverHeldBack) {
  setup_ = [](TcpEndpoint& ep) { ep.tcp_options().cork = true; };
  ASSERT_NE(Open(), nullptr);
  ASSERT_EQ(Send("held", false).value(), 4u);
  EXPECT_TRUE(SentTcp().empty()) << "corked";
  ASSERT_EQ(Send("!", true).value(), 1u);
  auto s = SentTcp();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].data, ToBytes("held!"));
  ExpectUrgent(s[0], 5);
}

// An arriving segment with URG: its last byte is put aside; reads stop before it, SIOCATMARK
// and POLLPRI say so, recv(MSG_OOB) takes it once, and the next read steps over it.
TEST_F(TcpUrgentTest, ArrivingUrgentByteIsPutAside) {
  TcpEndpoint* c = Open();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(RecvOob(), "<EINVAL>");
  PeerData("abc", 3);
  EXPECT_EQ(counter_.announced, 1);
  EXPECT_TRUE(c->ReadinessLocked() & POLLPRI);
  EXPECT_EQ(c->ReadableBytesLocked(), 3u) << "the byte stays in the queue";
  EXPECT_EQ(c->InqLocked(), 2u);
  EXPECT_FALSE(c->AtUrgentMarkLocked());
  EXPECT_EQ(Recv(), "ab");
  EXPECT_TRUE(c->AtUrgentMarkLocked());
  EXPECT_FALSE(c->ReadinessLocked() & POLLIN) << "nothing but the urgent byte";
  EXPECT_EQ(RecvOob(true), "c");
  EXPECT_EQ(RecvOob(), "c");
  EXPECT_EQ(RecvOob(), "<EINVAL>");
  EXPECT_FALSE(c->ReadinessLocked() & POLLPRI);
  PeerData("de");
  EXPECT_EQ(counter_.announced, 1) << "no URG, nothing new";
  EXPECT_EQ(Recv(), "de");
  EXPECT_FALSE(c->AtUrgentMarkLocked());
}

// The pointer can come before its byte: EAGAIN until the byte is in.
TEST_F(TcpUrgentTest, PointerAheadOfTheByte) {
  TcpEndpoint* c = Open();
  ASSERT_NE(c, nullptr);
  PeerData("ab", 5);  // the urgent byte is the 5th, two bytes into the next segment
  EXPECT_EQ(counter_.announced, 1);
  EXPECT_EQ(RecvOob(), "<EAGAIN>");
  EXPECT_FALSE(c->ReadinessLocked() & POLLPRI);
  EXPECT_EQ(c->InqLocked(), 2u);
  PeerData("cdef", 3);  // the same pointer again
  EXPECT_EQ(counter_.announced, 1);
  EXPECT_TRUE(c->ReadinessLocked() & POLLPRI);
  EXPECT_EQ(Recv(), "abcd");
  EXPECT_EQ(RecvOob(), "e");
  EXPECT_EQ(Recv(), "f");
}

// With SO_OOBINLINE the byte stays readable in the stream; reads still stop at the mark.
TEST_F(TcpUrgentTest, OobInlineLeavesTheByteInTheStream) {
  TcpEndpoint* c = Open();
  ASSERT_NE(c, nullptr);
  c->tcp_options().oobinline = true;
  PeerData("xyz", 3);
  EXPECT_EQ(c->InqLocked(), 3u);
  EXPECT_EQ(RecvOob(), "<EINVAL>");
  EXPECT_EQ(Recv(), "xy");
  EXPECT_TRUE(c->AtUrgentMarkLocked());
  EXPECT_EQ(Recv(), "z");
  EXPECT_FALSE(c->ReadinessLocked() & POLLPRI);
}

// A newer urgent byte replaces an unread one, which becomes ordinary data.
TEST_F(TcpUrgentTest, NewerUrgentByteReplacesTheOlder) {
  ASSERT_NE(Open(), nullptr);
  PeerData("xa", 2);
  PeerData("yb", 2);
  EXPECT_EQ(counter_.announced, 2);
  EXPECT_EQ(Recv(), "xay");
  EXPECT_EQ(RecvOob(), "b");
}

}  // namespace
}  // namespace tapsock::test
