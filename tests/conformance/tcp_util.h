// Helpers shared by the TCP conformance tests (tcp_*_test.cc).
//
// Like test_util.h, nothing here knows about tapsock: these are plain
// socket-API helpers that run the same natively and under LD_PRELOAD. Every
// wait is bounded by kEventTimeoutMs, so that a broken implementation fails a
// test instead of hanging the suite. Connections only ever use 127.0.0.1,
// written as ::ffff:127.0.0.1 on dual-stack AF_INET6 sockets.

#ifndef TAPSOCK_TESTS_CONFORMANCE_TCP_UTIL_H_
#define TAPSOCK_TESTS_CONFORMANCE_TCP_UTIL_H_

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {

// The TCP states as TCP_INFO's tcpi_state reports them (linux/tcp.h).
enum TcpState : int {
  kTcpEstablished = 1,
  kTcpSynSent = 2,
  kTcpFinWait2 = 5,
  kTcpClose = 7,
  kTcpCloseWait = 8,
  kTcpListen = 10,
};

// A TCP socket of `family`; AF_INET6 sockets are made dual-stack explicitly.
inline FileDescriptor TcpSocket(int family, int type_flags = 0) {
  FileDescriptor fd(socket(family, SOCK_STREAM | type_flags, 0));
  EXPECT_TRUE(fd.valid()) << "socket: " << ErrnoName(errno);
  if (fd.valid() && family == AF_INET6) {
    const int off = 0;
    EXPECT_THAT(SYSCALL(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off))),
                SyscallSucceeds());
  }
  return fd;
}

// Safety net for blocking calls: SO_RCVTIMEO and SO_SNDTIMEO of 5 s (accept
// and blocking connect honour them too).
inline void SetSafetyTimeouts(int fd) {
  const timeval tv = {kEventTimeoutMs / 1000, 0};
  EXPECT_THAT(SYSCALL(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))),
              SyscallSucceeds());
  EXPECT_THAT(SYSCALL(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))),
              SyscallSucceeds());
}

// A socket listening on the loopback address of `family`, ephemeral port.
inline FileDescriptor TcpListener(int family, SocketAddress* bound, int backlog = 16,
                                  int type_flags = 0) {
  FileDescriptor fd = TcpSocket(family, type_flags);
  SocketAddress addr = LoopbackAddress(family);
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallSucceeds());
  EXPECT_THAT(SYSCALL(listen(fd.get(), backlog)), SyscallSucceeds());
  SetSafetyTimeouts(fd.get());
  *bound = GetSockName(fd.get());
  return fd;
}

inline SyscallResult ConnectTo(int fd, const SocketAddress& to) {
  return SYSCALL(connect(fd, to.get(), to.len));
}

// Waits (bounded) until `listener` has a connection queued, then accepts it.
inline FileDescriptor AcceptOne(int listener, int flags = 0) {
  EXPECT_NE(PollOne(listener, POLLIN) & POLLIN, 0) << "no connection to accept";
  FileDescriptor fd(accept4(listener, nullptr, nullptr, flags));
  EXPECT_TRUE(fd.valid()) << "accept4: " << ErrnoName(errno);
  return fd;
}

// Both ends of an established connection over loopback, with safety timeouts.
struct TcpPair {
  FileDescriptor client;
  FileDescriptor server;
};

inline TcpPair ConnectedPair(int family, int client_family = 0) {
  SocketAddress addr;
  FileDescriptor listener = TcpListener(family, &addr);
  TcpPair pair;
  pair.client = TcpSocket(client_family != 0 ? client_family : family);
  SetSafetyTimeouts(pair.client.get());
  EXPECT_THAT(ConnectTo(pair.client.get(), addr), SyscallSucceeds());
  pair.server = AcceptOne(listener.get());
  SetSafetyTimeouts(pair.server.get());
  return pair;
}

// Sends all of `data` (blocking socket), without raising SIGPIPE.
inline bool SendAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) {
      ADD_FAILURE() << "send: " << (n == 0 ? "returned 0" : ErrnoName(errno));
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}
inline bool SendAll(int fd, const std::string& data) { return SendAll(fd, data.data(), data.size()); }

// Receives until `n` bytes arrived, the stream ended, or nothing came for
// kEventTimeoutMs; returns what was received.
inline std::string RecvUpTo(int fd, size_t n) {
  std::string out;
  std::vector<char> buf(64 * 1024);
  while (out.size() < n) {
    if ((PollOne(fd, POLLIN) & (POLLIN | POLLHUP | POLLERR)) == 0) break;
    const ssize_t r = recv(fd, buf.data(), std::min(buf.size(), n - out.size()), MSG_DONTWAIT);
    if (r < 0 && errno == EAGAIN) continue;
    if (r <= 0) break;
    out.append(buf.data(), static_cast<size_t>(r));
  }
  return out;
}

// FIONREAD: the bytes a recv() could return now.
inline int InqBytes(int fd) {
  int n = -1;
  EXPECT_THAT(SYSCALL(ioctl(fd, FIONREAD, &n)), SyscallSucceeds());
  return n;
}

// Calls `done` every millisecond until it returns true or the bound expires.
template <typename F>
bool WaitUntil(F&& done, int timeout_ms = kEventTimeoutMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Waits until at least `n` bytes are queued for reading at `fd`.
inline bool WaitForInq(int fd, int n) {
  return WaitUntil([&] { return InqBytes(fd) >= n; });
}

inline tcp_info GetTcpInfo(int fd) {
  tcp_info info = {};
  socklen_t len = sizeof(info);
  EXPECT_THAT(SYSCALL(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len)), SyscallSucceeds());
  return info;
}

inline int TcpStateOf(int fd) { return GetTcpInfo(fd).tcpi_state; }

inline bool WaitForTcpState(int fd, int state) {
  return WaitUntil([&] { return TcpStateOf(fd) == state; });
}

// The number of open file descriptors of this process.
inline int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n - 3;  // ".", ".." and the directory's own fd.
}

// A loopback TCP port that refuses connections: a socket is bound to it (so
// that nobody else can take it) but never listens, so SYNs get a RST.
class RefusingPort {
 public:
  explicit RefusingPort(int family) : fd_(TcpSocket(family)) {
    SocketAddress addr = LoopbackAddress(family);
    EXPECT_THAT(SYSCALL(bind(fd_.get(), addr.get(), addr.len)), SyscallSucceeds());
    addr_ = GetSockName(fd_.get());
  }
  const SocketAddress& address() const { return addr_; }

 private:
  FileDescriptor fd_;
  SocketAddress addr_;
};

// Fills the accept queue of the listener at `addr` (which nobody accepts on)
// with non-blocking connections, kept in `queued`, and returns the first
// non-blocking socket whose connect() stays in progress: its SYN is dropped
// because the queue is full. Returns an invalid fd if every connect completed.
inline FileDescriptor ConnectIntoFullBacklog(int family, const SocketAddress& addr,
                                             std::vector<FileDescriptor>* queued) {
  for (int i = 0; i < 16; ++i) {
    FileDescriptor fd = TcpSocket(family, SOCK_NONBLOCK);
    SyscallResult r = ConnectTo(fd.get(), addr);
    EXPECT_THAT(r, SyscallFailsWithErrno(EINPROGRESS));
    if (r.err != EINPROGRESS) return FileDescriptor();
    // A connection that is going to complete on loopback does so at once.
    if ((PollOne(fd.get(), POLLOUT, 100) & POLLOUT) == 0) return fd;
    queued->push_back(std::move(fd));
  }
  return FileDescriptor();
}

// Blocks SIGPIPE in the calling thread for its lifetime, so that a SIGPIPE
// the test provokes stays pending (see Pending()) instead of killing the
// process. On destruction, discards any pending SIGPIPE and restores the mask.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    EXPECT_EQ(pthread_sigmask(SIG_BLOCK, &set_, &old_), 0);
    Discard();
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;
  ~ScopedSigpipeBlock() {
    Discard();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

  bool Pending() const {
    sigset_t pending;
    sigemptyset(&pending);
    EXPECT_EQ(sigpending(&pending), 0);
    return sigismember(&pending, SIGPIPE) == 1;
  }

  // Consumes a pending SIGPIPE; returns whether there was one.
  bool Discard() {
    const timespec zero = {0, 0};
    bool any = false;
    while (sigtimedwait(&set_, nullptr, &zero) == SIGPIPE) any = true;
    return any;
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

// A test parameterised by address family (AF_INET, AF_INET6) that starts with one connected pair:
// client_ connected to server_ (accepted) over the loopback.
class ConnectedPairTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    TcpPair pair = ConnectedPair(family());
    client_ = std::move(pair.client);
    server_ = std::move(pair.server);
    ASSERT_TRUE(client_.valid() && server_.valid());
  }
  int family() const { return GetParam(); }

  FileDescriptor client_;
  FileDescriptor server_;
};

}  // namespace tapsock::testing

#endif  // TAPSOCK_TESTS_CONFORMANCE_TCP_UTIL_H_
