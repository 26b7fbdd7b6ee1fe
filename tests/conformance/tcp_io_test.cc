// Conformance tests for moving bytes over TCP connections on 127.0.0.1, for
// AF_INET and dual-stack AF_INET6 sockets.
//
// Covers the stream semantics (no boundaries: sends coalesce, short reads
// leave the rest); MSG_PEEK, MSG_TRUNC (on a stream it discards instead of
// copying), MSG_DONTWAIT, MSG_WAITALL; half-close with shutdown() and what
// recv()/send() return after it; EPIPE and SIGPIPE (including on unconnected
// sockets, which Linux treats as broken pipes); ENOTCONN; blocking writes
// larger than the buffers and partial non-blocking writes; read/write,
// readv/writev, sendmsg/recvmsg, recvfrom/sendto (no addresses on a stream);
// FIONREAD/TIOCINQ and TIOCOUTQ; and a byte-exact echo of 1 MiB in random
// chunk sizes. Urgent data (MSG_OOB) has its own file, tcp_urgent_test.cc.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

// Deterministic pseudo-random bytes.
std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

uint64_t Fnv1a(uint64_t h, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ull;
  }
  return h;
}
constexpr uint64_t kFnvBasis = 14695981039346656037ull;

class TcpIoTest : public ConnectedPairTest {
 protected:
  // Sends `data` from client_ and waits until all of it is queued at server_.
  void Deliver(const std::string& data) {
    const int before = InqBytes(server_.get());
    ASSERT_TRUE(SendAll(client_.get(), data));
    ASSERT_TRUE(WaitForInq(server_.get(), before + static_cast<int>(data.size())));
  }
};

TEST_P(TcpIoTest, SendAndRecvBothWays) {
  EXPECT_THAT(SYSCALL(send(client_.get(), "ping", 4, 0)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(RecvUpTo(server_.get(), 4), "ping");
  EXPECT_THAT(SYSCALL(send(server_.get(), "pong!", 5, 0)), SyscallSucceedsWithValue(5));
  EXPECT_EQ(RecvUpTo(client_.get(), 5), "pong!");
}

TEST_P(TcpIoTest, TwoSendsCoalesceIntoOneRecv) {
  Deliver("hello ");
  Deliver("world");
  char buf[64];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(11));
  EXPECT_EQ(std::string(buf, 11), "hello world");
}

TEST_P(TcpIoTest, ShortRecvLeavesTheRestQueued) {
  Deliver("abcdefgh");
  char buf[3];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 3, 0)), SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(InqBytes(server_.get()), 5);
  EXPECT_EQ(RecvUpTo(server_.get(), 5), "defgh");
}

TEST_P(TcpIoTest, PeekDoesNotConsume) {
  Deliver("peek");
  Deliver("aboo");
  char buf[16] = {};
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 6, MSG_PEEK)), SyscallSucceedsWithValue(6));
  EXPECT_EQ(std::string(buf, 6), "peekab");
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), MSG_PEEK)), SyscallSucceedsWithValue(8));
  EXPECT_EQ(InqBytes(server_.get()), 8);
  EXPECT_EQ(RecvUpTo(server_.get(), 8), "peekaboo");
}

// On a stream, MSG_TRUNC discards the bytes instead of copying them (the
// buffer may even be NULL) and returns how many were discarded.
TEST_P(TcpIoTest, MsgTruncDiscardsWithoutCopying) {
  Deliver("hello world");
  EXPECT_THAT(SYSCALL(recv(server_.get(), nullptr, 3, MSG_TRUNC)), SyscallSucceedsWithValue(3));
  char buf[8] = {};
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 4, MSG_TRUNC)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), std::string(4, '\0'));
  EXPECT_EQ(RecvUpTo(server_.get(), 4), "orld");
}

// MSG_PEEK | MSG_TRUNC reports the queued bytes, copies nothing, keeps them.
TEST_P(TcpIoTest, PeekWithTruncCountsWithoutCopyingOrConsuming) {
  Deliver("0123456789");
  char buf[32] = {};
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), MSG_PEEK | MSG_TRUNC)),
              SyscallSucceedsWithValue(10));
  EXPECT_EQ(buf[0], '\0');
  EXPECT_EQ(RecvUpTo(server_.get(), 10), "0123456789");
}

TEST_P(TcpIoTest, NothingQueuedIsEAGAINWhenNotBlocking) {
  char buf[4];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), MSG_DONTWAIT)),
              SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(SYSCALL(fcntl(server_.get(), F_SETFL, O_NONBLOCK)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(read(server_.get(), buf, sizeof(buf))), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallFailsWithErrno(EAGAIN));
}

TEST_P(TcpIoTest, ZeroLengthSendSendsNothing) {
  const char buf[4] = {};
  EXPECT_THAT(SYSCALL(send(client_.get(), buf, 0, 0)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SYSCALL(write(client_.get(), buf, 0)), SyscallSucceedsWithValue(0));
  Deliver("x");
  EXPECT_EQ(InqBytes(server_.get()), 1);
}

// A zero-length recv() is a real receive on Linux: with nothing queued it is
// EAGAIN when non-blocking and waits (here until SO_RCVTIMEO, after which it
// returns 0, not EAGAIN) when blocking; with data queued it returns 0 and
// consumes nothing. A zero-length read() returns 0 at once.
TEST_P(TcpIoTest, ZeroLengthRecvWaitsForDataButConsumesNothing) {
  char buf[4];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 0, MSG_DONTWAIT)), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(SYSCALL(read(server_.get(), buf, 0)), SyscallSucceedsWithValue(0));
  const timeval tv = {0, 100000};
  ASSERT_THAT(SYSCALL(setsockopt(server_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))),
              SyscallSucceeds());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 0, 0)), SyscallSucceedsWithValue(0));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(80));
  Deliver("abc");
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 0, 0)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 0, MSG_DONTWAIT)), SyscallSucceedsWithValue(0));
  EXPECT_EQ(InqBytes(server_.get()), 3);
}

TEST_P(TcpIoTest, BlockingRecvWakesWhenDataArrives) {
  SyscallResult r = {};
  char buf[16];
  std::thread receiver([&] { r = SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_THAT(SYSCALL(send(client_.get(), "wake", 4, 0)), SyscallSucceedsWithValue(4));
  receiver.join();
  EXPECT_THAT(r, SyscallSucceedsWithValue(4));
}

TEST_P(TcpIoTest, WaitallWaitsForTheFullAmount) {
  const std::string data = RandomBytes(3000, 1);
  std::thread sender([&] {
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      SendAll(client_.get(), data.substr(1000 * i, 1000));
    }
  });
  std::string buf(4000, '\0');
  SyscallResult r = SYSCALL(recv(server_.get(), buf.data(), 3000, MSG_WAITALL));
  sender.join();
  EXPECT_THAT(r, SyscallSucceedsWithValue(3000));
  EXPECT_EQ(buf.substr(0, 3000), data);
}

TEST_P(TcpIoTest, WaitallReturnsShortAtEndOfStream) {
  Deliver("only ten!!");
  ASSERT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
  char buf[100];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), MSG_WAITALL)),
              SyscallSucceedsWithValue(10));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), MSG_WAITALL)),
              SyscallSucceedsWithValue(0));
}

// ------------------------------------------------------------- half close

TEST_P(TcpIoTest, RecvReturnsZeroAfterPeerShutdownWr) {
  Deliver("last");
  ASSERT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
  EXPECT_EQ(RecvUpTo(server_.get(), 4), "last");
  char buf[8];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
  // The other direction still works.
  EXPECT_THAT(SYSCALL(send(server_.get(), "back", 4, 0)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(RecvUpTo(client_.get(), 4), "back");
}

TEST_P(TcpIoTest, SendAfterOwnShutdownWrIsEPIPE) {
  ASSERT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(send(client_.get(), "x", 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EPIPE));
  EXPECT_THAT(SYSCALL(send(client_.get(), "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT)),
              SyscallFailsWithErrno(EPIPE));
  // Not an error that SO_ERROR keeps.
  EXPECT_EQ(GetIntOpt(client_.get(), SOL_SOCKET, SO_ERROR), 0);
}

TEST_P(TcpIoTest, BrokenPipeRaisesSigpipeUnlessMsgNosignal) {
  ASSERT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
  ScopedSigpipeBlock block;
  EXPECT_THAT(SYSCALL(send(client_.get(), "x", 1, 0)), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(block.Pending());
  EXPECT_TRUE(block.Discard());
  EXPECT_THAT(SYSCALL(write(client_.get(), "x", 1)), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(block.Discard());
  EXPECT_THAT(SYSCALL(send(client_.get(), "x", 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EPIPE));
  EXPECT_FALSE(block.Pending());
}

// Sending on a socket that never connected is a broken pipe on Linux (not
// ENOTCONN), SIGPIPE included; an address given to sendto() is ignored.
TEST_P(TcpIoTest, SendOnUnconnectedSocketIsEPIPE) {
  FileDescriptor fresh = TcpSocket(family());
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  EXPECT_THAT(SYSCALL(send(fresh.get(), "x", 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EPIPE));
  EXPECT_THAT(SYSCALL(sendto(fresh.get(), "x", 1, MSG_NOSIGNAL, addr.get(), addr.len)),
              SyscallFailsWithErrno(EPIPE));
  EXPECT_EQ(PollOne(listener.get(), POLLIN, 0), 0) << "sendto() connected";
  EXPECT_THAT(SYSCALL(send(listener.get(), "x", 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EPIPE));
  ScopedSigpipeBlock block;
  EXPECT_THAT(SYSCALL(send(fresh.get(), "x", 1, 0)), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(block.Pending());
}

TEST_P(TcpIoTest, RecvOnUnconnectedSocketIsENOTCONN) {
  FileDescriptor fresh = TcpSocket(family());
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  char buf[4];
  for (int fd : {fresh.get(), listener.get()}) {
    EXPECT_THAT(SYSCALL(recv(fd, buf, sizeof(buf), 0)), SyscallFailsWithErrno(ENOTCONN));
    EXPECT_THAT(SYSCALL(read(fd, buf, sizeof(buf))), SyscallFailsWithErrno(ENOTCONN));
  }
}

// After shutdown(SHUT_RD) recv() returns 0 instead of blocking; Linux still
// queues (and returns) what the peer sends afterwards.
TEST_P(TcpIoTest, ShutdownRdMakesRecvReturnZero) {
  ASSERT_THAT(SYSCALL(shutdown(server_.get(), SHUT_RD)), SyscallSucceeds());
  EXPECT_EQ(PollOne(server_.get(), POLLIN | POLLOUT | POLLRDHUP, 0),
            POLLIN | POLLOUT | POLLRDHUP);
  char buf[8];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
  Deliver("abc");
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(3));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(0));
}

TEST_P(TcpIoTest, ShutdownErrors) {
  FileDescriptor fresh = TcpSocket(family());
  EXPECT_THAT(SYSCALL(shutdown(fresh.get(), SHUT_RDWR)), SyscallFailsWithErrno(ENOTCONN));
  EXPECT_THAT(SYSCALL(shutdown(fresh.get(), SHUT_WR)), SyscallFailsWithErrno(ENOTCONN));
  for (int how : {-1, 3, 100}) {
    EXPECT_THAT(SYSCALL(shutdown(client_.get(), how)), SyscallFailsWithErrno(EINVAL)) << how;
  }
  // Shutting down a direction twice is fine.
  EXPECT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(shutdown(client_.get(), SHUT_WR)), SyscallSucceeds());
}

// ---------------------------------------------------------- bulk transfer

TEST_P(TcpIoTest, BlockingWriteLargerThanBuffersCompletes) {
  constexpr size_t kSize = 8 << 20;
  const std::string data = RandomBytes(kSize, 8);
  size_t received = 0;
  uint64_t hash = kFnvBasis;
  std::thread reader([&] {
    std::vector<char> buf(100000);
    while (received < kSize) {
      const ssize_t n = recv(server_.get(), buf.data(), buf.size(), 0);
      if (n <= 0) break;
      hash = Fnv1a(hash, buf.data(), static_cast<size_t>(n));
      received += static_cast<size_t>(n);
    }
  });
  // One call: it blocks until everything is queued.
  SyscallResult r = SYSCALL(send(client_.get(), data.data(), data.size(), MSG_NOSIGNAL));
  reader.join();
  EXPECT_THAT(r, SyscallSucceedsWithValue(static_cast<long>(kSize)));
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(hash, Fnv1a(kFnvBasis, data.data(), data.size()));
}

// With small buffers and a peer that does not read, non-blocking writes of
// 1 MiB are partial until the buffers are full, then EAGAIN.
TEST_P(TcpIoTest, NonblockingWriteIsPartialThenEAGAIN) {
  SocketAddress addr;
  FileDescriptor listener = TcpSocket(family());
  SetIntOpt(listener.get(), SOL_SOCKET, SO_RCVBUF, 16384);
  SocketAddress lo = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(listener.get(), lo.get(), lo.len)), SyscallSucceeds());
  ASSERT_THAT(SYSCALL(listen(listener.get(), 1)), SyscallSucceeds());
  addr = GetSockName(listener.get());
  FileDescriptor writer = TcpSocket(family());
  SetIntOpt(writer.get(), SOL_SOCKET, SO_SNDBUF, 16384);
  ASSERT_THAT(ConnectTo(writer.get(), addr), SyscallSucceeds());
  FileDescriptor reader = AcceptOne(listener.get());
  ASSERT_THAT(SYSCALL(fcntl(writer.get(), F_SETFL, O_NONBLOCK)), SyscallSucceeds());

  const std::string chunk = RandomBytes(1 << 20, 3);
  std::string sent;
  SyscallResult r = {};
  for (int i = 0; i < 1000; ++i) {
    r = SYSCALL(send(writer.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL));
    if (r.ret < 0) break;
    EXPECT_GT(r.ret, 0);
    EXPECT_LT(r.ret, static_cast<long>(chunk.size()));
    sent.append(chunk, 0, static_cast<size_t>(r.ret));
  }
  EXPECT_THAT(r, SyscallFailsWithErrno(EAGAIN));
  EXPECT_FALSE(sent.empty());
  EXPECT_EQ(PollOne(writer.get(), POLLOUT, 0) & POLLOUT, 0);
  int outq = -1;
  EXPECT_THAT(SYSCALL(ioctl(writer.get(), TIOCOUTQ, &outq)), SyscallSucceeds());
  EXPECT_GT(outq, 0);
  // Everything accepted is delivered once the reader drains it.
  const std::string received = RecvUpTo(reader.get(), sent.size());
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent.substr(0, received.size())) << "stream corrupted";
  EXPECT_EQ(PollOne(writer.get(), POLLOUT) & POLLOUT, POLLOUT);
}

TEST_P(TcpIoTest, EchoOneMiBInRandomChunks) {
  constexpr size_t kSize = 1 << 20;
  const std::string data = RandomBytes(kSize, 42);
  std::thread echo([&] {
    std::vector<char> buf(70000);
    for (;;) {
      const ssize_t n = recv(server_.get(), buf.data(), buf.size(), 0);
      if (n <= 0 || !SendAll(server_.get(), buf.data(), static_cast<size_t>(n))) break;
    }
    shutdown(server_.get(), SHUT_WR);
  });
  std::thread writer([&] {
    std::mt19937 rng(7);
    size_t off = 0;
    while (off < kSize) {
      const size_t n = std::min<size_t>(kSize - off, 1 + rng() % 65536);
      if (!SendAll(client_.get(), data.data() + off, n)) break;
      off += n;
    }
    shutdown(client_.get(), SHUT_WR);
  });
  std::string echoed;
  std::mt19937 rng(9);
  std::vector<char> buf(65536);
  for (;;) {
    const ssize_t n = recv(client_.get(), buf.data(), 1 + rng() % buf.size(), 0);
    if (n <= 0) break;
    echoed.append(buf.data(), static_cast<size_t>(n));
  }
  writer.join();
  echo.join();
  EXPECT_EQ(echoed.size(), kSize);
  EXPECT_TRUE(echoed == data) << "echo differs";
}

// -------------------------------------------------------- call variants

TEST_P(TcpIoTest, ReadWriteReadvWritev) {
  EXPECT_THAT(SYSCALL(write(client_.get(), "abc", 3)), SyscallSucceedsWithValue(3));
  char a[] = "de", b[] = "fgh";
  iovec out[2] = {{a, 2}, {b, 3}};
  EXPECT_THAT(SYSCALL(writev(client_.get(), out, 2)), SyscallSucceedsWithValue(5));
  ASSERT_TRUE(WaitForInq(server_.get(), 8));
  char x[2], y[10];
  iovec in[2] = {{x, 2}, {y, 10}};
  EXPECT_THAT(SYSCALL(readv(server_.get(), in, 2)), SyscallSucceedsWithValue(8));
  EXPECT_EQ(std::string(x, 2) + std::string(y, 6), "abcdefgh");
  EXPECT_THAT(SYSCALL(write(server_.get(), "back", 4)), SyscallSucceedsWithValue(4));
  ASSERT_TRUE(WaitForInq(client_.get(), 4));
  EXPECT_THAT(SYSCALL(read(client_.get(), y, sizeof(y))), SyscallSucceedsWithValue(4));
}

// recvmsg() on a stream fills no address (msg_namelen becomes 0).
TEST_P(TcpIoTest, SendmsgRecvmsgScatterGather) {
  char p1[] = "one", p2[] = "two", p3[] = "three";
  iovec out[3] = {{p1, 3}, {p2, 3}, {p3, 5}};
  msghdr msg = {};
  msg.msg_iov = out;
  msg.msg_iovlen = 3;
  EXPECT_THAT(SYSCALL(sendmsg(client_.get(), &msg, 0)), SyscallSucceedsWithValue(11));
  ASSERT_TRUE(WaitForInq(server_.get(), 11));
  char x[5], y[20];
  iovec in[2] = {{x, 5}, {y, 20}};
  sockaddr_storage name;
  msghdr rmsg = {};
  rmsg.msg_name = &name;
  rmsg.msg_namelen = sizeof(name);
  rmsg.msg_iov = in;
  rmsg.msg_iovlen = 2;
  rmsg.msg_flags = MSG_TRUNC;
  EXPECT_THAT(SYSCALL(recvmsg(server_.get(), &rmsg, 0)), SyscallSucceedsWithValue(11));
  EXPECT_EQ(std::string(x, 5) + std::string(y, 6), "onetwothree");
  EXPECT_EQ(rmsg.msg_namelen, 0u);
  EXPECT_EQ(rmsg.msg_flags, 0);
}

TEST_P(TcpIoTest, RecvfromGivesNoAddressAndSendtoIgnoresOne) {
  SocketAddress elsewhere = LoopbackAddress(family(), 1);
  EXPECT_THAT(SYSCALL(sendto(client_.get(), "to", 2, 0, elsewhere.get(), elsewhere.len)),
              SyscallSucceedsWithValue(2));
  ASSERT_TRUE(WaitForInq(server_.get(), 2));
  SocketAddress from;
  from.len = sizeof(from.storage);
  char buf[4];
  EXPECT_THAT(SYSCALL(recvfrom(server_.get(), buf, sizeof(buf), 0, from.get(), &from.len)),
              SyscallSucceedsWithValue(2));
  EXPECT_EQ(from.len, 0u);
}

// ------------------------------------------------------------------ ioctl

TEST_P(TcpIoTest, FionreadAndTiocinqCountQueuedBytes) {
  EXPECT_EQ(InqBytes(server_.get()), 0);
  Deliver("12345");
  Deliver("6789012");
  int n = -1;
  EXPECT_THAT(SYSCALL(ioctl(server_.get(), FIONREAD, &n)), SyscallSucceeds());
  EXPECT_EQ(n, 12);
  EXPECT_THAT(SYSCALL(ioctl(server_.get(), TIOCINQ, &n)), SyscallSucceeds());
  EXPECT_EQ(n, 12);
  char buf[5];
  ASSERT_THAT(SYSCALL(recv(server_.get(), buf, 5, 0)), SyscallSucceedsWithValue(5));
  EXPECT_EQ(InqBytes(server_.get()), 7);
  // Once everything is acknowledged, nothing is left in the send queue.
  EXPECT_TRUE(WaitUntil([&] {
    int q = -1;
    return ioctl(client_.get(), TIOCOUTQ, &q) == 0 && q == 0;
  }));
}

TEST_P(TcpIoTest, QueueIoctlsOnListenerAreEINVAL) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  int n = -1;
  EXPECT_THAT(SYSCALL(ioctl(listener.get(), FIONREAD, &n)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(ioctl(listener.get(), TIOCOUTQ, &n)), SyscallFailsWithErrno(EINVAL));
  FileDescriptor fresh = TcpSocket(family());
  EXPECT_THAT(SYSCALL(ioctl(fresh.get(), FIONREAD, &n)), SyscallSucceeds());
  EXPECT_EQ(n, 0);
}

INSTANTIATE_TEST_SUITE_P(Families, TcpIoTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

}  // namespace
}  // namespace tapsock::testing
