#include "shim/socket.h"

#include <signal.h>
#include <sys/socket.h>

#include <cerrno>

#include "shim/libc.h"
#include "shim/process.h"
#include "shim/runtime.h"
#include "stack/base/sys.h"

namespace tapsock::shim {

namespace {

// SIGURGs a program thread owes once it lets go of the stack lock (SendDeferredSigurgs).
constexpr int kMaxDeferredSigurgs = 4;
thread_local f_owner_ex t_deferred_sigurgs[kMaxDeferredSigurgs];
thread_local int t_deferred_count = 0;

void SendSigurg(const f_owner_ex& owner) {
  switch (owner.type) {  // send_sigurg: a thread, a process, or a process group
    case F_OWNER_TID: (void)syscall(SYS_tgkill, getpid(), owner.pid, SIGURG); break;
    case F_OWNER_PID: (void)syscall(SYS_kill, owner.pid, SIGURG); break;
    case F_OWNER_PGRP: (void)syscall(SYS_kill, -owner.pid, SIGURG); break;
    default: break;
  }
}

}  // namespace

void SendDeferredSigurgs() {
  while (t_deferred_count > 0) SendSigurg(t_deferred_sigurgs[--t_deferred_count]);
}

Stack& Socket::stack() { return rt_.stack(); }

void Socket::OnUrgentDataLocked() {
  if (owner_.pid <= 0) return;
  // The library's threads block every signal: the kernel hands theirs to a program thread. A
  // program thread would take it itself, under the lock: it sends once the lock is released.
  sigset_t blocked;
  if (pthread_sigmask(SIG_BLOCK, nullptr, &blocked) == 0 && sigismember(&blocked, SIGURG) == 1) {
    SendSigurg(owner_);
    return;
  }
  for (int i = 0; i < t_deferred_count; ++i)
    if (t_deferred_sigurgs[i].type == owner_.type && t_deferred_sigurgs[i].pid == owner_.pid) return;
  if (t_deferred_count < kMaxDeferredSigurgs) t_deferred_sigurgs[t_deferred_count++] = owner_;
}

void Socket::ReadOwner(int fd) {
  f_owner_ex owner{};
  if (Real().fcntl(fd, F_GETOWN_EX, &owner) != 0) return;
  MutexLock lock(stack().mu());
  owner_ = owner;
}

Socket* Socket::Create(Runtime& rt, int domain, int type, int protocol, int* fd,
                       tcp::TcpEndpoint* accepted) {
  int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
  int p = sys::Socket(AF_UNIX, SOCK_DGRAM | flags, 0);
  if (p < 0) return nullptr;  // EMFILE/ENFILE/ENOMEM from the kernel, as socket() would give
  auto* s = new Socket(rt, domain, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), protocol);
  sockaddr_un autobind{};
  autobind.sun_family = AF_UNIX;
  s->placeholder_addr_len_ = sizeof s->placeholder_addr_;
  if (syscall(SYS_bind, p, &autobind, sizeof(sa_family_t)) != 0 ||
      syscall(SYS_getsockname, p, &s->placeholder_addr_, &s->placeholder_addr_len_) != 0 ||
      syscall(SYS_connect, p, &rt.waker_addr(), rt.waker_addr_len()) != 0) {
    int err = errno;
    sys::Close(p);
    delete s;
    errno = err == EADDRINUSE ? ENFILE : err;
    return nullptr;
  }
  {
    MutexLock lock(rt.stack().mu());
    if (s->type_ == SOCK_STREAM) {
      s->tcp_ = accepted ? accepted : rt.stack().tcp().NewEndpointLocked(domain == AF_INET6);
      s->tcp_->SetObserver(s);
      s->SyncTokensLocked(-1);  // an accepted connection may hold data already
    } else {
      s->udp_ = std::make_unique<UdpEndpoint>(rt.stack(), domain == AF_INET6);
      s->udp_->SetObserver(s);
    }
  }
  *fd = p;
  return s;
}

void Socket::Unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // A fork() child's copy goes unclosed: closing runs the stack, which is the parent's (process.h).
  if (process::InForkChild()) return;
  {
    MutexLock lock(stack().mu());
    stack().SetNowLocked(MonotonicNow());
    if (tcp_) tcp_->CloseLocked();  // the protocol keeps it until the connection is done
    else udp_->CloseLocked();
    stack().FlushLocked();
  }
  SendDeferredSigurgs();
  delete this;
}

void Socket::AddWriteWaiterLocked(int wake_fd) {
  for (int w : write_waiters_)
    if (w == wake_fd) return;
  write_waiters_.push_back(wake_fd);
}

void Socket::RemoveWriteWaiterLocked(int wake_fd) {
  std::erase(write_waiters_, wake_fd);
}

void Socket::SyncTokensLocked(int fd) {
  uint32_t mask = ReadinessLocked();
  if (!write_waiters_.empty() && (mask & (POLLOUT | POLLERR | POLLHUP))) {
    for (int w : write_waiters_) {
      uint64_t one = 1;
      (void)!syscall(SYS_write, w, &one, sizeof one);
    }
    write_waiters_.clear();
  }
  bool ready = (mask & (kReadable | kError | POLLHUP)) || (urgent_watchers_ > 0 && (mask & POLLPRI));
  if (ready && tokens_ == 0) {
    if (rt_.SendToken(placeholder_addr_, placeholder_addr_len_)) ++tokens_;
    return;
  }
  if (ready || fd < 0) return;
  while (tokens_ > 0) {
    char token;
    if (syscall(SYS_recvfrom, fd, &token, 1, MSG_DONTWAIT, nullptr, nullptr) < 0) break;  // a waiter has it
    --tokens_;
  }
}

}  // namespace tapsock::shim
