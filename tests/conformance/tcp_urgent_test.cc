// Conformance tests for TCP urgent data, on connections over 127.0.0.1 for
// AF_INET and dual-stack AF_INET6 sockets.
//
// Linux's model (tcp_check_urg, tcp_urg, tcp_recvmsg, tcp_recv_urg): the last
// byte of a send(MSG_OOB) is urgent. The receiver keeps one urgent byte at a
// time: without SO_OOBINLINE it is taken out of the stream and only
// recv(MSG_OOB) returns it, once; with SO_OOBINLINE it stays in the stream.
// Either way a read that has copied something stops at the mark, SIOCATMARK
// says when the next byte is the mark, FIONREAD counts only up to the mark,
// poll reports POLLPRI (select: the exception set) while the byte is unread,
// and the F_SETOWN owner gets SIGURG when an urgent pointer is announced.

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

class TcpUrgentTest : public ConnectedPairTest {
 protected:
  // Sends from client_, then waits until the peer has acknowledged
  // everything: every byte is then queued at server_ (FIONREAD cannot tell,
  // it stops at the urgent mark).
  void Send(const std::string& data, int flags = 0) {
    ASSERT_THAT(SYSCALL(send(client_.get(), data.data(), data.size(), flags)),
                SyscallSucceedsWithValue(static_cast<long>(data.size())));
    ASSERT_TRUE(WaitUntil([&] {
      int q = -1;
      return ioctl(client_.get(), TIOCOUTQ, &q) == 0 && q == 0;
    }));
  }
  int AtMark() {
    int mark = -1;
    EXPECT_THAT(SYSCALL(ioctl(server_.get(), SIOCATMARK, &mark)), SyscallSucceeds());
    return mark;
  }
  // A non-blocking read of up to `n` bytes ("" when it fails).
  std::string Read(size_t n, int flags = 0) {
    std::string buf(n, '\0');
    ssize_t r = recv(server_.get(), buf.data(), n, flags | MSG_DONTWAIT);
    return r < 0 ? std::string("<") + ErrnoName(errno) + ">" : buf.substr(0, static_cast<size_t>(r));
  }
};

// The last byte of a MSG_OOB send is urgent: it is taken out of the stream,
// normal reads stop at the mark, and only recv(MSG_OOB) returns it.
TEST_P(TcpUrgentTest, MsgOobDeliversTheUrgentByteOutOfBand) {
  EXPECT_THAT(SYSCALL(send(client_.get(), "abc", 3, MSG_OOB)), SyscallSucceedsWithValue(3));
  ASSERT_NE(PollOne(server_.get(), POLLPRI) & POLLPRI, 0);
  ASSERT_TRUE(WaitForInq(server_.get(), 2));
  EXPECT_EQ(InqBytes(server_.get()), 2);
  int mark = -1;
  EXPECT_THAT(SYSCALL(ioctl(server_.get(), SIOCATMARK, &mark)), SyscallSucceeds());
  EXPECT_EQ(mark, 0);
  char buf[16];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(std::string(buf, 2), "ab");
  EXPECT_THAT(SYSCALL(ioctl(server_.get(), SIOCATMARK, &mark)), SyscallSucceeds());
  EXPECT_EQ(mark, 1);
  EXPECT_EQ(PollOne(server_.get(), POLLIN | POLLPRI, 0), POLLPRI);
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), MSG_OOB)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(buf[0], 'c');
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 1, MSG_OOB)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 1, MSG_DONTWAIT)), SyscallFailsWithErrno(EAGAIN));
}

// With SO_OOBINLINE the urgent byte stays in the stream (reads still stop
// at the mark) and recv(MSG_OOB) is EINVAL.
TEST_P(TcpUrgentTest, OobInlineKeepsTheUrgentByteInTheStream) {
  SetIntOpt(server_.get(), SOL_SOCKET, SO_OOBINLINE, 1);
  EXPECT_THAT(SYSCALL(send(client_.get(), "xyz", 3, MSG_OOB)), SyscallSucceedsWithValue(3));
  ASSERT_TRUE(WaitForInq(server_.get(), 3));
  char buf[16];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 1, MSG_OOB)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(std::string(buf, 2), "xy");
  int mark = -1;
  EXPECT_THAT(SYSCALL(ioctl(server_.get(), SIOCATMARK, &mark)), SyscallSucceeds());
  EXPECT_EQ(mark, 1);
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), 0)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(buf[0], 'z');
}

TEST_P(TcpUrgentTest, NoUrgentDataMeansNoMarkAndEINVAL) {
  Send("plain");
  EXPECT_EQ(AtMark(), 0);
  char c;
  EXPECT_THAT(SYSCALL(recv(server_.get(), &c, 1, MSG_OOB)), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(PollOne(server_.get(), POLLPRI, 0), 0);
}

// SIOCATMARK before, at and after the mark; FIONREAD counts up to the mark
// only, and says 0 at the mark until a normal read passes it.
TEST_P(TcpUrgentTest, AtMarkBeforeAtAndAfterTheMark) {
  Send("abc");
  Send("def", MSG_OOB);
  Send("gh");
  EXPECT_EQ(AtMark(), 0);
  EXPECT_EQ(InqBytes(server_.get()), 5);
  EXPECT_EQ(Read(3), "abc");
  EXPECT_EQ(AtMark(), 0);
  EXPECT_EQ(Read(100), "de") << "a read stops at the mark";
  EXPECT_EQ(AtMark(), 1);
  EXPECT_EQ(InqBytes(server_.get()), 0);
  EXPECT_EQ(Read(1, MSG_OOB), "f");
  EXPECT_EQ(AtMark(), 1) << "still at the mark: the byte was only read out of band";
  EXPECT_EQ(InqBytes(server_.get()), 0);
  EXPECT_EQ(Read(100), "gh");
  EXPECT_EQ(AtMark(), 0);
  EXPECT_EQ(Read(100), "<EAGAIN>");
}

// A read that starts at the mark skips the unread urgent byte and goes on
// past it; the byte is then gone for recv(MSG_OOB) too.
TEST_P(TcpUrgentTest, ReadAtTheMarkSkipsTheUrgentByteAndLosesIt) {
  Send("ab", MSG_OOB);
  Send("cd");
  EXPECT_EQ(Read(100), "a");
  EXPECT_EQ(AtMark(), 1);
  EXPECT_EQ(Read(100), "cd");
  EXPECT_EQ(AtMark(), 0);
  EXPECT_EQ(Read(1, MSG_OOB), "<EINVAL>");
  EXPECT_EQ(PollOne(server_.get(), POLLPRI, 0), 0);
}

// MSG_WAITALL does not carry a read across the mark either.
TEST_P(TcpUrgentTest, WaitallReadStopsAtTheMark) {
  Send("abcd", MSG_OOB);
  Send("ef");
  char buf[6];
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, sizeof(buf), MSG_WAITALL)), SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(Read(1, MSG_OOB), "d");
  EXPECT_THAT(SYSCALL(recv(server_.get(), buf, 2, MSG_WAITALL)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(std::string(buf, 2), "ef");
}

// POLLPRI (select's exception set) while the urgent byte is unread; at the
// mark the byte alone does not make the socket readable.
TEST_P(TcpUrgentTest, PollPriAndSelectExceptionWhileUrgentByteIsUnread) {
  EXPECT_EQ(PollOne(server_.get(), POLLPRI, 0), 0);
  ASSERT_THAT(SYSCALL(send(client_.get(), "!", 1, MSG_OOB)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(PollOne(server_.get(), POLLIN | POLLPRI), POLLPRI);
  fd_set rd, ex;
  FD_ZERO(&rd);
  FD_ZERO(&ex);
  FD_SET(server_.get(), &rd);
  FD_SET(server_.get(), &ex);
  timeval tv{0, 0};
  EXPECT_THAT(SYSCALL(select(server_.get() + 1, &rd, nullptr, &ex, &tv)), SyscallSucceedsWithValue(1));
  EXPECT_TRUE(FD_ISSET(server_.get(), &ex));
  EXPECT_FALSE(FD_ISSET(server_.get(), &rd));
  EXPECT_EQ(PollOne(server_.get(), POLLIN, 50), 0) << "a poll for POLLIN alone sleeps";
  EXPECT_EQ(InqBytes(server_.get()), 0);
  EXPECT_EQ(Read(1, MSG_OOB), "!");
  EXPECT_EQ(PollOne(server_.get(), POLLIN | POLLPRI, 0), 0);
  Send("x");
  EXPECT_EQ(PollOne(server_.get(), POLLIN | POLLPRI, 0), POLLIN);
  EXPECT_EQ(Read(10), "x");
}

// MSG_PEEK|MSG_OOB returns the byte and leaves it; recvmsg flags it MSG_OOB.
TEST_P(TcpUrgentTest, PeekOobLeavesTheByte) {
  Send("pq", MSG_OOB);
  EXPECT_EQ(Read(4, MSG_OOB | MSG_PEEK), "q");
  EXPECT_EQ(Read(4, MSG_OOB | MSG_PEEK), "q");
  char c = 0;
  iovec iov{&c, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  EXPECT_THAT(SYSCALL(recvmsg(server_.get(), &msg, MSG_OOB)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(c, 'q');
  EXPECT_EQ(msg.msg_flags, MSG_OOB);
  EXPECT_EQ(Read(4, MSG_OOB | MSG_PEEK), "<EINVAL>");
  EXPECT_EQ(Read(4, MSG_PEEK), "p") << "a peek stops at the mark too";
  EXPECT_EQ(Read(4), "p");
}

// recv(MSG_OOB) into an empty buffer returns 0 with MSG_TRUNC, and that
// counts as reading the byte.
TEST_P(TcpUrgentTest, OobIntoAnEmptyBufferTruncatesAndConsumes) {
  Send("u", MSG_OOB);
  msghdr msg{};
  EXPECT_THAT(SYSCALL(recvmsg(server_.get(), &msg, MSG_OOB)), SyscallSucceedsWithValue(0));
  EXPECT_EQ(msg.msg_flags, MSG_OOB | MSG_TRUNC);
  EXPECT_EQ(Read(1, MSG_OOB), "<EINVAL>");
}

// A second urgent byte replaces an unread first one, which falls back into
// the stream as normal data.
TEST_P(TcpUrgentTest, NewUrgentByteReplacesAnUnreadOne) {
  Send("xa", MSG_OOB);
  Send("yb", MSG_OOB);
  EXPECT_EQ(InqBytes(server_.get()), 3);
  EXPECT_EQ(Read(100), "xay");
  EXPECT_EQ(AtMark(), 1);
  EXPECT_EQ(Read(1, MSG_OOB), "b");
  EXPECT_EQ(Read(100), "<EAGAIN>");
}

// ...unless the reader was at the old mark: then the old byte is dropped.
TEST_P(TcpUrgentTest, NewUrgentByteAtTheOldMarkDropsTheOldOne) {
  Send("A", MSG_OOB);
  Send("B", MSG_OOB);
  EXPECT_EQ(AtMark(), 1);
  EXPECT_EQ(Read(1, MSG_OOB), "B");
  EXPECT_EQ(Read(100), "<EAGAIN>");
  Send("C");
  EXPECT_EQ(Read(100), "C");
}

// With SO_OOBINLINE a read at the mark returns the urgent byte and what
// follows, in one call.
TEST_P(TcpUrgentTest, OobInlineReadAtTheMarkGoesOn) {
  SetIntOpt(server_.get(), SOL_SOCKET, SO_OOBINLINE, 1);
  Send("ab", MSG_OOB);
  Send("cd");
  EXPECT_EQ(InqBytes(server_.get()), 4);
  EXPECT_EQ(PollOne(server_.get(), POLLPRI, 0), POLLPRI);
  EXPECT_EQ(Read(100), "a");
  EXPECT_EQ(AtMark(), 1);
  EXPECT_EQ(Read(100), "bcd");
  EXPECT_EQ(AtMark(), 0);
  EXPECT_EQ(PollOne(server_.get(), POLLPRI, 0), 0);
}

// A zero-byte send(MSG_OOB) sends nothing and announces nothing.
TEST_P(TcpUrgentTest, EmptyOobSendAnnouncesNothing) {
  EXPECT_THAT(SYSCALL(send(client_.get(), "", 0, MSG_OOB)), SyscallSucceedsWithValue(0));
  Send("z");
  EXPECT_EQ(AtMark(), 0);
  EXPECT_EQ(Read(1, MSG_OOB), "<EINVAL>");
  EXPECT_EQ(Read(10), "z");
}

// recv(MSG_OOB) on a listener is ENOTCONN; on a fresh socket EINVAL.
TEST_P(TcpUrgentTest, OobOnListenerAndUnconnectedSocket) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  char c;
  EXPECT_THAT(SYSCALL(recv(listener.get(), &c, 1, MSG_OOB)), SyscallFailsWithErrno(ENOTCONN));
  FileDescriptor fresh = TcpSocket(family());
  EXPECT_THAT(SYSCALL(recv(fresh.get(), &c, 1, MSG_OOB)), SyscallFailsWithErrno(EINVAL));
  int mark = -1;
  EXPECT_THAT(SYSCALL(ioctl(fresh.get(), SIOCATMARK, &mark)), SyscallSucceeds());
  EXPECT_EQ(mark, 0);
  FileDescriptor udp = UdpSocket(family());
  EXPECT_THAT(SYSCALL(ioctl(udp.get(), SIOCATMARK, &mark)), SyscallFailsWithErrno(ENOTTY));
}

// The urgent pointer can arrive before the urgent byte (here the byte waits
// behind a closed window): recv(MSG_OOB) is then EAGAIN, never blocking.
TEST_P(TcpUrgentTest, UrgentPointerBeforeTheByteIsEAGAIN) {
  SocketAddress addr;
  FileDescriptor listener = TcpSocket(family());
  SetIntOpt(listener.get(), SOL_SOCKET, SO_RCVBUF, 2048);
  SocketAddress lo = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(listener.get(), lo.get(), lo.len)), SyscallSucceeds());
  ASSERT_THAT(SYSCALL(listen(listener.get(), 1)), SyscallSucceeds());
  addr = GetSockName(listener.get());
  FileDescriptor client = TcpSocket(family());
  ASSERT_THAT(ConnectTo(client.get(), addr), SyscallSucceeds());
  FileDescriptor server = AcceptOne(listener.get());
  // Fill the server's window until data stays unsent at the client.
  std::string chunk(512, 'd');
  size_t sent = 0;
  for (int i = 0; i < 64; ++i) {
    ssize_t n = send(client.get(), chunk.data(), chunk.size(), MSG_DONTWAIT);
    ASSERT_GT(n, 0) << ErrnoName(errno);
    sent += static_cast<size_t>(n);
    int unsent = 0;
    if (WaitUntil([&] { return ioctl(client.get(), SIOCOUTQNSD, &unsent) == 0 && unsent > 0; }, 50)) break;
  }
  ASSERT_THAT(SYSCALL(send(client.get(), "!", 1, MSG_OOB)), SyscallSucceedsWithValue(1));
  // Traffic the other way makes the client send ACKs, which carry the urgent pointer.
  ASSERT_THAT(SYSCALL(send(server.get(), "hi", 2, 0)), SyscallSucceedsWithValue(2));
  char c;
  EXPECT_TRUE(WaitUntil([&] { return recv(server.get(), &c, 1, MSG_OOB) < 0 && errno == EAGAIN; }));
  EXPECT_EQ(PollOne(server.get(), POLLPRI, 0), 0) << "nothing to read out of band yet";
  // Draining the stream lets the byte in.
  std::string got;
  char buf[4096];
  EXPECT_TRUE(WaitUntil([&] {
    ssize_t n = recv(server.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    return got.size() == sent;
  }));
  EXPECT_EQ(got.size(), sent);
  EXPECT_EQ(got.find_first_not_of('d'), std::string::npos) << "the urgent byte is not in the stream";
  ASSERT_NE(PollOne(server.get(), POLLPRI) & POLLPRI, 0);
  EXPECT_THAT(SYSCALL(recv(server.get(), &c, 1, MSG_OOB)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(c, '!');
}

std::atomic<int> g_sigurgs{0};
void OnSigurg(int) { g_sigurgs.fetch_add(1); }

// SIGURG goes to the F_SETOWN owner when an urgent pointer is announced.
TEST_P(TcpUrgentTest, SigurgGoesToTheOwner) {
  struct sigaction sa{}, old{};
  sa.sa_handler = OnSigurg;
  sigemptyset(&sa.sa_mask);
  ASSERT_THAT(SYSCALL(sigaction(SIGURG, &sa, &old)), SyscallSucceeds());
  g_sigurgs = 0;
  Send("no owner", MSG_OOB);
  EXPECT_EQ(g_sigurgs.load(), 0);
  ASSERT_THAT(SYSCALL(fcntl(server_.get(), F_SETOWN, getpid())), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(fcntl(server_.get(), F_GETOWN)), SyscallSucceedsWithValue(getpid()));
  Send("plain");
  EXPECT_EQ(g_sigurgs.load(), 0);
  Send("owner", MSG_OOB);
  EXPECT_TRUE(WaitUntil([] { return g_sigurgs.load() > 0; }));
  // No owner again, then one set with FIOSETOWN.
  ASSERT_THAT(SYSCALL(fcntl(server_.get(), F_SETOWN, 0)), SyscallSucceeds());
  g_sigurgs = 0;
  Send("nobody", MSG_OOB);
  EXPECT_EQ(g_sigurgs.load(), 0);
  int pid = getpid();
  ASSERT_THAT(SYSCALL(ioctl(server_.get(), FIOSETOWN, &pid)), SyscallSucceeds());
  Send("ioctl", MSG_OOB);
  EXPECT_TRUE(WaitUntil([] { return g_sigurgs.load() > 0; }));
  sigaction(SIGURG, &old, nullptr);
}

std::atomic<int> g_oob_fd{-1};
std::atomic<int> g_oob_byte{-1};
void ReadOobOnSigurg(int) {
  char c;
  if (recv(g_oob_fd.load(), &c, 1, MSG_OOB) == 1) g_oob_byte = c;
}

// The classic use: a SIGURG handler that reads the urgent byte (here the
// handler may run on the sending thread itself, in the middle of its send).
TEST_P(TcpUrgentTest, SigurgHandlerReadsTheUrgentByte) {
  struct sigaction sa{}, old{};
  sa.sa_handler = ReadOobOnSigurg;
  sigemptyset(&sa.sa_mask);
  ASSERT_THAT(SYSCALL(sigaction(SIGURG, &sa, &old)), SyscallSucceeds());
  g_oob_fd = server_.get();
  g_oob_byte = -1;
  ASSERT_THAT(SYSCALL(fcntl(server_.get(), F_SETOWN, getpid())), SyscallSucceeds());
  Send("data!", MSG_OOB);
  EXPECT_TRUE(WaitUntil([] { return g_oob_byte.load() == '!'; }));
  EXPECT_EQ(Read(100), "data");
  sigaction(SIGURG, &old, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Families, TcpUrgentTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

}  // namespace
}  // namespace tapsock::testing
