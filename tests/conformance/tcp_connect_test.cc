// Conformance tests for setting up TCP connections over 127.0.0.1, for
// AF_INET and dual-stack AF_INET6 sockets.
//
// Covers the defaults of a fresh SOCK_STREAM socket; listen() (autobind,
// backlog values, listening twice, the backlog + 1 connections Linux queues);
// accept()/accept4() (peer address and length, flags, errors, timeouts, the
// connection a bad address length loses); getsockname()/getpeername(); blocking
// and non-blocking connect() with EINPROGRESS/EALREADY/EISCONN and SO_ERROR,
// including Linux's "the connect() after completion returns 0"; refused
// connections and what poll() and later connect() calls report; v4-mapped
// connections across families; and port sharing (EADDRINUSE, SO_REUSEADDR,
// SO_REUSEPORT).

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

class TcpConnectTest : public ::testing::TestWithParam<int> {
 protected:
  int family() const { return GetParam(); }
  socklen_t AddrLen() const {
    return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  }
};

// ------------------------------------------------------------- the socket

TEST_P(TcpConnectTest, SocketDefaults) {
  for (int protocol : {0, static_cast<int>(IPPROTO_TCP)}) {
    SCOPED_TRACE(protocol);
    FileDescriptor fd(socket(family(), SOCK_STREAM, protocol));
    ASSERT_TRUE(fd.valid());
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_DOMAIN), family());
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN), 0);
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_ERROR), 0);
    EXPECT_EQ(TcpStateOf(fd.get()), kTcpClose);
  }
}

// A socket in state CLOSE polls as writable and hung up, never readable.
TEST_P(TcpConnectTest, FreshSocketPollsOutAndHup) {
  FileDescriptor fd = TcpSocket(family());
  EXPECT_EQ(PollOne(fd.get(), POLLIN | POLLOUT | POLLRDHUP, 0), POLLOUT | POLLHUP);
}

// ------------------------------------------------------------------ listen

TEST_P(TcpConnectTest, ListenOnUnboundSocketAutobindsToWildcard) {
  FileDescriptor fd = TcpSocket(family());
  ASSERT_THAT(SYSCALL(listen(fd.get(), 4)), SyscallSucceeds());
  SetSafetyTimeouts(fd.get());
  SocketAddress bound = GetSockName(fd.get());
  EXPECT_NE(bound.port(), 0);
  EXPECT_EQ(bound.ToString(), AnyAddress(family(), bound.port()).ToString());
  FileDescriptor client = TcpSocket(family());
  EXPECT_THAT(ConnectTo(client.get(), LoopbackAddress(family(), bound.port())), SyscallSucceeds());
  EXPECT_TRUE(AcceptOne(fd.get()).valid());
}

// listen(0) still lets one connection complete.
TEST_P(TcpConnectTest, ListenBacklogZeroAcceptsAConnection) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 0);
  FileDescriptor client = TcpSocket(family());
  SetSafetyTimeouts(client.get());
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

// Negative and huge backlogs are clamped (to somaxconn), not rejected.
TEST_P(TcpConnectTest, ListenNegativeAndHugeBacklogsAreAccepted) {
  for (int backlog : {-1, -100, 1 << 20, INT_MAX}) {
    SCOPED_TRACE(backlog);
    SocketAddress addr;
    FileDescriptor listener = TcpListener(family(), &addr, backlog);
    FileDescriptor client = TcpSocket(family());
    SetSafetyTimeouts(client.get());
    EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
    EXPECT_TRUE(AcceptOne(listener.get()).valid());
  }
}

TEST_P(TcpConnectTest, ListenTwiceIsAllowed) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 1);
  EXPECT_THAT(SYSCALL(listen(listener.get(), 100)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(listen(listener.get(), 0)), SyscallSucceeds());
  EXPECT_EQ(GetIntOpt(listener.get(), SOL_SOCKET, SO_ACCEPTCONN), 1);
  EXPECT_EQ(GetSockName(listener.get()).ToString(), addr.ToString());
  FileDescriptor client = TcpSocket(family());
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

TEST_P(TcpConnectTest, BindOrListenAfterConnectOrListenIsEINVAL) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  TcpPair pair = ConnectedPair(family());
  SocketAddress any_port = LoopbackAddress(family());
  EXPECT_THAT(SYSCALL(bind(pair.client.get(), any_port.get(), any_port.len)),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(bind(listener.get(), any_port.get(), any_port.len)),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(listen(pair.client.get(), 1)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(listen(pair.server.get(), 1)), SyscallFailsWithErrno(EINVAL));
}

TEST_P(TcpConnectTest, SoAcceptConnOnlyOnListener) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  FileDescriptor server = AcceptOne(listener.get());
  EXPECT_EQ(GetIntOpt(listener.get(), SOL_SOCKET, SO_ACCEPTCONN), 1);
  EXPECT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ACCEPTCONN), 0);
  EXPECT_EQ(GetIntOpt(server.get(), SOL_SOCKET, SO_ACCEPTCONN), 0);
}

// Linux queues backlog + 1 connections before it starts dropping SYNs; the
// connect() that comes next stays in progress.
TEST_P(TcpConnectTest, BacklogOneQueuesTwoConnections) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 1);
  std::vector<FileDescriptor> queued;
  FileDescriptor stuck = ConnectIntoFullBacklog(family(), addr, &queued);
  EXPECT_TRUE(stuck.valid()) << "no connect() stayed in progress";
  EXPECT_EQ(queued.size(), 2u);
  for (size_t i = 0; i < queued.size(); ++i) EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

// ------------------------------------------------------------------ accept

TEST_P(TcpConnectTest, AcceptReportsPeerAddressAndLength) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  SocketAddress peer;
  peer.len = sizeof(peer.storage);
  FileDescriptor server(accept(listener.get(), peer.get(), &peer.len));
  ASSERT_TRUE(server.valid()) << ErrnoName(errno);
  EXPECT_EQ(peer.len, AddrLen());
  EXPECT_EQ(peer.family(), family());
  EXPECT_EQ(peer.ToString(), GetSockName(client.get()).ToString());
}

// A short buffer gets a truncated address; the length says how long it was.
TEST_P(TcpConnectTest, AcceptTruncatesAddressButReportsFullLength) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  unsigned char buf[sizeof(sockaddr_storage)];
  memset(buf, 0xAA, sizeof(buf));
  socklen_t len = 4;
  FileDescriptor server(accept(listener.get(), reinterpret_cast<sockaddr*>(buf), &len));
  ASSERT_TRUE(server.valid()) << ErrnoName(errno);
  EXPECT_EQ(len, AddrLen());
  sa_family_t written;
  memcpy(&written, buf, sizeof(written));
  EXPECT_EQ(written, family());
  EXPECT_EQ(buf[4], 0xAA);
}

TEST_P(TcpConnectTest, AcceptFlagsApplyAndListenerFlagsAreNotInherited) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 16, SOCK_NONBLOCK);
  std::vector<FileDescriptor> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(TcpSocket(family()));
    ASSERT_THAT(ConnectTo(clients.back().get(), addr), SyscallSucceeds());
  }
  ASSERT_NE(PollOne(listener.get(), POLLIN) & POLLIN, 0);
  FileDescriptor plain(accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(plain.valid()) << ErrnoName(errno);
  EXPECT_EQ(fcntl(plain.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(plain.get(), F_GETFD) & FD_CLOEXEC, 0);
  FileDescriptor nonblocking = AcceptOne(listener.get(), SOCK_NONBLOCK);
  EXPECT_NE(fcntl(nonblocking.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(nonblocking.get(), F_GETFD) & FD_CLOEXEC, 0);
  FileDescriptor cloexec = AcceptOne(listener.get(), SOCK_CLOEXEC);
  EXPECT_EQ(fcntl(cloexec.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(cloexec.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST_P(TcpConnectTest, Accept4WithUnknownFlagsIsEINVALAndKeepsTheConnection) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  ASSERT_NE(PollOne(listener.get(), POLLIN) & POLLIN, 0);
  for (int flags : {1, SOCK_NONBLOCK | 2, -1}) {
    EXPECT_THAT(SYSCALL(accept4(listener.get(), nullptr, nullptr, flags)),
                SyscallFailsWithErrno(EINVAL))
        << flags;
  }
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

// Linux takes the connection off the queue before it writes the address out,
// so a negative address length fails the call and loses the connection: it
// is closed and the client reads end of stream.
TEST_P(TcpConnectTest, AcceptWithNegativeAddrlenIsEINVALAndDropsTheConnection) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  ASSERT_NE(PollOne(listener.get(), POLLIN) & POLLIN, 0);
  sockaddr_storage ss;
  socklen_t len = static_cast<socklen_t>(-1);
  EXPECT_THAT(SYSCALL(accept(listener.get(), reinterpret_cast<sockaddr*>(&ss), &len)),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(PollOne(listener.get(), POLLIN, 0), 0);
  ASSERT_NE(PollOne(client.get(), POLLIN) & POLLIN, 0);
  char c;
  EXPECT_THAT(SYSCALL(recv(client.get(), &c, 1, MSG_DONTWAIT)), SyscallSucceedsWithValue(0));
}

TEST_P(TcpConnectTest, AcceptOnNonListeningSocketIsEINVAL) {
  FileDescriptor fresh = TcpSocket(family());
  EXPECT_THAT(SYSCALL(accept(fresh.get(), nullptr, nullptr)), SyscallFailsWithErrno(EINVAL));
  FileDescriptor bound = TcpSocket(family());
  SocketAddress addr = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(bound.get(), addr.get(), addr.len)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(accept(bound.get(), nullptr, nullptr)), SyscallFailsWithErrno(EINVAL));
  TcpPair pair = ConnectedPair(family());
  EXPECT_THAT(SYSCALL(accept(pair.client.get(), nullptr, nullptr)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(accept(pair.server.get(), nullptr, nullptr)), SyscallFailsWithErrno(EINVAL));
}

TEST_P(TcpConnectTest, AcceptWithoutPendingConnectionIsEAGAIN) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 16, SOCK_NONBLOCK);
  EXPECT_THAT(SYSCALL(accept(listener.get(), nullptr, nullptr)), SyscallFailsWithErrno(EAGAIN));
  // A blocking accept() honours SO_RCVTIMEO.
  FileDescriptor blocking = TcpListener(family(), &addr);
  const timeval tv = {0, 100000};
  ASSERT_THAT(SYSCALL(setsockopt(blocking.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))),
              SyscallSucceeds());
  EXPECT_THAT(SYSCALL(accept(blocking.get(), nullptr, nullptr)), SyscallFailsWithErrno(EAGAIN));
}

TEST_P(TcpConnectTest, BlockingAcceptWakesWhenAClientConnects) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  SyscallResult r = {};
  std::thread acceptor([&] { r = SYSCALL(accept(listener.get(), nullptr, nullptr)); });
  FileDescriptor client = TcpSocket(family());
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  acceptor.join();
  EXPECT_THAT(r, SyscallSucceeds());
  if (r.ret >= 0) close(static_cast<int>(r.ret));
}

// ------------------------------------------------------------------- names

TEST_P(TcpConnectTest, NamesOnBothEnds) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  FileDescriptor server = AcceptOne(listener.get());
  SocketAddress client_name = GetSockName(client.get());
  EXPECT_EQ(client_name.family(), family());
  EXPECT_EQ(client_name.len, AddrLen());
  EXPECT_NE(client_name.port(), 0);
  EXPECT_EQ(client_name.ToString(), LoopbackAddress(family(), client_name.port()).ToString());
  EXPECT_EQ(GetPeerName(client.get()).ToString(), addr.ToString());
  EXPECT_EQ(GetSockName(server.get()).ToString(), addr.ToString());
  EXPECT_EQ(GetPeerName(server.get()).ToString(), client_name.ToString());
}

TEST_P(TcpConnectTest, GetpeernameWithoutPeerIsENOTCONN) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor fresh = TcpSocket(family());
  for (int fd : {fresh.get(), listener.get()}) {
    SocketAddress peer;
    peer.len = sizeof(peer.storage);
    EXPECT_THAT(SYSCALL(getpeername(fd, peer.get(), &peer.len)), SyscallFailsWithErrno(ENOTCONN));
  }
}

// ----------------------------------------------------------------- connect

TEST_P(TcpConnectTest, BlockingConnectEstablishes) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family());
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  EXPECT_EQ(TcpStateOf(client.get()), kTcpEstablished);
  EXPECT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ERROR), 0);
  EXPECT_EQ(PollOne(client.get(), POLLIN | POLLOUT | POLLRDHUP, 0), POLLOUT);
  // connect() on a connected socket, to any address, is EISCONN.
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallFailsWithErrno(EISCONN));
  EXPECT_THAT(ConnectTo(client.get(), LoopbackAddress(family(), 1)), SyscallFailsWithErrno(EISCONN));
}

// After a non-blocking connect completes, Linux makes the next connect()
// report the success (0); only the one after that is EISCONN.
TEST_P(TcpConnectTest, NonblockingConnectCompletesAsynchronously) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family(), SOCK_NONBLOCK);
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallFailsWithErrno(EINPROGRESS));
  EXPECT_EQ(PollOne(client.get(), POLLOUT), POLLOUT);
  EXPECT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ERROR), 0);
  EXPECT_EQ(TcpStateOf(client.get()), kTcpEstablished);
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceedsWithValue(0));
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallFailsWithErrno(EISCONN));
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

TEST_P(TcpConnectTest, ConnectWhileInProgressIsEALREADY) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 1);
  std::vector<FileDescriptor> queued;
  FileDescriptor stuck = ConnectIntoFullBacklog(family(), addr, &queued);
  ASSERT_TRUE(stuck.valid());
  EXPECT_THAT(ConnectTo(stuck.get(), addr), SyscallFailsWithErrno(EALREADY));
  EXPECT_THAT(ConnectTo(stuck.get(), addr), SyscallFailsWithErrno(EALREADY));
}

TEST_P(TcpConnectTest, SocketWithConnectInProgress) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr, 1);
  std::vector<FileDescriptor> queued;
  FileDescriptor stuck = ConnectIntoFullBacklog(family(), addr, &queued);
  ASSERT_TRUE(stuck.valid());
  const int fd = stuck.get();
  EXPECT_EQ(PollOne(fd, POLLIN | POLLOUT | POLLRDHUP, 0), 0);
  EXPECT_EQ(TcpStateOf(fd), kTcpSynSent);
  EXPECT_EQ(GetIntOpt(fd, SOL_SOCKET, SO_ERROR), 0);
  EXPECT_NE(GetSockName(fd).port(), 0);
  SocketAddress peer;
  peer.len = sizeof(peer.storage);
  EXPECT_THAT(SYSCALL(getpeername(fd, peer.get(), &peer.len)), SyscallFailsWithErrno(ENOTCONN));
  char c = 'x';
  EXPECT_THAT(SYSCALL(recv(fd, &c, 1, 0)), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(SYSCALL(send(fd, &c, 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(SYSCALL(listen(fd, 1)), SyscallFailsWithErrno(EINVAL));
}

TEST_P(TcpConnectTest, ConnectOnListeningSocketIsEISCONN) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  EXPECT_THAT(ConnectTo(listener.get(), addr), SyscallFailsWithErrno(EISCONN));
}

// ------------------------------------------------------- refused connects

// A failed blocking connect leaves a socket that can connect again.
TEST_P(TcpConnectTest, BlockingConnectToClosedPortIsECONNREFUSED) {
  RefusingPort closed(family());
  FileDescriptor client = TcpSocket(family());
  SetSafetyTimeouts(client.get());
  EXPECT_THAT(ConnectTo(client.get(), closed.address()), SyscallFailsWithErrno(ECONNREFUSED));
  EXPECT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ERROR), 0);
  EXPECT_EQ(PollOne(client.get(), POLLIN | POLLOUT | POLLRDHUP, 0), POLLOUT | POLLHUP);
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

// The refusal is readable, writable, error and hang-up at once; reading
// SO_ERROR clears the error (and so POLLERR) but not the rest.
TEST_P(TcpConnectTest, NonblockingConnectToClosedPortReportsThroughPollAndSoError) {
  RefusingPort closed(family());
  FileDescriptor client = TcpSocket(family(), SOCK_NONBLOCK);
  ASSERT_THAT(ConnectTo(client.get(), closed.address()), SyscallFailsWithErrno(EINPROGRESS));
  EXPECT_EQ(PollOne(client.get(), POLLOUT), POLLOUT | POLLERR | POLLHUP);
  EXPECT_EQ(PollOne(client.get(), POLLIN | POLLOUT | POLLRDHUP, 0),
            POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
  EXPECT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ERROR), ECONNREFUSED);
  EXPECT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ERROR), 0);
  EXPECT_EQ(PollOne(client.get(), POLLIN | POLLOUT | POLLRDHUP, 0),
            POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
  EXPECT_EQ(TcpStateOf(client.get()), kTcpClose);
}

// A connect() after the refusal (SO_ERROR unread) reports the refusal; the
// next one starts a new attempt, which may go anywhere.
TEST_P(TcpConnectTest, ConnectAfterRefusedNonblockingConnectReportsItThenRetries) {
  RefusingPort closed(family());
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family(), SOCK_NONBLOCK);
  ASSERT_THAT(ConnectTo(client.get(), closed.address()), SyscallFailsWithErrno(EINPROGRESS));
  ASSERT_NE(PollOne(client.get(), POLLOUT) & POLLERR, 0);
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallFailsWithErrno(ECONNREFUSED));
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallFailsWithErrno(EINPROGRESS));
  EXPECT_EQ(PollOne(client.get(), POLLOUT), POLLOUT);
  EXPECT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ERROR), 0);
  EXPECT_TRUE(AcceptOne(listener.get()).valid());
}

// Once SO_ERROR consumed the refusal, the next connect() finds the attempt
// failed with no error left to report: Linux says ECONNABORTED.
TEST_P(TcpConnectTest, ConnectAfterConsumedRefusalIsECONNABORTED) {
  RefusingPort closed(family());
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor client = TcpSocket(family(), SOCK_NONBLOCK);
  ASSERT_THAT(ConnectTo(client.get(), closed.address()), SyscallFailsWithErrno(EINPROGRESS));
  ASSERT_NE(PollOne(client.get(), POLLOUT) & POLLERR, 0);
  ASSERT_EQ(GetIntOpt(client.get(), SOL_SOCKET, SO_ERROR), ECONNREFUSED);
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallFailsWithErrno(ECONNABORTED));
  EXPECT_THAT(ConnectTo(client.get(), addr), SyscallFailsWithErrno(EINPROGRESS));
  EXPECT_EQ(PollOne(client.get(), POLLOUT), POLLOUT);
}

// ------------------------------------------------------------ port sharing

TEST_P(TcpConnectTest, TwoSocketsOnOnePortIsEADDRINUSE) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  FileDescriptor other = TcpSocket(family());
  EXPECT_THAT(SYSCALL(bind(other.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EADDRINUSE));
  // SO_REUSEADDR does not help against a listener.
  SetIntOpt(other.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  EXPECT_THAT(SYSCALL(bind(other.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EADDRINUSE));
}

// With SO_REUSEADDR on both, two sockets may bind one port, but only one of
// them may listen on it.
TEST_P(TcpConnectTest, ReuseaddrSharesBindButNotListen) {
  FileDescriptor a = TcpSocket(family());
  FileDescriptor b = TcpSocket(family());
  SetIntOpt(a.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  SetIntOpt(b.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  SocketAddress addr = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(a.get(), addr.get(), addr.len)), SyscallSucceeds());
  addr = GetSockName(a.get());
  EXPECT_THAT(SYSCALL(bind(b.get(), addr.get(), addr.len)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(listen(a.get(), 4)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(listen(b.get(), 4)), SyscallFailsWithErrno(EADDRINUSE));
}

TEST_P(TcpConnectTest, ReuseportAllowsTwoListeners) {
  FileDescriptor a = TcpSocket(family());
  FileDescriptor b = TcpSocket(family());
  SetIntOpt(a.get(), SOL_SOCKET, SO_REUSEPORT, 1);
  SetIntOpt(b.get(), SOL_SOCKET, SO_REUSEPORT, 1);
  SocketAddress addr = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(a.get(), addr.get(), addr.len)), SyscallSucceeds());
  addr = GetSockName(a.get());
  ASSERT_THAT(SYSCALL(bind(b.get(), addr.get(), addr.len)), SyscallSucceeds());
  ASSERT_THAT(SYSCALL(listen(a.get(), 4)), SyscallSucceeds());
  ASSERT_THAT(SYSCALL(listen(b.get(), 4)), SyscallSucceeds());
  FileDescriptor client = TcpSocket(family());
  SetSafetyTimeouts(client.get());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  // Exactly one of the two listeners got the connection.
  pollfd pfds[2] = {{a.get(), POLLIN, 0}, {b.get(), POLLIN, 0}};
  ASSERT_THAT(SYSCALL(poll(pfds, 2, kEventTimeoutMs)), SyscallSucceedsWithValue(1));
  const int which = (pfds[0].revents & POLLIN) ? a.get() : b.get();
  EXPECT_TRUE(AcceptOne(which).valid());
}

// A socket that connects to its own address opens simultaneously with itself (RFC 9293 3.5) and
// ends up connected to itself: what it sends it receives.
TEST_P(TcpConnectTest, ConnectingToItsOwnAddressConnectsToItself) {
  FileDescriptor s = TcpSocket(family());
  SetSafetyTimeouts(s.get());
  SocketAddress self = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(s.get(), self.get(), self.len)), SyscallSucceeds());
  self = GetSockName(s.get());
  ASSERT_THAT(ConnectTo(s.get(), self), SyscallSucceeds());
  EXPECT_EQ(GetPeerName(s.get()).port(), self.port());
  ASSERT_TRUE(SendAll(s.get(), "myself"));
  EXPECT_EQ(RecvUpTo(s.get(), 6), "myself");
}

// "Bind port 0, read the number, close, bind it again": a closed socket that never connected
// keeps no hold on its port (how CPython's test suite finds free ports).
TEST_P(TcpConnectTest, ClosingABoundSocketReleasesItsPort) {
  for (bool listened : {false, true}) {
    SocketAddress addr = LoopbackAddress(family());
    {
      FileDescriptor s = TcpSocket(family());
      ASSERT_THAT(SYSCALL(bind(s.get(), addr.get(), addr.len)), SyscallSucceeds());
      if (listened) {
        ASSERT_THAT(SYSCALL(listen(s.get(), 4)), SyscallSucceeds());
      }
      addr = GetSockName(s.get());
    }
    FileDescriptor again = TcpSocket(family());
    EXPECT_THAT(SYSCALL(bind(again.get(), addr.get(), addr.len)), SyscallSucceeds()) << (listened ? "listener" : "bound");
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TcpConnectTest, ::testing::Values(AF_INET, AF_INET6),
                         FamilyName);

// ------------------------------------------------------------ cross family

// A dual-stack AF_INET6 listener on ::ffff:127.0.0.1 takes AF_INET clients;
// it sees them as v4-mapped AF_INET6 addresses.
TEST(TcpCrossFamilyTest, Inet6ListenerAcceptsInetClient) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(AF_INET6, &addr);
  FileDescriptor client = TcpSocket(AF_INET);
  ASSERT_THAT(ConnectTo(client.get(), LoopbackAddress(AF_INET, addr.port())), SyscallSucceeds());
  FileDescriptor server = AcceptOne(listener.get());
  EXPECT_EQ(GetIntOpt(server.get(), SOL_SOCKET, SO_DOMAIN), AF_INET6);
  const uint16_t client_port = GetSockName(client.get()).port();
  EXPECT_EQ(GetPeerName(server.get()).ToString(),
            LoopbackAddress(AF_INET6, client_port).ToString());
  EXPECT_EQ(GetSockName(server.get()).ToString(), addr.ToString());
}

TEST(TcpCrossFamilyTest, Inet6ClientConnectsToInetListener) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(AF_INET, &addr);
  FileDescriptor client = TcpSocket(AF_INET6);
  ASSERT_THAT(ConnectTo(client.get(), LoopbackAddress(AF_INET6, addr.port())), SyscallSucceeds());
  FileDescriptor server = AcceptOne(listener.get());
  SocketAddress client_name = GetSockName(client.get());
  EXPECT_EQ(client_name.ToString(), LoopbackAddress(AF_INET6, client_name.port()).ToString());
  EXPECT_EQ(GetPeerName(client.get()).ToString(), LoopbackAddress(AF_INET6, addr.port()).ToString());
  EXPECT_EQ(GetPeerName(server.get()).ToString(),
            LoopbackAddress(AF_INET, client_name.port()).ToString());
}

}  // namespace
}  // namespace tapsock::testing
