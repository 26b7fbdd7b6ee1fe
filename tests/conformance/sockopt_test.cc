// Conformance tests for SOL_SOCKET options on UDP sockets.
//
// Covers the read-only identity options (SO_TYPE, SO_DOMAIN, SO_PROTOCOL,
// SO_ACCEPTCONN, SO_ERROR); boolean options and Linux's normalisation of any
// nonzero value to 1; SO_PRIORITY; SO_SNDBUF/SO_RCVBUF (the kernel stores
// twice the requested size, with a floor and a ceiling); SO_RCVTIMEO/
// SO_SNDTIMEO (struct timeval, EDOM for out-of-range microseconds, negative
// seconds, rounding up of tiny values); SO_LINGER; and the generic length
// and pointer rules of getsockopt()/setsockopt(): short lengths truncate on
// get and fail on set, negative lengths are EINVAL, bad pointers EFAULT,
// unknown options ENOPROTOOPT, and the errno for an unknown level, which
// Linux makes depend on the call and the family.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <climits>
#include <cstdint>
#include <string>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

class SockoptTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    fd_ = UdpSocket(family());
    ASSERT_TRUE(fd_.valid());
  }
  int family() const { return GetParam(); }

  FileDescriptor fd_;
};

// ------------------------------------------------------ identity options

TEST_P(SockoptTest, IdentityOptionsDescribeTheSocket) {
  for (int protocol : {0, static_cast<int>(IPPROTO_UDP)}) {
    SCOPED_TRACE(protocol);
    FileDescriptor fd(socket(family(), SOCK_DGRAM, protocol));
    ASSERT_TRUE(fd.valid());
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_DOMAIN), family());
    // Protocol 0 is resolved to the real protocol.
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN), 0);
    EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_ERROR), 0);
  }
}

// SO_TYPE reports the type without the SOCK_NONBLOCK/SOCK_CLOEXEC flags.
TEST_P(SockoptTest, SoTypeExcludesCreationFlags) {
  FileDescriptor fd = UdpSocket(family(), SOCK_NONBLOCK | SOCK_CLOEXEC);
  EXPECT_EQ(GetIntOpt(fd.get(), SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
}

TEST_P(SockoptTest, ReadOnlyOptionsAreENOPROTOOPTOnSet) {
  for (int name : {SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_ERROR}) {
    const int value = 0;
    EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, name, &value, sizeof(value))),
                SyscallFailsWithErrno(ENOPROTOOPT))
        << "option " << name;
  }
}

TEST_P(SockoptTest, SoPriorityRoundTrip) {
  EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, SO_PRIORITY), 0);
  // 0..6 need no privilege.
  for (int priority = 0; priority <= 6; ++priority) {
    SetIntOpt(fd_.get(), SOL_SOCKET, SO_PRIORITY, priority);
    EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, SO_PRIORITY), priority);
  }
}

// -------------------------------------------------- length and pointer rules

TEST_P(SockoptTest, UnknownOptionIsENOPROTOOPT) {
  int value = 1;
  socklen_t len = sizeof(value);
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, 12345, &value, &len)),
              SyscallFailsWithErrno(ENOPROTOOPT));
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, 12345, &value, sizeof(value))),
              SyscallFailsWithErrno(ENOPROTOOPT));
}

// An unknown level falls through SOL_UDP to the IP layer. Linux answers
// setsockopt with ENOPROTOOPT, but getsockopt with EOPNOTSUPP for AF_INET
// and ENOPROTOOPT for AF_INET6.
TEST_P(SockoptTest, UnknownLevel) {
  int value = 1;
  socklen_t len = sizeof(value);
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), 12345, 1, &value, &len)),
              SyscallFailsWithErrno(family() == AF_INET ? EOPNOTSUPP : ENOPROTOOPT));
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), 12345, 1, &value, sizeof(value))),
              SyscallFailsWithErrno(ENOPROTOOPT));
}

TEST(SockoptInetTest, Ipv6LevelOnInetSocket) {
  FileDescriptor fd = UdpSocket(AF_INET);
  int value = 0;
  socklen_t len = sizeof(value);
  EXPECT_THAT(SYSCALL(getsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &value, &len)),
              SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(SYSCALL(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &value, sizeof(value))),
              SyscallFailsWithErrno(ENOPROTOOPT));
}

// Linux copies out min(optlen, sizeof(int)) bytes of an int option and
// reports how many it wrote; it does not reject short buffers.
TEST_P(SockoptTest, GetsockoptShortOptlenTruncates) {
  unsigned char buf[8];
  memset(buf, 0xa5, sizeof(buf));
  socklen_t len = 2;
  ASSERT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, buf, &len)), SyscallSucceeds());
  EXPECT_EQ(len, 2u);
  const int type = SOCK_DGRAM;
  EXPECT_EQ(memcmp(buf, &type, 2), 0);  // The first two bytes of the int.
  EXPECT_EQ(buf[2], 0xa5);
}

TEST_P(SockoptTest, GetsockoptZeroOptlenWritesNothing) {
  socklen_t len = 0;
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, nullptr, &len)),
              SyscallSucceeds());
  EXPECT_EQ(len, 0u);
}

TEST_P(SockoptTest, GetsockoptLongOptlenIsClampedToInt) {
  unsigned char buf[8];
  memset(buf, 0xa5, sizeof(buf));
  socklen_t len = sizeof(buf);
  ASSERT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, buf, &len)), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(int));
  int value;
  memcpy(&value, buf, sizeof(value));
  EXPECT_EQ(value, SOCK_DGRAM);
  EXPECT_EQ(buf[sizeof(int)], 0xa5);
}

TEST_P(SockoptTest, NegativeOptlenIsEINVAL) {
  int value = 1;
  socklen_t len = static_cast<socklen_t>(-1);
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, &value, &len)),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(
      SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &value, static_cast<socklen_t>(-1))),
      SyscallFailsWithErrno(EINVAL));
}

// Unlike getsockopt, setsockopt needs a whole int.
TEST_P(SockoptTest, SetsockoptShortOptlenIsEINVAL) {
  const int value = 1;
  for (socklen_t len : {0u, 1u, 2u, 3u}) {
    EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &value, len)),
                SyscallFailsWithErrno(EINVAL))
        << "optlen " << len;
  }
  EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, SO_REUSEADDR), 0);
}

// A longer buffer is accepted; only its first int is read.
TEST_P(SockoptTest, SetsockoptLongOptlenReadsFirstInt) {
  const int values[2] = {1, 0};
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, values, sizeof(values))),
              SyscallSucceeds());
  EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, SO_REUSEADDR), 1);
}

TEST_P(SockoptTest, BadPointersAreEFAULT) {
  void* bad = reinterpret_cast<void*>(1);
  socklen_t len = sizeof(int);
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, bad, &len)),
              SyscallFailsWithErrno(EFAULT));
  len = sizeof(int);
  EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, nullptr, &len)),
              SyscallFailsWithErrno(EFAULT));
  int value;
  EXPECT_THAT(
      SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, &value, static_cast<socklen_t*>(bad))),
      SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, bad, sizeof(int))),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, nullptr, sizeof(int))),
              SyscallFailsWithErrno(EFAULT));
}

INSTANTIATE_TEST_SUITE_P(Families, SockoptTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

// ----------------------------------------------------------- boolean options

struct NamedOption {
  const char* name;
  int option;
};

using OptionParam = std::tuple<int, NamedOption>;

std::string OptionParamName(const ::testing::TestParamInfo<OptionParam>& info) {
  return FamilyName(::testing::TestParamInfo<int>(std::get<0>(info.param), info.index)) + "_" +
         std::get<1>(info.param).name;
}

class BooleanOptionTest : public ::testing::TestWithParam<OptionParam> {
 protected:
  void SetUp() override {
    fd_ = UdpSocket(std::get<0>(GetParam()));
    ASSERT_TRUE(fd_.valid());
  }
  int option() const { return std::get<1>(GetParam()).option; }

  FileDescriptor fd_;
};

TEST_P(BooleanOptionTest, DefaultsToOff) {
  EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, option()), 0);
}

// Any nonzero value turns the option on and reads back as exactly 1.
TEST_P(BooleanOptionTest, NonzeroReadsBackAsOne) {
  for (int value : {1, 5, -1}) {
    SetIntOpt(fd_.get(), SOL_SOCKET, option(), value);
    EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, option()), 1) << value;
    SetIntOpt(fd_.get(), SOL_SOCKET, option(), 0);
    EXPECT_EQ(GetIntOpt(fd_.get(), SOL_SOCKET, option()), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Options, BooleanOptionTest,
    ::testing::Combine(::testing::Values(AF_INET, AF_INET6),
                       ::testing::Values(NamedOption{"SO_REUSEADDR", SO_REUSEADDR},
                                         NamedOption{"SO_REUSEPORT", SO_REUSEPORT},
                                         NamedOption{"SO_BROADCAST", SO_BROADCAST},
                                         NamedOption{"SO_KEEPALIVE", SO_KEEPALIVE},
                                         NamedOption{"SO_TIMESTAMP", SO_TIMESTAMP})),
    OptionParamName);

// ------------------------------------------------------ buffer size options

class BufferSizeTest : public BooleanOptionTest {
 protected:
  int SetAndGet(int value) {
    SetIntOpt(fd_.get(), SOL_SOCKET, option(), value);
    return GetIntOpt(fd_.get(), SOL_SOCKET, option());
  }
};

TEST_P(BufferSizeTest, DefaultIsPositive) {
  EXPECT_GT(GetIntOpt(fd_.get(), SOL_SOCKET, option()), 0);
}

// The kernel doubles the request to leave room for its bookkeeping, and
// getsockopt reports the doubled value.
TEST_P(BufferSizeTest, RequestIsDoubled) {
  EXPECT_EQ(SetAndGet(8192), 16384);
  EXPECT_EQ(SetAndGet(16384), 32768);
}

// Tiny requests are raised to one fixed minimum.
TEST_P(BufferSizeTest, TinyRequestsClampToOneMinimum) {
  const int floor = SetAndGet(0);
  EXPECT_GT(floor, 2 * 2);
  EXPECT_EQ(SetAndGet(1), floor);
  EXPECT_EQ(SetAndGet(2), floor);
  EXPECT_LE(floor, 16384);
}

// Huge requests are capped (by a sysctl on Linux). The value is read as
// unsigned before capping, so -1 means "as much as allowed", not "tiny".
TEST_P(BufferSizeTest, HugeRequestsClampToOneMaximum) {
  const int ceiling = SetAndGet(INT_MAX);
  EXPECT_GE(ceiling, 16384);
  EXPECT_LT(ceiling, INT_MAX);
  EXPECT_EQ(SetAndGet(-1), ceiling);
}

INSTANTIATE_TEST_SUITE_P(Options, BufferSizeTest,
                         ::testing::Combine(::testing::Values(AF_INET, AF_INET6),
                                            ::testing::Values(NamedOption{"SO_SNDBUF", SO_SNDBUF},
                                                              NamedOption{"SO_RCVBUF", SO_RCVBUF})),
                         OptionParamName);

// ---------------------------------------------------------- timeout options

class TimeoutOptionTest : public BooleanOptionTest {
 protected:
  SyscallResult Set(timeval tv, socklen_t len = sizeof(timeval)) {
    return SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, option(), &tv, len));
  }
  timeval Get() {
    timeval tv = {-7, -7};
    socklen_t len = sizeof(tv);
    EXPECT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, option(), &tv, &len)), SyscallSucceeds());
    EXPECT_EQ(len, sizeof(tv));
    return tv;
  }
};

TEST_P(TimeoutOptionTest, DefaultIsZero) {
  timeval tv = Get();
  EXPECT_EQ(tv.tv_sec, 0);
  EXPECT_EQ(tv.tv_usec, 0);
}

TEST_P(TimeoutOptionTest, RoundTrip) {
  for (timeval want : {timeval{2, 500000}, timeval{0, 200000}, timeval{30, 0}, timeval{0, 0}}) {
    ASSERT_THAT(Set(want), SyscallSucceeds());
    timeval got = Get();
    EXPECT_EQ(got.tv_sec, want.tv_sec);
    EXPECT_EQ(got.tv_usec, want.tv_usec);
  }
}

TEST_P(TimeoutOptionTest, MicrosecondsOutOfRangeIsEDOM) {
  EXPECT_THAT(Set({0, 1000000}), SyscallFailsWithErrno(EDOM));
  EXPECT_THAT(Set({1, -1}), SyscallFailsWithErrno(EDOM));
}

// Negative seconds are accepted and read back as {0, 0}.
TEST_P(TimeoutOptionTest, NegativeSecondsReadBackAsZero) {
  ASSERT_THAT(Set({5, 0}), SyscallSucceeds());
  ASSERT_THAT(Set({-1, 0}), SyscallSucceeds());
  timeval got = Get();
  EXPECT_EQ(got.tv_sec, 0);
  EXPECT_EQ(got.tv_usec, 0);
}

// The kernel keeps timeouts in clock ticks, rounding up: a 1 us timeout must
// not turn into 0, which would mean "no timeout".
TEST_P(TimeoutOptionTest, TinyTimeoutIsRoundedUp) {
  ASSERT_THAT(Set({0, 1}), SyscallSucceeds());
  timeval got = Get();
  EXPECT_EQ(got.tv_sec, 0);
  EXPECT_GE(got.tv_usec, 1);
}

TEST_P(TimeoutOptionTest, SetShortOptlenIsEINVAL) {
  EXPECT_THAT(Set({1, 0}, sizeof(timeval) - 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Set({1, 0}, sizeof(int)), SyscallFailsWithErrno(EINVAL));
}

// Like int options, a short getsockopt buffer gets a prefix of the timeval.
TEST_P(TimeoutOptionTest, GetShortOptlenTruncates) {
  ASSERT_THAT(Set({3, 0}), SyscallSucceeds());
  timeval tv = {-7, -7};
  socklen_t len = sizeof(tv.tv_sec);
  ASSERT_THAT(SYSCALL(getsockopt(fd_.get(), SOL_SOCKET, option(), &tv, &len)), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(tv.tv_sec));
  EXPECT_EQ(tv.tv_sec, 3);
  EXPECT_EQ(tv.tv_usec, -7);
}

INSTANTIATE_TEST_SUITE_P(
    Options, TimeoutOptionTest,
    ::testing::Combine(::testing::Values(AF_INET, AF_INET6),
                       ::testing::Values(NamedOption{"SO_RCVTIMEO", SO_RCVTIMEO},
                                         NamedOption{"SO_SNDTIMEO", SO_SNDTIMEO})),
    OptionParamName);

// ---------------------------------------------------------------- SO_LINGER

linger GetLinger(int fd) {
  linger l = {-7, -7};
  socklen_t len = sizeof(l);
  EXPECT_THAT(SYSCALL(getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len)), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(l));
  return l;
}

TEST_P(SockoptTest, LingerDefaultIsOff) {
  linger l = GetLinger(fd_.get());
  EXPECT_EQ(l.l_onoff, 0);
  EXPECT_EQ(l.l_linger, 0);
}

// l_onoff is a boolean: any nonzero value reads back as 1.
TEST_P(SockoptTest, LingerRoundTrip) {
  const linger on = {7, 5};
  ASSERT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &on, sizeof(on))),
              SyscallSucceeds());
  linger l = GetLinger(fd_.get());
  EXPECT_EQ(l.l_onoff, 1);
  EXPECT_EQ(l.l_linger, 5);
}

// Turning lingering off leaves the stored time alone: l_linger of the
// disabling call is ignored and the old value is still reported.
TEST_P(SockoptTest, LingerOffKeepsPreviousTime) {
  const linger on = {1, 5};
  const linger off = {0, 9};
  ASSERT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &on, sizeof(on))),
              SyscallSucceeds());
  ASSERT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &off, sizeof(off))),
              SyscallSucceeds());
  linger l = GetLinger(fd_.get());
  EXPECT_EQ(l.l_onoff, 0);
  EXPECT_EQ(l.l_linger, 5);
}

TEST_P(SockoptTest, LingerShortOptlenIsEINVAL) {
  const linger on = {1, 5};
  EXPECT_THAT(SYSCALL(setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &on, sizeof(on) - 1)),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(GetLinger(fd_.get()).l_onoff, 0);
}

}  // namespace
}  // namespace tapsock::testing
