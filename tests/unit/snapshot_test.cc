// TakeSnapshotLocked over the stack's own loopback: every TCP endpoint (listener, both ends of a
// connection, an orphan), UDP bindings, interfaces and counters, as `tapsock stat` shows them.
#include "stack/snapshot.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_protocol.h"
#include "stack/transport/udp_endpoint.h"

namespace tapsock {
namespace {

class SnapshotTest : public ::testing::Test {
 protected:
  SnapshotTest() : lock_(stack_.mu()) { stack_.SetNowLocked(kSecond); }
  ~SnapshotTest() override {
    for (tcp::TcpEndpoint* ep : held_) ep->CloseLocked();
    for (auto& u : udp_) u->CloseLocked();
    stack_.FlushLocked();
  }
  tcp::TcpEndpoint* New() {
    tcp::TcpEndpoint* ep = stack_.tcp().NewEndpointLocked(false);
    held_.push_back(ep);
    return ep;
  }
  static FullAddress Loop(uint16_t port) { return {IpAddr::V4(Ipv4Addr::Loopback()), port}; }
  // A listener on 127.0.0.1:port, a client connected to it, and the accepted server side.
  void Connect(uint16_t port) {
    listener_ = New();
    ASSERT_TRUE(listener_->BindLocked(Loop(port)).ok());
    ASSERT_TRUE(listener_->ListenLocked(5).ok());
    client_ = New();
    ASSERT_EQ(client_->ConnectLocked(Loop(port)).error(), Error::kInProgress);
    stack_.FlushLocked();
    auto child = listener_->AcceptLocked();
    ASSERT_TRUE(child.ok());
    server_ = child.value();
    held_.push_back(server_);
  }
  void Send(tcp::TcpEndpoint* ep, const std::string& s) {
    iovec iov{const_cast<char*>(s.data()), s.size()};
    ASSERT_TRUE(ep->SendLocked({&iov, 1}, false).ok());
    stack_.FlushLocked();
  }
  const TcpSnapshot* Find(const StackSnapshot& snap, const tcp::TcpEndpoint* ep) {
    for (const TcpSnapshot& t : snap.tcp)
      if (t.endpoint == ep) return &t;
    return nullptr;
  }

  Stack stack_;
  MutexLock lock_;
  std::vector<tcp::TcpEndpoint*> held_;
  std::vector<std::unique_ptr<UdpEndpoint>> udp_;
  tcp::TcpEndpoint *listener_ = nullptr, *client_ = nullptr, *server_ = nullptr;
};

TEST_F(SnapshotTest, EmptyStackHasLoopbackAndNoEndpoints) {
  StackSnapshot snap = TakeSnapshotLocked(stack_);
  ASSERT_EQ(snap.nics.size(), 1u);
  EXPECT_EQ(snap.nics[0].name, "lo");
  EXPECT_EQ(snap.nics[0].index, Stack::kLoopbackIndex);
  EXPECT_TRUE(snap.nics[0].loopback);
  EXPECT_TRUE(snap.tcp.empty());
  EXPECT_TRUE(snap.udp.empty());
  EXPECT_EQ(snap.now, kSecond);
}

TEST_F(SnapshotTest, ConnectionsInIdOrderWithQueuesAndCounters) {
  Connect(8080);
  ASSERT_NE(server_, nullptr);
  Send(client_, "hello");  // unread by the server: its Recv-Q
  StackSnapshot snap = TakeSnapshotLocked(stack_);
  ASSERT_EQ(snap.tcp.size(), 3u);
  for (size_t i = 1; i < snap.tcp.size(); ++i) EXPECT_LT(snap.tcp[i - 1].id, snap.tcp[i].id);

  const TcpSnapshot* l = Find(snap, listener_);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->id, listener_->id());
  EXPECT_EQ(l->state, tcp::State::kListen);
  EXPECT_STREQ(SsStateName(l->state), "LISTEN");
  EXPECT_EQ(l->local_port, 8080);
  EXPECT_EQ(l->recv_q, 0u);  // the accept queue, emptied by accept
  EXPECT_EQ(l->send_q, 5u);  // the backlog, as ss shows it

  const TcpSnapshot* s = Find(snap, server_);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state, tcp::State::kEstablished);
  EXPECT_STREQ(SsStateName(s->state), "ESTAB");
  EXPECT_EQ(s->recv_q, 5u);
  EXPECT_EQ(s->local, Ipv4Addr::Loopback());
  EXPECT_EQ(s->local_port, 8080);
  EXPECT_EQ(s->remote_port, client_->local_port());
  EXPECT_EQ(s->info.bytes_received, 5u);
  EXPECT_GT(s->info.snd_cwnd, 0u);
  EXPECT_GT(s->info.rto_us, 0u);
  EXPECT_TRUE(s->ssthresh_infinite);
  EXPECT_FALSE(s->orphan);

  const TcpSnapshot* c = Find(snap, client_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->remote_port, 8080);
  EXPECT_EQ(c->info.bytes_acked, 5u);  // data only (Linux's tcpi_bytes_acked also counts the SYN)
  EXPECT_EQ(c->send_q, 0u);                 // all acknowledged over loopback

  EXPECT_EQ(snap.stats.tcp.active_opens, 1u);
  EXPECT_EQ(snap.stats.tcp.passive_opens, 1u);
  EXPECT_EQ(snap.stats.tcp.curr_estab, 2u);
}

TEST_F(SnapshotTest, OrphanInTimeWaitIsStillListed) {
  Connect(8081);
  ASSERT_NE(server_, nullptr);
  uint64_t client_id = client_->id();
  ASSERT_TRUE(client_->ShutdownLocked(SHUT_WR).ok());
  stack_.FlushLocked();
  ASSERT_TRUE(server_->ShutdownLocked(SHUT_WR).ok());
  stack_.FlushLocked();
  held_.erase(std::find(held_.begin(), held_.end(), client_));
  client_->CloseLocked();  // the protocol owns it now, in TIME-WAIT
  stack_.FlushLocked();
  StackSnapshot snap = TakeSnapshotLocked(stack_);
  const TcpSnapshot* found = nullptr;
  for (const TcpSnapshot& t : snap.tcp)
    if (t.id == client_id) found = &t;
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->state, tcp::State::kTimeWait);
  EXPECT_STREQ(SsStateName(found->state), "TIME-WAIT");
  EXPECT_TRUE(found->orphan);
}

TEST_F(SnapshotTest, ClosedEndpointsTheApplicationLetGoAreLeftOut) {
  tcp::TcpEndpoint* gone = stack_.tcp().NewEndpointLocked(false);
  uint64_t gone_id = gone->id();
  gone->CloseLocked();  // CLOSED and let go: deleted at the next timer pass, invisible until then
  tcp::TcpEndpoint* fresh = New();  // CLOSED but the application's: `ss` shows it too (UNCONN)
  StackSnapshot snap = TakeSnapshotLocked(stack_);
  ASSERT_EQ(snap.tcp.size(), 1u);
  EXPECT_EQ(snap.tcp[0].id, fresh->id());
  EXPECT_NE(snap.tcp[0].id, gone_id);
  EXPECT_STREQ(SsStateName(snap.tcp[0].state), "UNCONN");
}

TEST_F(SnapshotTest, BoundUdpEndpointsByPortUnboundOnesNot) {
  for (uint16_t port : {5353, 53}) {
    udp_.push_back(std::make_unique<UdpEndpoint>(stack_, false));
    ASSERT_TRUE(udp_.back()->BindLocked({IpAddr::V4(Ipv4Addr::Any()), port}).ok());
  }
  udp_.push_back(std::make_unique<UdpEndpoint>(stack_, false));  // never bound
  ASSERT_TRUE(udp_[0]->ConnectLocked(Loop(9)).ok());
  StackSnapshot snap = TakeSnapshotLocked(stack_);
  ASSERT_EQ(snap.udp.size(), 2u);
  EXPECT_EQ(snap.udp[0].local_port, 53);
  EXPECT_FALSE(snap.udp[0].connected);
  EXPECT_EQ(snap.udp[1].local_port, 5353);
  EXPECT_TRUE(snap.udp[1].connected);
  EXPECT_EQ(snap.udp[1].remote, Ipv4Addr::Loopback());
  EXPECT_EQ(snap.udp[1].remote_port, 9);
  EXPECT_EQ(snap.udp[1].endpoint, udp_[0].get());
}

TEST(SsStateNameTest, EveryStateHasSsName) {
  EXPECT_STREQ(SsStateName(tcp::State::kSynSent), "SYN-SENT");
  EXPECT_STREQ(SsStateName(tcp::State::kSynReceived), "SYN-RECV");
  EXPECT_STREQ(SsStateName(tcp::State::kFinWait1), "FIN-WAIT-1");
  EXPECT_STREQ(SsStateName(tcp::State::kFinWait2), "FIN-WAIT-2");
  EXPECT_STREQ(SsStateName(tcp::State::kCloseWait), "CLOSE-WAIT");
  EXPECT_STREQ(SsStateName(tcp::State::kLastAck), "LAST-ACK");
  EXPECT_STREQ(SsStateName(tcp::State::kClosing), "CLOSING");
  EXPECT_STREQ(SsStateName(tcp::State::kClosed), "UNCONN");
}

}  // namespace
}  // namespace tapsock
