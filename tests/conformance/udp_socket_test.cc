// Conformance tests for the life cycle of datagram sockets and their fds.
//
// Covers socket() argument checking (family, type, type flags, protocol) and
// the errno Linux picks for each bad combination; SOCK_NONBLOCK/SOCK_CLOEXEC
// and their fcntl() views; F_GETFL/F_SETFL/F_GETFD/F_SETFD on socket fds;
// socket calls on fds that are not sockets (ENOTSOCK) or not open (EBADF);
// close() and the kernel's lowest-free-number fd allocation, which shows that
// socket fds live in the same fd table as open() files; and socketpair(),
// which works for AF_UNIX and is EOPNOTSUPP for the internet families.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

// ---------------------------------------------------------------- socket()

struct SocketArgsCase {
  const char* name;
  int domain;
  int type;
  int protocol;
  int expected_errno;
};

class SocketArgsTest : public ::testing::TestWithParam<SocketArgsCase> {};

TEST_P(SocketArgsTest, FailsWithLinuxErrno) {
  const SocketArgsCase& c = GetParam();
  SyscallResult r = SYSCALL(socket(c.domain, c.type, c.protocol));
  if (r.ret >= 0) close(static_cast<int>(r.ret));
  EXPECT_THAT(r, SyscallFailsWithErrno(c.expected_errno));
}

// The order of the kernel's checks decides the errno: the family is looked up
// first (EAFNOSUPPORT), then the type flags and range (EINVAL), then the
// protocol range (EINVAL), then the (type, protocol) pair of the family
// (ESOCKTNOSUPPORT for a type the family lacks, EPROTONOSUPPORT for a
// protocol the type lacks).
INSTANTIATE_TEST_SUITE_P(
    Socket, SocketArgsTest,
    ::testing::Values(
        SocketArgsCase{"UnknownFamily", 12345, SOCK_DGRAM, 0, EAFNOSUPPORT},
        SocketArgsCase{"NegativeFamily", -1, SOCK_DGRAM, 0, EAFNOSUPPORT},
        SocketArgsCase{"HighBitInTypeFlags", AF_INET, static_cast<int>(SOCK_DGRAM | 0x80000000u), 0,
                       EINVAL},
        SocketArgsCase{"UnknownTypeFlag", AF_INET, SOCK_DGRAM | 0x100000, 0, EINVAL},
        SocketArgsCase{"UnknownTypeFlagInet6", AF_INET6, SOCK_DGRAM | 0x100000, 0, EINVAL},
        SocketArgsCase{"TypeOutOfRange", AF_INET, 77, 0, EINVAL},
        SocketArgsCase{"SeqpacketOnInet", AF_INET, SOCK_SEQPACKET, 0, ESOCKTNOSUPPORT},
        SocketArgsCase{"SeqpacketOnInet6", AF_INET6, SOCK_SEQPACKET, 0, ESOCKTNOSUPPORT},
        SocketArgsCase{"TcpOnDatagramInet", AF_INET, SOCK_DGRAM, IPPROTO_TCP, EPROTONOSUPPORT},
        SocketArgsCase{"TcpOnDatagramInet6", AF_INET6, SOCK_DGRAM, IPPROTO_TCP, EPROTONOSUPPORT},
        SocketArgsCase{"UnregisteredProtocol", AF_INET, SOCK_DGRAM, 200, EPROTONOSUPPORT},
        SocketArgsCase{"ProtocolAboveMax", AF_INET, SOCK_DGRAM, 12345, EINVAL},
        SocketArgsCase{"ProtocolAboveMaxInet6", AF_INET6, SOCK_DGRAM, 12345, EINVAL},
        SocketArgsCase{"NegativeProtocol", AF_INET, SOCK_DGRAM, -1, EINVAL}),
    [](const ::testing::TestParamInfo<SocketArgsCase>& info) {
      return std::string(info.param.name);
    });

class UdpSocketTest : public ::testing::TestWithParam<int> {};

TEST_P(UdpSocketTest, ProtocolZeroAndIpprotoUdpBothCreate) {
  for (int protocol : {0, static_cast<int>(IPPROTO_UDP)}) {
    FileDescriptor fd(socket(GetParam(), SOCK_DGRAM, protocol));
    EXPECT_TRUE(fd.valid()) << "protocol " << protocol << ": " << ErrnoName(errno);
  }
}

TEST_P(UdpSocketTest, SockNonblockSetsONonblock) {
  FileDescriptor plain = UdpSocket(GetParam());
  FileDescriptor nonblocking = UdpSocket(GetParam(), SOCK_NONBLOCK);
  EXPECT_THAT(SYSCALL(fcntl(plain.get(), F_GETFL) & O_NONBLOCK), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SYSCALL(fcntl(nonblocking.get(), F_GETFL) & O_NONBLOCK),
              SyscallSucceedsWithValue(O_NONBLOCK));
  // The flag must also act, not only be reported.
  char c;
  EXPECT_THAT(SYSCALL(recv(nonblocking.get(), &c, 1, 0)), SyscallFailsWithErrno(EAGAIN));
}

TEST_P(UdpSocketTest, SockCloexecSetsFdCloexec) {
  FileDescriptor plain = UdpSocket(GetParam());
  FileDescriptor cloexec = UdpSocket(GetParam(), SOCK_CLOEXEC);
  EXPECT_THAT(SYSCALL(fcntl(plain.get(), F_GETFD)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SYSCALL(fcntl(cloexec.get(), F_GETFD)), SyscallSucceedsWithValue(FD_CLOEXEC));
}

// ----------------------------------------------------------------- fcntl()

TEST_P(UdpSocketTest, GetFlReportsReadWrite) {
  FileDescriptor fd = UdpSocket(GetParam());
  EXPECT_THAT(SYSCALL(fcntl(fd.get(), F_GETFL) & O_ACCMODE), SyscallSucceedsWithValue(O_RDWR));
}

TEST_P(UdpSocketTest, SetFlTogglesNonblock) {
  SocketAddress addr;
  FileDescriptor fd = BoundUdpSocket(GetParam(), &addr);
  const int flags = fcntl(fd.get(), F_GETFL);
  ASSERT_NE(flags, -1);

  ASSERT_THAT(SYSCALL(fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(fcntl(fd.get(), F_GETFL) & O_NONBLOCK), SyscallSucceedsWithValue(O_NONBLOCK));
  char c;
  EXPECT_THAT(SYSCALL(recv(fd.get(), &c, 1, 0)), SyscallFailsWithErrno(EAGAIN));

  // Back to blocking: a queued datagram is received by a plain recv.
  ASSERT_THAT(SYSCALL(fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(fcntl(fd.get(), F_GETFL) & O_NONBLOCK), SyscallSucceedsWithValue(0));
  SendTo(fd.get(), "x", addr);
  ASSERT_TRUE(WaitReadable(fd.get()));
  EXPECT_THAT(SYSCALL(recv(fd.get(), &c, 1, 0)), SyscallSucceedsWithValue(1));
}

TEST_P(UdpSocketTest, SetFdTogglesCloexec) {
  FileDescriptor fd = UdpSocket(GetParam());
  ASSERT_THAT(SYSCALL(fcntl(fd.get(), F_SETFD, FD_CLOEXEC)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(fcntl(fd.get(), F_GETFD)), SyscallSucceedsWithValue(FD_CLOEXEC));
  ASSERT_THAT(SYSCALL(fcntl(fd.get(), F_SETFD, 0)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(fcntl(fd.get(), F_GETFD)), SyscallSucceedsWithValue(0));
}

// ----------------------------------------------------------------- close()

TEST_P(UdpSocketTest, DoubleCloseIsEBADF) {
  FileDescriptor fd = UdpSocket(GetParam());
  const int n = fd.release();
  EXPECT_THAT(SYSCALL(close(n)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(close(n)), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(SYSCALL(fcntl(n, F_GETFD)), SyscallFailsWithErrno(EBADF));
}

// The kernel hands out the lowest free fd number. A closed socket's number is
// therefore the next one handed out, whether to a socket or to open(); this
// only holds if socket fds are real entries of the process's fd table.
TEST_P(UdpSocketTest, NewSocketReusesClosedSocketFd) {
  FileDescriptor first = UdpSocket(GetParam());
  const int n = first.get();
  first.reset();
  FileDescriptor second = UdpSocket(GetParam());
  EXPECT_EQ(second.get(), n);
}

TEST_P(UdpSocketTest, OpenReusesClosedSocketFd) {
  FileDescriptor sock = UdpSocket(GetParam());
  const int n = sock.get();
  sock.reset();
  FileDescriptor file(open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(file.get(), n);
}

TEST_P(UdpSocketTest, SocketReusesClosedFileFd) {
  FileDescriptor file(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  const int n = file.get();
  file.reset();
  FileDescriptor sock = UdpSocket(GetParam());
  EXPECT_EQ(sock.get(), n);
}

// An fd opened right after a socket must not alias it: writing to the file
// and using the socket are independent.
TEST_P(UdpSocketTest, SocketAndFileFdsAreDistinct) {
  SocketAddress addr;
  FileDescriptor sock = BoundUdpSocket(GetParam(), &addr);
  FileDescriptor file(open("/dev/null", O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  EXPECT_NE(file.get(), sock.get());
  EXPECT_THAT(SYSCALL(write(file.get(), "abc", 3)), SyscallSucceedsWithValue(3));
  SendTo(sock.get(), "abc", addr);
  EXPECT_EQ(RecvDatagram(sock.get()), "abc");
}

INSTANTIATE_TEST_SUITE_P(Families, UdpSocketTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

// --------------------------------------------- calls on non-socket fds

struct FdCall {
  const char* name;
  std::function<SyscallResult(int fd)> call;
};

// Every socket call with otherwise valid arguments, so that the fd is the
// only thing wrong with it.
// Runs at test registration, before any test: nothing here may use EXPECT.
std::vector<FdCall> SocketCalls() {
  static sockaddr_in target = {AF_INET, htons(9), {htonl(INADDR_LOOPBACK)}, {}};
  static sockaddr* addr = reinterpret_cast<sockaddr*>(&target);
  static constexpr socklen_t kLen = sizeof(target);
  static char buf[16];
  static iovec iov = {buf, sizeof(buf)};
  static msghdr send_msg = {addr, kLen, &iov, 1, nullptr, 0, 0};
  static msghdr recv_msg = {nullptr, 0, &iov, 1, nullptr, 0, 0};
  return {
      {"Bind", [](int fd) { return SYSCALL(bind(fd, addr, kLen)); }},
      {"Connect", [](int fd) { return SYSCALL(connect(fd, addr, kLen)); }},
      {"Getsockname",
       [](int fd) {
         SocketAddress out;
         out.len = sizeof(out.storage);
         return SYSCALL(getsockname(fd, out.get(), &out.len));
       }},
      {"Getpeername",
       [](int fd) {
         SocketAddress out;
         out.len = sizeof(out.storage);
         return SYSCALL(getpeername(fd, out.get(), &out.len));
       }},
      {"Sendto", [](int fd) { return SYSCALL(sendto(fd, buf, 1, 0, addr, kLen)); }},
      {"Send", [](int fd) { return SYSCALL(send(fd, buf, 1, 0)); }},
      {"Sendmsg", [](int fd) { return SYSCALL(sendmsg(fd, &send_msg, 0)); }},
      {"Recvfrom",
       [](int fd) {
         return SYSCALL(recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, nullptr, nullptr));
       }},
      {"Recv", [](int fd) { return SYSCALL(recv(fd, buf, sizeof(buf), MSG_DONTWAIT)); }},
      {"Recvmsg", [](int fd) { return SYSCALL(recvmsg(fd, &recv_msg, MSG_DONTWAIT)); }},
      {"Setsockopt",
       [](int fd) {
         const int one = 1;
         return SYSCALL(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
       }},
      {"Getsockopt",
       [](int fd) {
         int value;
         socklen_t len = sizeof(value);
         return SYSCALL(getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len));
       }},
  };
}

class BadFdTest : public ::testing::TestWithParam<FdCall> {};

TEST_P(BadFdTest, RegularFileIsENOTSOCK) {
  FileDescriptor file(open("/dev/null", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  EXPECT_THAT(GetParam().call(file.get()), SyscallFailsWithErrno(ENOTSOCK));
}

TEST_P(BadFdTest, NegativeFdIsEBADF) {
  EXPECT_THAT(GetParam().call(-1), SyscallFailsWithErrno(EBADF));
}

TEST_P(BadFdTest, HugeFdIsEBADF) {
  EXPECT_THAT(GetParam().call(INT_MAX), SyscallFailsWithErrno(EBADF));
}

// A number that was a socket a moment ago must not still reach the socket.
TEST_P(BadFdTest, ClosedSocketFdIsEBADF) {
  FileDescriptor sock = UdpSocket(AF_INET);
  const int n = sock.get();
  sock.reset();
  EXPECT_THAT(GetParam().call(n), SyscallFailsWithErrno(EBADF));
}

INSTANTIATE_TEST_SUITE_P(Calls, BadFdTest, ::testing::ValuesIn(SocketCalls()),
                         [](const ::testing::TestParamInfo<FdCall>& info) {
                           return std::string(info.param.name);
                         });

// ------------------------------------------------------------ socketpair()

// AF_UNIX is not the stack's business: it must keep working untouched.
TEST(SocketpairTest, UnixPairsPassThrough) {
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    SCOPED_TRACE(type == SOCK_DGRAM ? "SOCK_DGRAM" : "SOCK_STREAM");
    int sv[2];
    ASSERT_THAT(SYSCALL(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv)), SyscallSucceeds());
    FileDescriptor a(sv[0]);
    FileDescriptor b(sv[1]);
    EXPECT_EQ(GetIntOpt(a.get(), SOL_SOCKET, SO_DOMAIN), AF_UNIX);
    EXPECT_EQ(GetIntOpt(a.get(), SOL_SOCKET, SO_TYPE), type);
    EXPECT_THAT(SYSCALL(write(a.get(), "ping", 4)), SyscallSucceedsWithValue(4));
    char buf[8];
    ASSERT_TRUE(WaitReadable(b.get()));
    EXPECT_THAT(SYSCALL(read(b.get(), buf, sizeof(buf))), SyscallSucceedsWithValue(4));
    EXPECT_EQ(std::string(buf, 4), "ping");
  }
}

TEST(SocketpairTest, InternetFamiliesAreEOPNOTSUPP) {
  for (int family : {AF_INET, AF_INET6}) {
    int sv[2] = {-1, -1};
    EXPECT_THAT(SYSCALL(socketpair(family, SOCK_DGRAM, 0, sv)), SyscallFailsWithErrno(EOPNOTSUPP))
        << "family " << family;
  }
}

}  // namespace
}  // namespace tapsock::testing
