// Helpers shared by the conformance tests.
//
// The conformance tests are plain socket-API programs: they run natively on
// the Linux kernel and again under LD_PRELOAD=libtapsock.so, and must pass
// both ways. Nothing here may know about tapsock. The helpers provide:
//   - FileDescriptor, a move-only owner that closes on destruction, so that a
//     failing ASSERT never leaks a socket into the next test;
//   - SYSCALL(expr) plus the SyscallSucceeds(), SyscallSucceedsWithValue(v)
//     and SyscallFailsWithErrno(e) matchers. SYSCALL captures errno right
//     after the call, before gtest runs any code of its own (code that may
//     itself go through the interposed libc and clobber errno);
//   - SocketAddress and helpers that build loopback addresses for AF_INET
//     (127.0.0.1) and for dual-stack AF_INET6 (::ffff:127.0.0.1), so that one
//     test body covers both families without any IPv6 traffic.

#ifndef TAPSOCK_TESTS_CONFORMANCE_TEST_UTIL_H_
#define TAPSOCK_TESTS_CONFORMANCE_TEST_UTIL_H_

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ostream>
#include <string>
#include <thread>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tapsock::testing {

// Generous bound for "this event must happen": only reached when a test is
// about to fail, so it costs nothing on the passing path.
inline constexpr int kEventTimeoutMs = 5000;

// Owns one file descriptor and closes it on destruction.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    reset(other.release());
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives up ownership without closing (for tests that close by hand).
  int release() { return std::exchange(fd_, -1); }

  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The outcome of one call: its return value and, if it failed, its errno.
struct SyscallResult {
  long ret;
  int err;  // 0 unless ret == -1; errno is unspecified after a success.
};

inline std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "errno " + std::to_string(err);
}

inline void PrintTo(const SyscallResult& r, std::ostream* os) {
  *os << r.ret;
  if (r.ret == -1) *os << " (" << ErrnoName(r.err) << ")";
}

namespace internal {

template <typename F>
SyscallResult Capture(F&& call) {
  errno = 0;
  const auto ret = call();
  const int err = errno;
  return {static_cast<long>(ret), ret == -1 ? err : 0};
}

}  // namespace internal

// Evaluates a libc call returning int/ssize_t and captures errno at once.
#define SYSCALL(expr) (::tapsock::testing::internal::Capture([&]() { return (expr); }))

// The printed SyscallResult already shows the errno, so the matchers add no
// explanation of their own.
MATCHER(SyscallSucceeds, negation ? "fails" : "succeeds") {
  return arg.ret != -1;
}

// `value` may be a plain value or a matcher, e.g. SyscallSucceedsWithValue(0)
// or SyscallSucceedsWithValue(::testing::Gt(0)).
MATCHER_P(SyscallSucceedsWithValue, value,
          std::string(negation ? "doesn't succeed with a value that "
                               : "succeeds with a value that ") +
              ::testing::DescribeMatcher<long>(value)) {
  return arg.ret != -1 && ::testing::ExplainMatchResult(value, arg.ret, result_listener);
}

MATCHER_P(SyscallFailsWithErrno, expected,
          std::string(negation ? "doesn't fail with " : "fails with ") + ErrnoName(expected)) {
  return arg.ret == -1 && arg.err == expected;
}

// A socket address of either family with its length.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;

  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  sockaddr_in* in4() { return reinterpret_cast<sockaddr_in*>(&storage); }
  sockaddr_in6* in6() { return reinterpret_cast<sockaddr_in6*>(&storage); }

  uint16_t port() const {
    const auto* sa = reinterpret_cast<const sockaddr_in*>(&storage);
    const auto* sa6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    return ntohs(family() == AF_INET6 ? sa6->sin6_port : sa->sin_port);
  }
  void set_port(uint16_t port) {
    if (family() == AF_INET6) {
      in6()->sin6_port = htons(port);
    } else {
      in4()->sin_port = htons(port);
    }
  }

  // "127.0.0.1:5000", "[::ffff:127.0.0.1]:5000", "family 0" ... so that
  // EXPECT_EQ on two addresses prints something readable when it fails.
  std::string ToString() const {
    char buf[INET6_ADDRSTRLEN] = {};
    const auto* sa = reinterpret_cast<const sockaddr_in*>(&storage);
    const auto* sa6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    if (family() == AF_INET) {
      inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof(buf));
      return std::string(buf) + ":" + std::to_string(port());
    }
    if (family() == AF_INET6) {
      inet_ntop(AF_INET6, &sa6->sin6_addr, buf, sizeof(buf));
      return "[" + std::string(buf) + "]:" + std::to_string(port());
    }
    return "family " + std::to_string(family());
  }
};

inline SocketAddress Inet4Address(const char* ip, uint16_t port = 0) {
  SocketAddress a;
  a.len = sizeof(sockaddr_in);
  a.in4()->sin_family = AF_INET;
  a.in4()->sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip, &a.in4()->sin_addr), 1) << ip;
  return a;
}

inline SocketAddress Inet6Address(const char* ip, uint16_t port = 0) {
  SocketAddress a;
  a.len = sizeof(sockaddr_in6);
  a.in6()->sin6_family = AF_INET6;
  a.in6()->sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, ip, &a.in6()->sin6_addr), 1) << ip;
  return a;
}

// The IPv4 loopback address as the given family writes it: 127.0.0.1 for
// AF_INET, the v4-mapped ::ffff:127.0.0.1 for a dual-stack AF_INET6 socket.
inline SocketAddress LoopbackAddress(int family, uint16_t port = 0) {
  return family == AF_INET6 ? Inet6Address("::ffff:127.0.0.1", port)
                            : Inet4Address("127.0.0.1", port);
}

inline SocketAddress AnyAddress(int family, uint16_t port = 0) {
  return family == AF_INET6 ? Inet6Address("::", port) : Inet4Address("0.0.0.0", port);
}

inline SocketAddress GetSockName(int fd) {
  SocketAddress a;
  a.len = sizeof(a.storage);
  EXPECT_THAT(SYSCALL(getsockname(fd, a.get(), &a.len)), SyscallSucceeds());
  return a;
}

inline SocketAddress GetPeerName(int fd) {
  SocketAddress a;
  a.len = sizeof(a.storage);
  EXPECT_THAT(SYSCALL(getpeername(fd, a.get(), &a.len)), SyscallSucceeds());
  return a;
}

// A UDP socket of `family`. AF_INET6 sockets are made dual-stack explicitly
// (IPV6_V6ONLY = 0) so that the tests do not depend on the host's
// net.ipv6.bindv6only setting.
inline FileDescriptor UdpSocket(int family, int type_flags = 0) {
  FileDescriptor fd(socket(family, SOCK_DGRAM | type_flags, 0));
  EXPECT_TRUE(fd.valid()) << "socket: " << ErrnoName(errno);
  if (fd.valid() && family == AF_INET6) {
    const int off = 0;
    EXPECT_THAT(SYSCALL(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off))),
                SyscallSucceeds());
  }
  return fd;
}

// A UDP socket bound to the loopback address of `family` on an ephemeral port.
// If `bound` is given, it receives the address the socket ended up with.
inline FileDescriptor BoundUdpSocket(int family, SocketAddress* bound = nullptr) {
  FileDescriptor fd = UdpSocket(family);
  SocketAddress addr = LoopbackAddress(family);
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallSucceeds());
  if (bound != nullptr) *bound = GetSockName(fd.get());
  return fd;
}

// Polls one fd once and returns its revents (0 on timeout).
inline short PollOne(int fd, short events, int timeout_ms = kEventTimeoutMs) {
  pollfd pfd = {fd, events, 0};
  EXPECT_THAT(SYSCALL(poll(&pfd, 1, timeout_ms)), SyscallSucceeds());
  return pfd.revents;
}

// Waits until a datagram (or an error) is queued, so that the following
// non-blocking receive does not race with delivery.
inline bool WaitReadable(int fd) {
  return (PollOne(fd, POLLIN) & POLLIN) != 0;
}

// Sends `data` to `to` and fails the test if it is not sent whole.
inline void SendTo(int fd, const std::string& data, const SocketAddress& to) {
  EXPECT_THAT(SYSCALL(sendto(fd, data.data(), data.size(), 0, to.get(), to.len)),
              SyscallSucceedsWithValue(static_cast<long>(data.size())));
}

// Receives one datagram (waiting for it at most kEventTimeoutMs).
inline std::string RecvDatagram(int fd, size_t max_len = 65536) {
  std::string buf(max_len, '\0');
  EXPECT_TRUE(WaitReadable(fd)) << "no datagram arrived";
  SyscallResult r = SYSCALL(recv(fd, buf.data(), buf.size(), MSG_DONTWAIT));
  EXPECT_THAT(r, SyscallSucceeds());
  buf.resize(r.ret < 0 ? 0 : r.ret);
  return buf;
}

// Returns the address of a UDP port on 127.0.0.1 that nobody listens on: it
// was bound a moment ago and then released.
inline SocketAddress ClosedLoopbackPort(int family) {
  SocketAddress addr;
  BoundUdpSocket(family, &addr);  // The temporary closes the socket at once.
  return addr;
}

inline int GetIntOpt(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof(value);
  EXPECT_THAT(SYSCALL(getsockopt(fd, level, name, &value, &len)), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(value));
  return value;
}

inline void SetIntOpt(int fd, int level, int name, int value) {
  EXPECT_THAT(SYSCALL(setsockopt(fd, level, name, &value, sizeof(value))), SyscallSucceeds());
}

// Fires only when a blocking receive that should have returned by itself
// (because of a timeout) did not: after `timeout_ms` it sends one datagram to
// `target`, so that a broken implementation fails the test rather than
// hanging the whole suite. Destruction disarms it.
class ReceiveWatchdog {
 public:
  ReceiveWatchdog(const SocketAddress& target, int timeout_ms) {
    int fds[2];
    EXPECT_THAT(SYSCALL(pipe2(fds, O_CLOEXEC)), SyscallSucceeds());
    disarm_read_.reset(fds[0]);
    disarm_write_.reset(fds[1]);
    thread_ = std::thread([this, target, timeout_ms] {
      pollfd pfd = {disarm_read_.get(), POLLIN, 0};
      if (poll(&pfd, 1, timeout_ms) == 0) {
        fired_ = true;
        FileDescriptor fd = UdpSocket(target.family());
        sendto(fd.get(), "watchdog", 8, 0, target.get(), target.len);
      }
    });
  }
  ReceiveWatchdog(const ReceiveWatchdog&) = delete;
  ReceiveWatchdog& operator=(const ReceiveWatchdog&) = delete;
  ~ReceiveWatchdog() {
    (void)!write(disarm_write_.get(), "x", 1);
    thread_.join();
  }

  // Only meaningful after the blocking call returned.
  bool fired() const { return fired_; }

 private:
  FileDescriptor disarm_read_;
  FileDescriptor disarm_write_;
  std::atomic<bool> fired_ = false;
  std::thread thread_;
};

// Names the families of parameterised tests: "Inet" and "Inet6DualStack".
inline std::string FamilyName(const ::testing::TestParamInfo<int>& info) {
  return info.param == AF_INET6 ? "Inet6DualStack" : "Inet";
}

}  // namespace tapsock::testing

#endif  // TAPSOCK_TESTS_CONFORMANCE_TEST_UTIL_H_
