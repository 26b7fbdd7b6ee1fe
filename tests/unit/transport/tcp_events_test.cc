// Connection ids and the stack's TcpEvents (what the shim logs per connection), over the stack's
// own loopback: state changes in order, resets sent and received, and the counters that go with
// an abort.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/transport/tcp/tcp_protocol.h"

namespace tapsock::tcp {
namespace {

class Recorder : public StackEventObserver {
 public:
  void OnTcpEventLocked(const TcpEvent& e) override { events.push_back(e); }
  // "c<id> FROM->TO" for state changes, "c<id> rst-sent|rst-received|rto" otherwise.
  std::vector<std::string> For(uint64_t id) const {
    std::vector<std::string> out;
    for (const TcpEvent& e : events) {
      if (e.conn_id != id) continue;
      switch (e.kind) {
        case TcpEvent::Kind::kStateChange:
          out.push_back(std::string(StateName(State(e.from_state))) + "->" + StateName(State(e.to_state)));
          break;
        case TcpEvent::Kind::kResetSent: out.push_back("rst-sent"); break;
        case TcpEvent::Kind::kResetReceived: out.push_back("rst-received"); break;
        case TcpEvent::Kind::kRetransmitTimeout: out.push_back("rto"); break;
      }
    }
    return out;
  }
  std::vector<TcpEvent> events;
};

class TcpEventsTest : public ::testing::Test {
 protected:
  TcpEventsTest() : lock_(stack_.mu()) {
    stack_.SetNowLocked(kSecond);
    stack_.SetEventObserver(&recorder_);
  }
  ~TcpEventsTest() override {
    for (TcpEndpoint* ep : held_) ep->CloseLocked();
    stack_.FlushLocked();
    stack_.SetEventObserver(nullptr);
  }
  TcpEndpoint* New() {
    TcpEndpoint* ep = stack_.tcp().NewEndpointLocked(false);
    held_.push_back(ep);
    return ep;
  }
  static FullAddress Loop(uint16_t port) { return {IpAddr::V4(Ipv4Addr::Loopback()), port}; }

  Stack stack_;
  MutexLock lock_;
  Recorder recorder_;
  std::vector<TcpEndpoint*> held_;
};

TEST_F(TcpEventsTest, IdsAreSmallUniqueAndIncreasing) {
  TcpEndpoint* a = New();
  TcpEndpoint* b = New();
  EXPECT_GE(a->id(), 1u);
  EXPECT_EQ(b->id(), a->id() + 1);
}

TEST_F(TcpEventsTest, HandshakeAndResetOnCloseWithUnreadData) {
  TcpEndpoint* listener = New();
  ASSERT_TRUE(listener->BindLocked(Loop(7000)).ok());
  ASSERT_TRUE(listener->ListenLocked(4).ok());
  TcpEndpoint* client = New();
  ASSERT_EQ(client->ConnectLocked(Loop(7000)).error(), Error::kInProgress);
  stack_.FlushLocked();
  auto accepted = listener->AcceptLocked();
  ASSERT_TRUE(accepted.ok());
  TcpEndpoint* server = accepted.value();
  EXPECT_GT(server->id(), client->id());  // the child is made when the SYN arrives

  EXPECT_EQ(recorder_.For(listener->id()), (std::vector<std::string>{"CLOSED->LISTEN"}));
  EXPECT_EQ(recorder_.For(client->id()),
            (std::vector<std::string>{"CLOSED->SYN-SENT", "SYN-SENT->ESTABLISHED"}));
  EXPECT_EQ(recorder_.For(server->id()),
            (std::vector<std::string>{"CLOSED->SYN-RECEIVED", "SYN-RECEIVED->ESTABLISHED"}));
  for (const TcpEvent& e : recorder_.events) {
    if (e.conn_id != client->id()) continue;
    EXPECT_EQ(e.local, Ipv4Addr::Loopback());
    EXPECT_EQ(e.remote_port, 7000);
    EXPECT_EQ(e.local_port, client->local_port());
  }

  // The client's data is never read: closing the server aborts with a reset (RFC 2525 2.17).
  std::string data = "unread";
  iovec iov{data.data(), data.size()};
  ASSERT_TRUE(client->SendLocked({&iov, 1}, false).ok());
  stack_.FlushLocked();
  uint64_t server_id = server->id();
  server->CloseLocked();
  stack_.FlushLocked();
  EXPECT_EQ(recorder_.For(server_id).back(), "ESTABLISHED->CLOSED");
  EXPECT_EQ(recorder_.For(server_id)[2], "rst-sent");
  EXPECT_EQ(recorder_.For(client->id()),
            (std::vector<std::string>{"CLOSED->SYN-SENT", "SYN-SENT->ESTABLISHED", "rst-received",
                                      "ESTABLISHED->CLOSED"}));
  const TcpStats& st = stack_.stats().tcp;
  EXPECT_EQ(st.abort_on_close, 1u);
  EXPECT_EQ(st.abort_on_data, 0u);
  EXPECT_EQ(st.out_rsts, 1u);
  EXPECT_EQ(st.in_rsts, 1u);
  EXPECT_EQ(st.estab_resets, 2u);  // both ends went from ESTABLISHED straight to CLOSED
  EXPECT_EQ(st.curr_estab, 0u);
}

TEST_F(TcpEventsTest, ResetForASegmentWithNoConnectionHasNoId) {
  TcpEndpoint* client = New();
  ASSERT_EQ(client->ConnectLocked(Loop(7001)).error(), Error::kInProgress);  // nobody listens
  stack_.FlushLocked();
  EXPECT_EQ(client->state(), State::kClosed);
  bool bare_reset = false;
  for (const TcpEvent& e : recorder_.events) {
    if (e.kind == TcpEvent::Kind::kResetSent && e.conn_id == 0) {
      bare_reset = true;
      EXPECT_EQ(e.local_port, 7001);
      EXPECT_EQ(e.remote_port, client->local_port());
    }
  }
  EXPECT_TRUE(bare_reset);
  EXPECT_EQ(recorder_.For(client->id()),
            (std::vector<std::string>{"CLOSED->SYN-SENT", "rst-received", "SYN-SENT->CLOSED"}));
  EXPECT_EQ(stack_.stats().tcp.attempt_fails, 1u);
  EXPECT_EQ(stack_.stats().tcp.estab_resets, 0u);
}

TEST_F(TcpEventsTest, NoObserverNoEvents) {
  stack_.SetEventObserver(nullptr);
  TcpEndpoint* listener = New();
  ASSERT_TRUE(listener->BindLocked(Loop(7002)).ok());
  ASSERT_TRUE(listener->ListenLocked(4).ok());
  EXPECT_TRUE(recorder_.events.empty());
}

}  // namespace
}  // namespace tapsock::tcp
