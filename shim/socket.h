// A stack socket as the shim sees it: the endpoint in the stack, the options that only need
// remembering, and the placeholder kernel object behind its fd number.
//
// The placeholder is an AF_UNIX datagram socket, autobound in the abstract namespace and connected
// to the runtime's waker socket (so nobody else can send to it). The program's fd number is the
// placeholder's, so numbers come from the kernel's fd table, fstat() says S_IFSOCK, and O_NONBLOCK,
// FD_CLOEXEC, SO_RCVTIMEO and the like live in the kernel exactly as for a real socket.
//
// Readiness reaches the kernel as tokens: while the endpoint is readable (or has an error) one
// 1-byte datagram sits in the placeholder's queue, so the placeholder is POLLIN exactly then. A
// blocked recv() sleeps in the kernel by reading a token from the placeholder, which gives Linux's
// own EINTR/SA_RESTART, SO_RCVTIMEO and O_NONBLOCK behaviour; poll/select/epoll on the placeholder
// wake when a token arrives.
//
// Lifetime: reference-counted; each fd that names the socket (dup, dup2, fcntl F_DUPFD) holds one
// reference, and each call in progress holds one. Thread-safe: the refcount is atomic; every other
// field is guarded by the stack lock.
#pragma once

#include <fcntl.h>
#include <sys/un.h>

#include <atomic>
#include <memory>
#include <vector>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/transport/udp_endpoint.h"

namespace tapsock::shim {

class Runtime;

// SOL_SOCKET options the stack does not act on, remembered for getsockopt and cmsgs.
struct SocketOptions {
  bool timestamp = false;     // SO_TIMESTAMP
  bool timestamp_ns = false;  // SO_TIMESTAMPNS
  bool pktinfo = false;       // IP_PKTINFO
  bool recv_ttl = false;      // IP_RECVTTL
  bool recv_tos = false;      // IP_RECVTOS
  bool mc_loop = true;        // IP_MULTICAST_LOOP
};

class Socket final : public EndpointObserver {
 public:
  // Makes the placeholder and the endpoint; returns the placeholder fd (the program's fd) in *fd.
  // `type` carries SOCK_NONBLOCK/SOCK_CLOEXEC for the placeholder. `accepted` is a connection
  // from a listener's queue (TCP), else a new endpoint is made. On failure returns nullptr with
  // errno set, having released everything it took.
  static Socket* Create(Runtime& rt, int domain, int type, int protocol, int* fd,
                        tcp::TcpEndpoint* accepted = nullptr);

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref();

  int domain() const { return domain_; }
  int type() const { return type_; }
  int protocol() const { return protocol_; }
  Runtime& runtime() { return rt_; }
  Stack& stack();
  bool is_tcp() const { return tcp_ != nullptr; }
  UdpEndpoint& udp() { return *udp_; }
  tcp::TcpEndpoint& tcp() { return *tcp_; }
  SocketOptions& opts() { return opts_; }
  // What both kinds of endpoint answer, so callers need not ask which one this is.
  EndpointOptions& endpoint_options() { return tcp_ ? tcp_->options() : udp_->options(); }
  uint32_t ReadinessLocked() const { return tcp_ ? tcp_->ReadinessLocked() : udp_->ReadinessLocked(); }
  Error TakeErrorLocked() { return tcp_ ? tcp_->TakeErrorLocked() : udp_->TakeErrorLocked(); }
  FullAddress LocalAddressLocked() const { return tcp_ ? tcp_->LocalAddressLocked() : udp_->LocalAddressLocked(); }
  Result<FullAddress> PeerAddressLocked() const {
    return tcp_ ? tcp_->PeerAddressLocked() : udp_->PeerAddressLocked();
  }
  Status BindLocked(const FullAddress& a) { return tcp_ ? tcp_->BindLocked(a) : udp_->BindLocked(a); }
  bool BoundLocked() const { return tcp_ ? tcp_->bound() : udp_->bound(); }
  // A thread is about to sleep until the socket is writable (or fails): its wake fd (an eventfd)
  // is signalled, once, when that happens.
  void AddWriteWaiterLocked(int wake_fd);
  void RemoveWriteWaiterLocked(int wake_fd);

  // The stack calls this when readiness may have changed: adds a token if one is due.
  void OnReadinessChangedLocked() override { SyncTokensLocked(-1); }
  // New urgent data: SIGURG for the owner F_SETOWN gave the placeholder (Linux's send_sigurg).
  void OnUrgentDataLocked() override;
  // Reads the owner back from the placeholder after the program set it (F_SETOWN, F_SETOWN_EX,
  // FIOSETOWN, SIOCSPGRP): the kernel validated it and keeps it for F_GETOWN.
  void ReadOwner(int fd);
  // A poll/select waits for POLLPRI on this socket (`on`), or stopped. Only while one does is
  // urgent data on its own worth a token: a reader at the mark with nothing else to read must
  // not find one.
  void WatchUrgentLocked(int fd, bool on) {
    urgent_watchers_ += on ? 1 : -1;
    SyncTokensLocked(fd);
  }
  // Brings the placeholder's tokens in line with the endpoint's readiness. Removing a stale token
  // needs a placeholder fd (`fd`, the caller's); the stack's own callers pass -1.
  void SyncTokensLocked(int fd);
  // A blocked caller took a token from the placeholder.
  void TokenConsumedLocked() {
    if (tokens_ > 0) --tokens_;
  }

 private:
  Socket(Runtime& rt, int domain, int type, int protocol)
      : rt_(rt), domain_(domain), type_(type), protocol_(protocol) {}
  ~Socket() override = default;

  Runtime& rt_;
  const int domain_, type_, protocol_;
  std::atomic<int> refs_{1};
  std::unique_ptr<UdpEndpoint> udp_;
  tcp::TcpEndpoint* tcp_ = nullptr;  // owned by the stack's TcpProtocol; closed when we let go
  std::vector<int> write_waiters_;   // wake fds of threads waiting for POLLOUT
  SocketOptions opts_;
  sockaddr_un placeholder_addr_{};
  socklen_t placeholder_addr_len_ = 0;
  int tokens_ = 0;  // tokens believed to be in the placeholder's queue
  int urgent_watchers_ = 0;
  f_owner_ex owner_{};  // pid 0: nobody gets SIGURG
};

// Sends the SIGURGs this thread deferred while it held the stack lock (a program thread delivers
// looped-back segments): a handler that reads the urgent byte must not find the lock taken by
// the very thread it interrupted.
void SendDeferredSigurgs();

// A reference held for the duration of one call.
class SocketRef {
 public:
  SocketRef() = default;
  explicit SocketRef(Socket* s) : s_(s) {}
  ~SocketRef() {
    if (s_) s_->Unref();
  }
  SocketRef(SocketRef&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  SocketRef(const SocketRef&) = delete;
  SocketRef& operator=(const SocketRef&) = delete;
  Socket* operator->() const { return s_; }
  Socket& operator*() const { return *s_; }
  explicit operator bool() const { return s_ != nullptr; }

 private:
  Socket* s_ = nullptr;
};

}  // namespace tapsock::shim

namespace tapsock::shim {

// One stack operation: takes the stack lock, sets the clock, and on the way out flushes what the
// operation produced (looped-back packets, frames for the TAP) before releasing the lock.
class StackOp {
 public:
  explicit StackOp(Stack& stack) : stack_(stack), lock_(stack.mu()) { stack_.SetNowLocked(MonotonicNow()); }
  ~StackOp() { stack_.FlushLocked(); }
  StackOp(const StackOp&) = delete;
  StackOp& operator=(const StackOp&) = delete;

 private:
  struct AfterUnlock {
    ~AfterUnlock() { SendDeferredSigurgs(); }
  };
  Stack& stack_;
  AfterUnlock after_unlock_;  // destroyed after lock_, which is declared after it
  MutexLock lock_;
};

}  // namespace tapsock::shim
