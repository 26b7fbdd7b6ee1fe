// TCP end to end over the stack's own loopback: handshake, data both ways, orderly close, reset.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/transport/tcp/tcp_protocol.h"

namespace tapsock::tcp {
namespace {

class TcpLoopbackTest : public ::testing::Test {
 protected:
  TcpLoopbackTest() : lock_(stack_.mu()) { stack_.SetNowLocked(kSecond); }
  ~TcpLoopbackTest() override {
    for (TcpEndpoint* ep : held_) ep->CloseLocked();
    stack_.FlushLocked();
  }
  TcpEndpoint* New() {
    TcpEndpoint* ep = stack_.tcp().NewEndpointLocked(false);
    held_.push_back(ep);
    return ep;
  }
  FullAddress Loop(uint16_t port) { return {IpAddr::V4(Ipv4Addr::Loopback()), port}; }
  size_t Send(TcpEndpoint* ep, const std::string& s) {
    iovec iov{const_cast<char*>(s.data()), s.size()};
    auto r = ep->SendLocked({&iov, 1}, false);
    stack_.FlushLocked();
    return r.ok() ? r.value() : 0;
  }
  std::string Recv(TcpEndpoint* ep, size_t max = 65536) {
    std::string buf(max, '\0');
    iovec iov{buf.data(), buf.size()};
    auto r = ep->RecvLocked({&iov, 1}, false);
    stack_.FlushLocked();
    if (!r.ok()) return "<" + std::to_string(static_cast<int>(r.error())) + ">";
    buf.resize(r.value());
    return buf;
  }
  // A connected pair: client and the accepted server side.
  std::pair<TcpEndpoint*, TcpEndpoint*> Connect() {
    TcpEndpoint* listener = New();
    EXPECT_TRUE(listener->BindLocked(Loop(0)).ok());
    EXPECT_TRUE(listener->ListenLocked(16).ok());
    TcpEndpoint* client = New();
    EXPECT_EQ(client->ConnectLocked(Loop(listener->local_port())).error(), Error::kInProgress);
    stack_.FlushLocked();
    EXPECT_EQ(client->state(), State::kEstablished);
    auto child = listener->AcceptLocked();
    EXPECT_TRUE(child.ok());
    if (!child.ok()) return {client, nullptr};
    held_.push_back(child.value());
    return {client, child.value()};
  }

  Stack stack_;
  MutexLock lock_;
  std::vector<TcpEndpoint*> held_;
};

TEST_F(TcpLoopbackTest, HandshakeAndDataBothWays) {
  auto [client, server] = Connect();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->state(), State::kEstablished);
  EXPECT_EQ(Send(client, "hello"), 5u);
  EXPECT_EQ(Recv(server), "hello");
  EXPECT_EQ(Send(server, "world!"), 6u);
  EXPECT_EQ(Recv(client), "world!");
  EXPECT_EQ(Recv(client), "<" + std::to_string(static_cast<int>(Error::kWouldBlock)) + ">");
}

TEST_F(TcpLoopbackTest, LargeTransferIsByteExact) {
  auto [client, server] = Connect();
  ASSERT_NE(server, nullptr);
  std::string sent, got;
  for (int i = 0; i < 3 * 1024 * 1024; ++i) sent.push_back(static_cast<char>((i * 131) ^ (i >> 9)));
  size_t off = 0;
  for (int rounds = 0; rounds < 100000 && got.size() < sent.size(); ++rounds) {
    if (off < sent.size()) {
      iovec iov{sent.data() + off, sent.size() - off};
      auto r = client->SendLocked({&iov, 1}, false);
      if (r.ok()) off += r.value();
      stack_.FlushLocked();
    }
    std::string chunk = Recv(server, 1 << 20);
    if (!chunk.empty() && chunk[0] != '<') {
      got += chunk;
    } else {  // nothing moved: let the delayed-ACK and retransmission timers run
      stack_.SetNowLocked(stack_.now() + 50 * kMillisecond);
      stack_.RunTimersLocked();
      stack_.FlushLocked();
    }
  }
  ASSERT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

TEST_F(TcpLoopbackTest, OrderlyCloseReachesTimeWaitAndEndOfStream) {
  auto [client, server] = Connect();
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(client->ShutdownLocked(SHUT_WR).ok());
  stack_.FlushLocked();
  EXPECT_EQ(Recv(server), "");  // end of stream
  EXPECT_EQ(server->state(), State::kCloseWait);
  EXPECT_EQ(client->state(), State::kFinWait2);
  ASSERT_TRUE(server->ShutdownLocked(SHUT_WR).ok());
  stack_.FlushLocked();
  EXPECT_EQ(client->state(), State::kTimeWait);
  EXPECT_EQ(server->state(), State::kClosed);
  stack_.SetNowLocked(stack_.now() + 61 * kSecond);
  stack_.RunTimersLocked();
  EXPECT_EQ(client->state(), State::kClosed);
}

TEST_F(TcpLoopbackTest, ConnectToClosedPortIsRefused) {
  TcpEndpoint* client = New();
  EXPECT_EQ(client->ConnectLocked(Loop(9)).error(), Error::kInProgress);
  stack_.FlushLocked();
  EXPECT_EQ(client->state(), State::kClosed);
  EXPECT_EQ(client->TakeErrorLocked(), Error::kConnectionRefused);
}

TEST_F(TcpLoopbackTest, CloseWithUnreadDataResets) {
  auto [client, server] = Connect();
  ASSERT_NE(server, nullptr);
  Send(client, "unread");
  server->CloseLocked();
  held_.pop_back();
  stack_.FlushLocked();
  EXPECT_EQ(client->state(), State::kClosed);
  EXPECT_EQ(client->TakeErrorLocked(), Error::kConnectionReset);
}

}  // namespace
}  // namespace tapsock::tcp
