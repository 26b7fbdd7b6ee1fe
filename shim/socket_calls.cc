// Socket lifecycle and addressing on stack sockets: socket(), bind(), connect(), listen(),
// accept(), shutdown(), getsockname(), getpeername(), ioctl().
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "shim/calls.h"
#include "shim/errno_map.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/log.h"
#include "shim/process.h"
#include "shim/runtime.h"
#include "shim/sockaddr.h"
#include "shim/user_memory.h"
#include "shim/wait.h"

namespace tapsock::shim {

namespace {

// TAPSOCK_TCP=kernel leaves stream sockets on the kernel (an escape hatch while TCP matures).
bool TcpOnStack() {
  static const bool on = [] {
    const char* v = getenv("TAPSOCK_TCP");
    return !(v && std::string_view(v) == "kernel");
  }();
  return on;
}

// Waits for a connect in progress to finish; 0 when connected, else -1 with errno. Asking the
// endpoint again reports the outcome once, as a second connect() would.
int WaitConnected(Socket& s, int fd, const FullAddress& to) {
  for (;;) {
    {
      StackOp op(s.stack());
      Status st = s.tcp().ConnectLocked(to);
      s.SyncTokensLocked(fd);
      if (st.error() != Error::kAlreadyInProgress) return st.ok() ? 0 : Fail(st.error());
    }
    // inet_wait_for_connect sleeps for SO_SNDTIMEO; a timeout leaves the connect in progress.
    if (WaitForToken(s, fd, WaitFor::kWrite) < 0) return errno == EAGAIN ? FailWith(EINPROGRESS) : -1;
  }
}

}  // namespace

int OpenSocket(int domain, int type, int protocol) {
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  // The stack serves UDP and TCP; raw and ping sockets stay on the kernel for now. Linux's own
  // checks for bad flags and protocols run first (the kernel answers for what we pass on).
  bool udp = base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP);
  bool tcp = base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP) && TcpOnStack();
  if (!udp && !tcp) {
    if (base == SOCK_DGRAM && protocol == IPPROTO_TCP) return FailWith(EPROTONOSUPPORT);
    int fd = Real().socket(domain, type, protocol);
    if (fd >= 0) {
      FdTable::Get().Forget(fd);
      TS_LOG_DEBUG("socket(domain={}, type={}, protocol={}) stays on the kernel: fd {}", domain, type, protocol, fd);
    }
    return fd;
  }
  if (process::InForkChild()) return process::RefuseInherited(-1);  // the stack is the parent's
  Runtime& rt = Runtime::Get();
  if (!rt.ok()) return FailWith(rt.start_errno());
  int fd;
  Socket* s = Socket::Create(rt, domain, type, protocol, &fd);
  if (!s) return -1;
  if (static_cast<unsigned>(fd) >= FdTable::Get().size()) {  // beyond the table: cannot track it
    Real().close(fd);
    s->Unref();
    return FailWith(EMFILE);
  }
  FdTable::Get().Install(fd, s);
  if (tcp) TS_LOG_DEBUG("fd {}: stack TCP socket c{} (domain {})", fd, s->tcp().id(), domain);
  else TS_LOG_DEBUG("fd {}: stack UDP socket (domain {})", fd, domain);
  return fd;
}

int Bind(int fd, const sockaddr* addr, socklen_t len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().bind(fd, addr, len);
  int err;
  auto pa = ParseSockaddr(s->domain(), s->endpoint_options().v6_only, AddrUse::kBind, addr, len, &err);
  if (!pa.ok()) return FailWith(err);
  if (pa.value().addr.port != 0 && pa.value().addr.port < 1024 && geteuid() != 0) return FailWith(EACCES);
  StackOp op(s->stack());
  if (Status st = s->BindLocked(pa.value().addr); !st.ok()) return Fail(st.error());
  return 0;
}

int Connect(int fd, const sockaddr* addr, socklen_t len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().connect(fd, addr, len);
  int err;
  auto pa = ParseSockaddr(s->domain(), s->endpoint_options().v6_only, AddrUse::kConnect, addr, len, &err);
  if (!pa.ok()) return FailWith(err);
  if (s->is_tcp()) {
    TS_LOG_DEBUG("fd {}: c{} connect to {}:{}", fd, s->tcp().id(), pa.value().addr.addr.ToString(),
                 pa.value().addr.port);
    Status st;
    {
      StackOp op(s->stack());
      st = pa.value().unspec ? Status(Error::kInvalidArgument) : s->tcp().ConnectLocked(pa.value().addr);
      s->SyncTokensLocked(fd);
    }
    if (st.error() != Error::kInProgress) return st.ok() ? 0 : Fail(st.error());
    if (IsNonBlocking(fd)) return FailWith(EINPROGRESS);
    return WaitConnected(*s, fd, pa.value().addr);
  }
  StackOp op(s->stack());
  Status st = pa.value().unspec ? s->udp().DisconnectLocked() : s->udp().ConnectLocked(pa.value().addr);
  return st.ok() ? 0 : Fail(st.error());
}

int Listen(int fd, int backlog) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().listen(fd, backlog);
  if (!s->is_tcp()) return FailWith(EOPNOTSUPP);  // datagram sockets do not listen
  StackOp op(s->stack());
  Status st = s->tcp().ListenLocked(backlog);
  s->SyncTokensLocked(fd);
  return st.ok() ? 0 : Fail(st.error());
}

int Accept(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (!FdTable::Get().IsSocket(fd)) {
    int nfd = Real().accept4(fd, addr, len, flags);
    return AfterFdCreated(nfd);
  }
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return FailWith(EINVAL);
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return FailWith(EBADF);
  if (!s->is_tcp()) return FailWith(EOPNOTSUPP);
  tcp::TcpEndpoint* child = nullptr;
  for (;;) {
    {
      StackOp op(s->stack());
      auto r = s->tcp().AcceptLocked();
      s->SyncTokensLocked(fd);
      if (r.ok()) {
        child = r.value();
        break;
      }
      if (r.error() != Error::kWouldBlock) return Fail(r.error());
    }
    if (WaitForToken(*s, fd, WaitFor::kRead) < 0) return -1;
  }
  int nfd;
  Socket* ns = Socket::Create(s->runtime(), s->domain(), SOCK_STREAM | flags, s->protocol(), &nfd, child);
  if (!ns) {  // no fd for it: the connection is dropped, as when the kernel runs out
    int err = errno;
    StackOp op(s->stack());
    child->CloseLocked();
    return FailWith(err);
  }
  FdTable::Get().Install(nfd, ns);
  TS_LOG_DEBUG("fd {}: c{} accepted on fd {} (c{})", nfd, child->id(), fd, s->tcp().id());
  if (addr) {
    FullAddress peer;
    {
      StackOp op(s->stack());
      auto p = child->PeerAddressLocked();
      if (p.ok()) peer = p.value();
    }
    if (int err = WriteSockaddr(s->domain(), peer, addr, len)) {
      Close(nfd);
      return FailWith(err);
    }
  }
  return nfd;
}

int Shutdown(int fd, int how) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().shutdown(fd, how);
  if (how < SHUT_RD || how > SHUT_RDWR) return FailWith(EINVAL);
  StackOp op(s->stack());
  if (s->is_tcp()) {
    Status st = s->tcp().ShutdownLocked(how);
    s->SyncTokensLocked(fd);
    return st.ok() ? 0 : Fail(st.error());
  }
  // inet_shutdown: an unconnected datagram socket reports ENOTCONN, and is shut down all the same
  // (Linux's "hack to wake up other listeners").
  s->udp().ShutdownLocked(how);
  s->SyncTokensLocked(fd);
  return s->udp().connected() ? 0 : FailWith(ENOTCONN);
}

int GetSockName(int fd, sockaddr* addr, socklen_t* len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().getsockname(fd, addr, len);
  FullAddress a;
  {
    StackOp op(s->stack());
    a = s->LocalAddressLocked();
  }
  if (int err = WriteSockaddr(s->domain(), a, addr, len)) return FailWith(err);
  return 0;
}

int GetPeerName(int fd, sockaddr* addr, socklen_t* len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().getpeername(fd, addr, len);
  Result<FullAddress> peer = Error::kNotConnected;
  {
    StackOp op(s->stack());
    peer = s->PeerAddressLocked();
  }
  if (!peer.ok()) return Fail(peer.error());
  if (int err = WriteSockaddr(s->domain(), peer.value(), addr, len)) return FailWith(err);
  return 0;
}

int Ioctl(int fd, unsigned long request, void* arg) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().ioctl(fd, request, arg);
  int value;
  switch (request) {
    case FIONREAD: {  // == TIOCINQ == SIOCINQ: bytes to read (UDP: the next datagram's size)
      StackOp op(s->stack());
      if (s->is_tcp() && s->tcp().listening()) return FailWith(EINVAL);
      value = static_cast<int>(s->is_tcp() ? s->tcp().InqLocked() : s->udp().NextDatagramSizeLocked());
      break;
    }
    case TIOCOUTQ: {  // == SIOCOUTQ: unacknowledged bytes (datagrams leave at once)
      StackOp op(s->stack());
      if (s->is_tcp() && s->tcp().listening()) return FailWith(EINVAL);
      value = s->is_tcp() ? static_cast<int>(s->tcp().UnsentOrUnackedBytesLocked()) : 0;
      break;
    }
    case SIOCOUTQNSD: {  // unsent bytes
      StackOp op(s->stack());
      value = s->is_tcp() ? static_cast<int>(s->tcp().UnsentBytesLocked()) : 0;
      break;
    }
    case SIOCATMARK: {  // the next byte read is the urgent mark; UDP has no such thing
      if (!s->is_tcp()) return FailWith(ENOTTY);
      StackOp op(s->stack());
      value = s->tcp().AtUrgentMarkLocked();
      break;
    }
    case FIOSETOWN:
    case SIOCSPGRP: {  // the placeholder keeps the owner; SIGURG needs to know it too
      int rc = Real().ioctl(fd, request, arg);
      if (rc == 0) s->ReadOwner(fd);
      return rc;
    }
    default:
      // FIONBIO, FIOCLEX, FIONCLEX ... act on the placeholder's open file, as they should.
      return Real().ioctl(fd, request, arg);
  }
  if (BadPointer(arg)) return FailWith(EFAULT);
  std::memcpy(arg, &value, sizeof value);  // the program's int need not be aligned (the kernel copies)
  return 0;
}

}  // namespace tapsock::shim
