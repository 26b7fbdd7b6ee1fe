// Conformance tests for ending TCP connections over 127.0.0.1, for AF_INET
// and dual-stack AF_INET6 sockets.
//
// Covers what poll() reports on each half-close (POLLRDHUP, POLLHUP and when
// they do not appear); the TCP_INFO states through a graceful close (the
// active closer reads CLOSE, never TIME_WAIT); resets: close() with unread
// data, SO_LINGER {1, 0}, closing a listener with queued connections, and
// writing to a peer that closed (EPIPE, not ECONNRESET); how ECONNRESET is
// reported once, through recv() or SO_ERROR; shutdown() on a listener (SHUT_RD
// stops it and wakes accept(), SHUT_WR does nothing); reusing ports held by
// TIME_WAIT with SO_REUSEADDR; and that 200 connections leak no descriptors.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

constexpr short kAllEvents = POLLIN | POLLOUT | POLLRDHUP;

class TcpCloseTest : public ConnectedPairTest {
 protected:
  // Makes client_ close() while the server's "data" sits unread in its
  // receive queue, which turns the close into a reset.
  void CloseClientWithUnreadData() {
    ASSERT_TRUE(SendAll(server_.get(), "data"));
    ASSERT_TRUE(WaitForInq(client_.get(), 4));
    client_.reset();
    ASSERT_NE(PollOne(server_.get(), POLLIN) & POLLIN, 0);
  }
};

// ------------------------------------------------------------------- poll

// The peer's FIN makes the socket readable (EOF) and POLLRDHUP, not POLLHUP.
TEST_P(TcpCloseTest, PeerCloseIsReadableAndRdhupButNotHup) {
  server_.reset();
  ASSERT_NE(PollOne(client_.get(), POLLRDHUP) & POLLRDHUP, 0);
  EXPECT_EQ(PollOne(client_.get(), kAllEvents, 0), POLLIN | POLLOUT | POLLRDHUP);
  char buf[4];
  EXPECT_THAT(SYSCALL(recv(client_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
  EXPECT_EQ(TcpStateOf(client_.get()), kTcpCloseWait);
}

// After its own shutdown(SHUT_WR) a socket still polls writable (a send()
// would fail at once with EPIPE), and nothing else.
TEST_P(TcpCloseTest, OwnShutdownWrPollsOnlyWritable) {
  ASSERT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
  EXPECT_EQ(PollOne(client_.get(), kAllEvents, 0), POLLOUT);
  ASSERT_NE(PollOne(server_.get(), POLLRDHUP) & POLLRDHUP, 0);
  EXPECT_TRUE(WaitForTcpState(client_.get(), kTcpFinWait2));
  EXPECT_EQ(PollOne(client_.get(), kAllEvents, 0), POLLOUT);
}

// POLLHUP needs both directions shut, by either side.
TEST_P(TcpCloseTest, PollHupOnceBothDirectionsAreShut) {
  ASSERT_THAT(SYSCALL(shutdown(client_.get(), SHUT_RDWR)), SyscallSucceeds());
  EXPECT_EQ(PollOne(client_.get(), kAllEvents, 0), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
  ASSERT_NE(PollOne(server_.get(), POLLRDHUP) & POLLRDHUP, 0);
  ASSERT_THAT(SYSCALL(shutdown(server_.get(), SHUT_WR)), SyscallSucceeds());
  ASSERT_NE(PollOne(server_.get(), POLLHUP) & POLLHUP, 0);
  EXPECT_EQ(PollOne(server_.get(), kAllEvents, 0), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
}

// The active closer's socket goes FIN_WAIT2 -> CLOSE: TIME_WAIT lives on
// without the socket, which TCP_INFO never shows.
TEST_P(TcpCloseTest, StatesThroughGracefulClose) {
  ASSERT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
  EXPECT_TRUE(WaitForTcpState(client_.get(), kTcpFinWait2));
  EXPECT_TRUE(WaitForTcpState(server_.get(), kTcpCloseWait));
  ASSERT_THAT(SYSCALL(shutdown(server_.get(), SHUT_WR)), SyscallSucceeds());
  EXPECT_TRUE(WaitForTcpState(server_.get(), kTcpClose));
  EXPECT_TRUE(WaitForTcpState(client_.get(), kTcpClose));
  EXPECT_THAT(SYSCALL(shutdown(client_.get(), SHUT_RDWR)), SyscallFailsWithErrno(ENOTCONN));
  EXPECT_THAT(SYSCALL(shutdown(server_.get(), SHUT_RDWR)), SyscallFailsWithErrno(ENOTCONN));
  char buf[4];
  EXPECT_THAT(SYSCALL(recv(client_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
}

// ------------------------------------------------------------------ reset

// ECONNRESET is reported once; then the socket is closed and reads EOF.
TEST_P(TcpCloseTest, CloseWithUnreadDataResetsThePeer) {
  CloseClientWithUnreadData();
  EXPECT_EQ(PollOne(server_.get(), kAllEvents, 0),
            POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
  char buf[8];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallFailsWithErrno(ECONNRESET));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SYSCALL(send(server_.get(), "x", 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EPIPE));
  EXPECT_EQ(TcpStateOf(server_.get()), kTcpClose);
  EXPECT_EQ(PollOne(server_.get(), kAllEvents, 0), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
}

TEST_P(TcpCloseTest, SoErrorConsumesTheReset) {
  CloseClientWithUnreadData();
  EXPECT_EQ(GetIntOpt(server_.get(), SOL_SOCKET, SO_ERROR), ECONNRESET);
  EXPECT_EQ(GetIntOpt(server_.get(), SOL_SOCKET, SO_ERROR), 0);
  char buf[8];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
}

TEST_P(TcpCloseTest, LingerZeroCloseResetsThePeer) {
  const linger lg = {1, 0};
  ASSERT_THAT(SYSCALL(setsockopt(client_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))),
              SyscallSucceeds());
  client_.reset();
  ASSERT_NE(PollOne(server_.get(), POLLIN) & POLLIN, 0);
  char buf[8];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallFailsWithErrno(ECONNRESET));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
}

// Writing to a peer that closed is accepted once; the peer answers with a
// reset, which Linux reports as EPIPE (the socket had already read EOF), and
// recv() keeps returning 0.
TEST_P(TcpCloseTest, WriteAfterPeerCloseSucceedsOnceThenEPIPE) {
  server_.reset();
  ASSERT_NE(PollOne(client_.get(), POLLRDHUP) & POLLRDHUP, 0);
  EXPECT_THAT(SYSCALL(send(client_.get(), "x", 1, MSG_NOSIGNAL)), SyscallSucceedsWithValue(1));
  ASSERT_NE(PollOne(client_.get(), POLLERR) & POLLERR, 0);
  char buf[4];
  EXPECT_THAT(SYSCALL(recv(client_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
  EXPECT_EQ(GetIntOpt(client_.get(), SOL_SOCKET, SO_ERROR), EPIPE);
  EXPECT_THAT(SYSCALL(send(client_.get(), "x", 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EPIPE));
  EXPECT_EQ(TcpStateOf(client_.get()), kTcpClose);
}

// Data queued before a normal close() is all delivered, then EOF.
TEST_P(TcpCloseTest, CloseDeliversQueuedDataBeforeEof) {
  const std::string data(1 << 20, 'q');
  std::string received;
  std::thread reader([&] { received = RecvUpTo(server_.get(), data.size() + 1); });
  EXPECT_TRUE(SendAll(client_.get(), data));
  client_.reset();
  reader.join();
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);
}

// --------------------------------------------------------------- listener

TEST_P(TcpCloseTest, ClosingListenerResetsQueuedConnections) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor queued = TcpSocket(family());
  SetSafetyTimeouts(queued.get());
  ASSERT_THAT(ConnectTo(queued.get(), addr), SyscallSucceeds());
  ASSERT_NE(PollOne(listener.get(), POLLIN) & POLLIN, 0);
  listener.reset();
  ASSERT_NE(PollOne(queued.get(), POLLIN) & POLLIN, 0);
  char buf[4];
  EXPECT_THAT(SYSCALL(recv(queued.get(), buf, sizeof(buf), 0)), SyscallFailsWithErrno(ECONNRESET));
  EXPECT_THAT(SYSCALL(recv(queued.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
}

// shutdown(SHUT_RD) on a listener stops it: a blocked accept() fails with
// EINVAL, connections are refused, and the socket is an unconnected one that
// may listen again. (Linux also gives back a port that bind() chose, so the
// new listener may be on another port; getsockname() tells.)
TEST_P(TcpCloseTest, ShutdownRdStopsListenerAndWakesAccept) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  SyscallResult r = {};
  std::thread acceptor([&] { r = SYSCALL(accept(listener.get(), nullptr, nullptr)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_THAT(SYSCALL(shutdown(listener.get(), SHUT_RDWR)), SyscallSucceeds());
  acceptor.join();
  EXPECT_THAT(r, SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(GetIntOpt(listener.get(), SOL_SOCKET, SO_ACCEPTCONN), 0);
  EXPECT_EQ(TcpStateOf(listener.get()), kTcpClose);
  EXPECT_EQ(PollOne(listener.get(), kAllEvents, 0), POLLOUT | POLLHUP);
  FileDescriptor refused = TcpSocket(family());
  SetSafetyTimeouts(refused.get());
  EXPECT_THAT(ConnectTo(refused.get(), addr), SyscallFailsWithErrno(ECONNREFUSED));
  ASSERT_THAT(SYSCALL(listen(listener.get(), 4)), SyscallSucceeds());
  FileDescriptor client = TcpSocket(family());
  EXPECT_THAT(ConnectTo(client.get(), GetSockName(listener.get())), SyscallSucceeds());
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

TEST_P(TcpCloseTest, ShutdownWrOnListenerChangesNothing) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  EXPECT_THAT(SYSCALL(shutdown(listener.get(), SHUT_WR)), SyscallSucceeds());
  EXPECT_EQ(GetIntOpt(listener.get(), SOL_SOCKET, SO_ACCEPTCONN), 1);
  FileDescriptor client = TcpSocket(family());
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

// -------------------------------------------------------------- TIME_WAIT

class TcpTimeWaitTest : public ::testing::TestWithParam<int> {
 protected:
  int family() const { return GetParam(); }

  // A server (listener with SO_REUSEADDR) accepts a connection and closes
  // first, so that its port ends up in TIME_WAIT; returns the port's address.
  SocketAddress ServerPortInTimeWait() {
    SocketAddress addr;
    FileDescriptor listener = TcpSocket(family());
    SetIntOpt(listener.get(), SOL_SOCKET, SO_REUSEADDR, 1);
    SocketAddress lo = LoopbackAddress(family());
    EXPECT_THAT(SYSCALL(bind(listener.get(), lo.get(), lo.len)), SyscallSucceeds());
    EXPECT_THAT(SYSCALL(listen(listener.get(), 4)), SyscallSucceeds());
    addr = GetSockName(listener.get());
    FileDescriptor client = TcpSocket(family());
    EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
    FileDescriptor server = AcceptOne(listener.get());
    listener.reset();
    server.reset();
    EXPECT_TRUE(WaitForTcpState(client.get(), kTcpCloseWait));
    EXPECT_THAT(SYSCALL(shutdown(client.get(), SHUT_WR)), SyscallSucceeds());
    // CLOSE means the server acknowledged our FIN: it is in TIME_WAIT.
    EXPECT_TRUE(WaitForTcpState(client.get(), kTcpClose));
    return addr;
  }
};

TEST_P(TcpTimeWaitTest, ReuseaddrRebindsServerPortInTimeWait) {
  SocketAddress addr = ServerPortInTimeWait();
  FileDescriptor fd = TcpSocket(family());
  SetIntOpt(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  ASSERT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallSucceeds());
  ASSERT_THAT(SYSCALL(listen(fd.get(), 4)), SyscallSucceeds());
  SetSafetyTimeouts(fd.get());
  FileDescriptor client = TcpSocket(family());
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  EXPECT_TRUE(AcceptOne(fd.get()).valid());
}

TEST_P(TcpTimeWaitTest, WithoutReuseaddrTimeWaitPortIsEADDRINUSE) {
  SocketAddress addr = ServerPortInTimeWait();
  FileDescriptor fd = TcpSocket(family());
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EADDRINUSE));
}

// The client's port, left in TIME_WAIT by an active close, can be bound
// again (and used to connect) if both sockets set SO_REUSEADDR.
TEST_P(TcpTimeWaitTest, ReuseaddrRebindsClientPortInTimeWait) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  SetIntOpt(client.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  const SocketAddress client_addr = GetSockName(client.get());
  FileDescriptor server = AcceptOne(listener.get());
  ASSERT_THAT(SYSCALL(shutdown(client.get(), SHUT_WR)), SyscallSucceeds());
  ASSERT_TRUE(WaitForTcpState(server.get(), kTcpCloseWait));
  server.reset();
  ASSERT_TRUE(WaitForTcpState(client.get(), kTcpClose));  // Now in TIME_WAIT.
  client.reset();
  FileDescriptor plain = TcpSocket(family());
  EXPECT_THAT(SYSCALL(bind(plain.get(), client_addr.get(), client_addr.len)),
              SyscallFailsWithErrno(EADDRINUSE));
  FileDescriptor fd = TcpSocket(family());
  SetIntOpt(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  ASSERT_THAT(SYSCALL(bind(fd.get(), client_addr.get(), client_addr.len)), SyscallSucceeds());
  SocketAddress other;
  FileDescriptor other_listener = TcpListener(family(), &other);
  EXPECT_THAT(ConnectTo(fd.get(), other), SyscallSucceeds());
  EXPECT_EQ(GetSockName(fd.get()).ToString(), client_addr.ToString());
}

// ------------------------------------------------------------------ leaks

TEST_P(TcpTimeWaitTest, ManySequentialConnectionsLeakNoDescriptors) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 64);
  {
    // Warm up, so that anything created on first use is not counted.
    FileDescriptor c = TcpSocket(family());
    ASSERT_THAT(ConnectTo(c.get(), addr), SyscallSucceeds());
    AcceptOne(listener.get());
  }
  const int baseline = CountOpenFds();
  ASSERT_GT(baseline, 0);
  for (int i = 0; i < 200; ++i) {
    FileDescriptor client = TcpSocket(family());
    ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds()) << i;
    FileDescriptor server = AcceptOne(listener.get());
    ASSERT_TRUE(server.valid()) << i;
    ASSERT_TRUE(SendAll(client.get(), "x"));
    ASSERT_EQ(RecvUpTo(server.get(), 1), "x");
  }
  EXPECT_EQ(CountOpenFds(), baseline);
}

INSTANTIATE_TEST_SUITE_P(Families, TcpCloseTest, ::testing::Values(AF_INET, AF_INET6),
                         FamilyName);
INSTANTIATE_TEST_SUITE_P(Families, TcpTimeWaitTest, ::testing::Values(AF_INET, AF_INET6),
                         FamilyName);

}  // namespace
}  // namespace tapsock::testing
