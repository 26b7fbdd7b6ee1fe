// Conformance tests for TCP socket options (SOL_TCP, plus the SOL_SOCKET
// options whose TCP behaviour differs), for AF_INET and dual-stack AF_INET6.
//
// Covers TCP_NODELAY, TCP_CORK, TCP_QUICKACK (booleans, any nonzero value
// reads back as 1); TCP_MAXSEG (536 before connecting, the path MSS after,
// user values clamp the connection, range 88..32767 and 0); keepalive
// (SO_KEEPALIVE, TCP_KEEPIDLE/KEEPINTVL/KEEPCNT with their ranges);
// TCP_USER_TIMEOUT, TCP_SYNCNT; TCP_INFO (state, length rules, values after
// traffic); TCP_CONGESTION (default, reno, ENOENT); SO_SNDBUF/SO_RCVBUF
// doubling; and the generic rules at the TCP level: int-or-shorter reads,
// short writes, unknown options, and TCP options on a UDP socket.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <string>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

std::string ReadSysctl(const char* path) {
  std::ifstream in(path);
  std::string value;
  std::getline(in, value);
  return value;
}

std::string GetCongestion(int fd, socklen_t* len_out = nullptr) {
  char name[64];
  memset(name, 'X', sizeof(name));
  socklen_t len = sizeof(name);
  EXPECT_THAT(SYSCALL(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len)),
              SyscallSucceeds());
  if (len_out != nullptr) *len_out = len;
  return std::string(name, strnlen(name, len));
}

class TcpSockoptTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    fd_ = TcpSocket(family());
    ASSERT_TRUE(fd_.valid());
  }
  int family() const { return GetParam(); }

  FileDescriptor fd_;
};

// --------------------------------------------------------------- booleans

TEST_P(TcpSockoptTest, NodelayDefaultsOffAndNormalises) {
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_NODELAY), 0);
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, 5);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_NODELAY), 1);
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, 0);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_NODELAY), 0);
  // Accepted sockets start with the default too.
  TcpPair pair = ConnectedPair(family());
  EXPECT_EQ(GetIntOpt(pair.server.get(), IPPROTO_TCP, TCP_NODELAY), 0);
  SetIntOpt(pair.client.get(), IPPROTO_TCP, TCP_NODELAY, 1);
  EXPECT_EQ(GetIntOpt(pair.client.get(), IPPROTO_TCP, TCP_NODELAY), 1);
}

TEST_P(TcpSockoptTest, CorkRoundTripAndUncorkDelivers) {
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_CORK), 0);
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_CORK, 3);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_CORK), 1);
  // TCP_NODELAY does not clear the cork.
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, 1);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_CORK), 1);
  TcpPair pair = ConnectedPair(family());
  SetIntOpt(pair.client.get(), IPPROTO_TCP, TCP_CORK, 1);
  ASSERT_TRUE(SendAll(pair.client.get(), "abc"));
  ASSERT_TRUE(SendAll(pair.client.get(), "def"));
  SetIntOpt(pair.client.get(), IPPROTO_TCP, TCP_CORK, 0);
  EXPECT_EQ(GetIntOpt(pair.client.get(), IPPROTO_TCP, TCP_CORK), 0);
  EXPECT_EQ(RecvUpTo(pair.server.get(), 6), "abcdef");
}

// TCP_QUICKACK reads 1 while the socket is not in delayed-ACK mode.
TEST_P(TcpSockoptTest, QuickackRoundTrip) {
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK), 1);
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK, 0);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK), 0);
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK, 7);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK), 1);
}

// ------------------------------------------------------------- TCP_MAXSEG

TEST_P(TcpSockoptTest, MaxsegIs536BeforeConnecting) {
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_MAXSEG), 536);
}

TEST_P(TcpSockoptTest, MaxsegOnConnectedSocketIsTheSendMss) {
  TcpPair pair = ConnectedPair(family());
  for (int fd : {pair.client.get(), pair.server.get()}) {
    const int mss = GetIntOpt(fd, IPPROTO_TCP, TCP_MAXSEG);
    EXPECT_GT(mss, 0);
    EXPECT_LE(mss, 65495);
    EXPECT_EQ(static_cast<unsigned>(mss), GetTcpInfo(fd).tcpi_snd_mss);
  }
}

// A user MSS set before connecting reads back as set and caps the segment
// size of both ends.
TEST_P(TcpSockoptTest, MaxsegSetBeforeConnectCapsTheConnection) {
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_MAXSEG, 1000);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_MAXSEG), 1000);
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  ASSERT_THAT(ConnectTo(fd_.get(), addr), SyscallSucceeds());
  FileDescriptor server = AcceptOne(listener.get());
  EXPECT_GT(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_MAXSEG), 0);
  EXPECT_LE(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_MAXSEG), 1000);
  EXPECT_LE(GetIntOpt(server.get(), IPPROTO_TCP, TCP_MAXSEG), 1000);
}

TEST_P(TcpSockoptTest, MaxsegRange) {
  for (int ok : {88, 536, 1460, 32767, 0}) {
    EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, TCP_MAXSEG, &ok, sizeof(ok))),
                SyscallSucceeds())
        << ok;
  }
  for (int bad : {-1, 1, 87, 32768, 65536}) {
    EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, TCP_MAXSEG, &bad, sizeof(bad))),
                SyscallFailsWithErrno(EINVAL))
        << bad;
  }
}

// -------------------------------------------------------------- keepalive

TEST_P(TcpSockoptTest, KeepaliveDefaults) {
  EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, SO_KEEPALIVE), 0);
  SetIntOpt(fd_.get(), SOL_SOCKET, SO_KEEPALIVE, 7);
  EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, SO_KEEPALIVE), 1);
  if (ReadSysctl("/proc/sys/net/ipv4/tcp_keepalive_time") != "7200" ||
      ReadSysctl("/proc/sys/net/ipv4/tcp_keepalive_intvl") != "75" ||
      ReadSysctl("/proc/sys/net/ipv4/tcp_keepalive_probes") != "9") {
    GTEST_SKIP() << "host keepalive sysctls are not the Linux defaults";
  }
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_KEEPIDLE), 7200);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_KEEPINTVL), 75);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_KEEPCNT), 9);
}

struct RangedOption {
  const char* name;
  int option;
  int max;
};

class TcpRangedOptionTest : public ::testing::TestWithParam<std::tuple<int, RangedOption>> {};

// Valid values are 1..max; 0, negatives and max + 1 are EINVAL and leave the
// option as it was.
TEST_P(TcpRangedOptionTest, AcceptsOneToMax) {
  const auto [family, opt] = GetParam();
  FileDescriptor fd = TcpSocket(family);
  for (int value : {1, opt.max, 42}) {
    SetIntOpt(fd.get(), IPPROTO_TCP, opt.option, value);
    EXPECT_EQ(GetIntOpt(fd.get(), IPPROTO_TCP, opt.option), value);
  }
  for (int bad : {0, -1, opt.max + 1, INT_MAX}) {
    EXPECT_THAT(SYSCALL(setsockopt(fd.get(), IPPROTO_TCP, opt.option, &bad, sizeof(bad))),
                SyscallFailsWithErrno(EINVAL))
        << bad;
    EXPECT_EQ(GetIntOpt(fd.get(), IPPROTO_TCP, opt.option), 42);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Options, TcpRangedOptionTest,
    ::testing::Combine(::testing::Values(AF_INET, AF_INET6),
                       ::testing::Values(RangedOption{"TCP_KEEPIDLE", TCP_KEEPIDLE, 32767},
                                         RangedOption{"TCP_KEEPINTVL", TCP_KEEPINTVL, 32767},
                                         RangedOption{"TCP_KEEPCNT", TCP_KEEPCNT, 127},
                                         RangedOption{"TCP_SYNCNT", TCP_SYNCNT, 127})),
    [](const ::testing::TestParamInfo<std::tuple<int, RangedOption>>& info) {
      return std::string(std::get<1>(info.param).name) + "_" +
             (std::get<0>(info.param) == AF_INET6 ? "Inet6DualStack" : "Inet");
    });

TEST_P(TcpSockoptTest, UserTimeoutRoundTrip) {
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, 1500);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_USER_TIMEOUT), 1500);
  const int bad = -1;
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, &bad, sizeof(bad))),
              SyscallFailsWithErrno(EINVAL));
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, 0);
  EXPECT_EQ(GetIntOpt(fd_.get(), IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
}

// --------------------------------------------------------------- TCP_INFO

TEST_P(TcpSockoptTest, TcpInfoState) {
  EXPECT_EQ(TcpStateOf(fd_.get()), kTcpClose);
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  EXPECT_EQ(TcpStateOf(listener.get()), kTcpListen);
  TcpPair pair = ConnectedPair(family());
  EXPECT_EQ(TcpStateOf(pair.client.get()), kTcpEstablished);
  EXPECT_EQ(TcpStateOf(pair.server.get()), kTcpEstablished);
}

// On loopback the smoothed RTT is a few microseconds and may round down to 0,
// so only its sanity is checked; the RTO is always set.
TEST_P(TcpSockoptTest, TcpInfoAfterTraffic) {
  TcpPair pair = ConnectedPair(family());
  ASSERT_TRUE(SendAll(pair.client.get(), "request"));
  ASSERT_EQ(RecvUpTo(pair.server.get(), 7), "request");
  ASSERT_TRUE(SendAll(pair.server.get(), "reply"));
  ASSERT_EQ(RecvUpTo(pair.client.get(), 5), "reply");
  const tcp_info info = GetTcpInfo(pair.client.get());
  EXPECT_EQ(info.tcpi_state, kTcpEstablished);
  EXPECT_LT(info.tcpi_rtt, 5000000u);
  EXPECT_GT(info.tcpi_rto, 0u);
  EXPECT_GT(info.tcpi_snd_mss, 0u);
  EXPECT_GT(info.tcpi_rcv_mss, 0u);
  EXPECT_GT(info.tcpi_snd_cwnd, 0u);
}

// TCP_INFO copies min(len, its size) bytes and reports how many.
TEST_P(TcpSockoptTest, TcpInfoLengthRules) {
  unsigned char buf[1024];
  memset(buf, 0xEE, sizeof(buf));
  socklen_t len = 1;
  ASSERT_THAT(SYSCALL(getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, buf, &len)), SyscallSucceeds());
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(buf[0], kTcpClose);
  EXPECT_EQ(buf[1], 0xEE);
  len = 0;
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, buf, &len)), SyscallSucceeds());
  EXPECT_EQ(len, 0u);
  len = sizeof(buf);
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, buf, &len)), SyscallSucceeds());
  EXPECT_GE(len, sizeof(tcp_info));
  EXPECT_LT(len, sizeof(buf));
}

// --------------------------------------------------------- TCP_CONGESTION

TEST_P(TcpSockoptTest, CongestionDefaultIsCubic) {
  if (ReadSysctl("/proc/sys/net/ipv4/tcp_congestion_control") != "cubic") {
    GTEST_SKIP() << "the host's default congestion control is not cubic";
  }
  EXPECT_EQ(GetCongestion(fd_.get()), "cubic");
}

// The name needs no terminating NUL on set; get reports TCP_CA_NAME_MAX (16)
// bytes, NUL-padded.
TEST_P(TcpSockoptTest, CongestionSetRenoAndReadBack) {
  ASSERT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, TCP_CONGESTION, "reno", 4)),
              SyscallSucceeds());
  socklen_t len = 0;
  EXPECT_EQ(GetCongestion(fd_.get(), &len), "reno");
  EXPECT_EQ(len, 16u);
  // It carries over to the connection.
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family(), &addr);
  ASSERT_THAT(ConnectTo(fd_.get(), addr), SyscallSucceeds());
  EXPECT_EQ(GetCongestion(fd_.get()), "reno");
}

TEST_P(TcpSockoptTest, CongestionUnknownIsENOENT) {
  ASSERT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, TCP_CONGESTION, "reno", 5)),
              SyscallSucceeds());
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, TCP_CONGESTION, "nonexistent", 12)),
              SyscallFailsWithErrno(ENOENT));
  EXPECT_EQ(GetCongestion(fd_.get()), "reno");
}

// ---------------------------------------------------------------- buffers

TEST_P(TcpSockoptTest, BufferSizesAreDoubled) {
  for (int option : {SO_SNDBUF, SO_RCVBUF}) {
    SetIntOpt(fd_.get(), SOL_SOCKET, option, 65536);
    EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, option), 131072) << option;
  }
}

// ------------------------------------------------------- generic TCP rules

// Integer TCP options can be read into fewer than 4 bytes; setting them
// needs a full int.
TEST_P(TcpSockoptTest, ShortLengths) {
  SetIntOpt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, 1);
  unsigned char buf[4] = {0x55, 0x55, 0x55, 0x55};
  socklen_t len = 1;
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, buf, &len)),
              SyscallSucceeds());
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(buf[1], 0x55);
  const int one = 1;
  for (socklen_t short_len : {0u, 1u, 3u}) {
    EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, short_len)),
                SyscallFailsWithErrno(EINVAL))
        << short_len;
  }
}

TEST_P(TcpSockoptTest, UnknownTcpOptionIsENOPROTOOPT) {
  int value = 0;
  socklen_t len = sizeof(value);
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), IPPROTO_TCP, 9999, &value, &len)),
              SyscallFailsWithErrno(ENOPROTOOPT));
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), IPPROTO_TCP, 9999, &value, sizeof(value))),
              SyscallFailsWithErrno(ENOPROTOOPT));
}

// On a UDP socket, setting a TCP option is ENOPROTOOPT; getting one is
// EOPNOTSUPP through the IPv4 code but ENOPROTOOPT through the IPv6 code.
TEST_P(TcpSockoptTest, TcpOptionsOnUdpSocket) {
  FileDescriptor udp = UdpSocket(family());
  int value = 1;
  socklen_t len = sizeof(value);
  EXPECT_THAT(SYSCALL(getsockopt(udp.get(), IPPROTO_TCP, TCP_NODELAY, &value, &len)),
              SyscallFailsWithErrno(family() == AF_INET ? EOPNOTSUPP : ENOPROTOOPT));
  EXPECT_THAT(SYSCALL(setsockopt(udp.get(), IPPROTO_TCP, TCP_NODELAY, &value, sizeof(value))),
              SyscallFailsWithErrno(ENOPROTOOPT));
}

TEST_P(TcpSockoptTest, SoErrorIsZeroOnHealthyConnection) {
  TcpPair pair = ConnectedPair(family());
  EXPECT_EQ(GetIntOpt(pair.client.get(), SOL_SOCKET, SO_ERROR), 0);
  EXPECT_EQ(GetIntOpt(pair.server.get(), SOL_SOCKET, SO_ERROR), 0);
  EXPECT_EQ(GetIntOpt(pair.server.get(), SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  EXPECT_EQ(GetIntOpt(pair.server.get(), SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
}

INSTANTIATE_TEST_SUITE_P(Families, TcpSockoptTest, ::testing::Values(AF_INET, AF_INET6),
                         FamilyName);

}  // namespace
}  // namespace tapsock::testing
