// Socket lifecycle and addressing on stack sockets: socket(), bind(), connect(), listen(),
// accept(), shutdown(), getsockname(), getpeername(), ioctl().
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <cerrno>

#include "shim/calls.h"
#include "shim/errno_map.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/log.h"
#include "shim/runtime.h"
#include "shim/sockaddr.h"
#include "shim/user_memory.h"

namespace tapsock::shim {

int OpenSocket(int domain, int type, int protocol) {
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  // The stack serves UDP; TCP arrives with the next issue and, until then, stays on the kernel,
  // like raw and ping sockets. Linux's own checks for bad flags and protocols run first.
  bool udp = base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP);
  if (!udp) {
    if (base == SOCK_DGRAM && protocol == IPPROTO_TCP) return FailWith(EPROTONOSUPPORT);
    int fd = Real().socket(domain, type, protocol);
    if (fd >= 0) {
      FdTable::Get().Forget(fd);
      TS_LOG_DEBUG("socket(domain={}, type={}, protocol={}) stays on the kernel: fd {}", domain, type, protocol, fd);
    }
    return fd;
  }
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
  TS_LOG_DEBUG("fd {}: stack UDP socket (domain {})", fd, domain);
  return fd;
}

int Bind(int fd, const sockaddr* addr, socklen_t len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().bind(fd, addr, len);
  int err;
  auto pa = ParseSockaddr(s->domain(), s->udp().options().v6_only, AddrUse::kBind, addr, len, &err);
  if (!pa.ok()) return FailWith(err);
  if (pa.value().addr.port != 0 && pa.value().addr.port < 1024 && geteuid() != 0) return FailWith(EACCES);
  StackOp op(s->stack());
  if (Status st = s->udp().BindLocked(pa.value().addr); !st.ok()) return Fail(st.error());
  return 0;
}

int Connect(int fd, const sockaddr* addr, socklen_t len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().connect(fd, addr, len);
  int err;
  auto pa = ParseSockaddr(s->domain(), s->udp().options().v6_only, AddrUse::kConnect, addr, len, &err);
  if (!pa.ok()) return FailWith(err);
  StackOp op(s->stack());
  Status st = pa.value().unspec ? s->udp().DisconnectLocked() : s->udp().ConnectLocked(pa.value().addr);
  return st.ok() ? 0 : Fail(st.error());
}

int Listen(int fd, int backlog) {
  if (!FdTable::Get().IsSocket(fd)) return Real().listen(fd, backlog);
  return FailWith(EOPNOTSUPP);  // datagram sockets do not listen
}

int Accept(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (!FdTable::Get().IsSocket(fd)) {
    int nfd = Real().accept4(fd, addr, len, flags);
    return AfterFdCreated(nfd);
  }
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return FailWith(EINVAL);
  return FailWith(EOPNOTSUPP);
}

int Shutdown(int fd, int how) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().shutdown(fd, how);
  if (how < SHUT_RD || how > SHUT_RDWR) return FailWith(EINVAL);
  StackOp op(s->stack());
  // inet_shutdown: an unconnected datagram socket reports ENOTCONN.
  return s->udp().connected() ? 0 : FailWith(ENOTCONN);
}

int GetSockName(int fd, sockaddr* addr, socklen_t* len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().getsockname(fd, addr, len);
  FullAddress a;
  {
    StackOp op(s->stack());
    a = s->udp().LocalAddressLocked();
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
    peer = s->udp().PeerAddressLocked();
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
    case FIONREAD: {  // == TIOCINQ == SIOCINQ: the next datagram's size
      StackOp op(s->stack());
      value = static_cast<int>(s->udp().NextDatagramSizeLocked());
      break;
    }
    case TIOCOUTQ:  // datagrams leave at once: nothing waits in a send queue
      value = 0;
      break;
    default:
      // FIONBIO, FIOCLEX, FIONCLEX ... act on the placeholder's open file, as they should.
      return Real().ioctl(fd, request, arg);
  }
  if (BadPointer(arg)) return FailWith(EFAULT);
  *static_cast<int*>(arg) = value;
  return 0;
}

}  // namespace tapsock::shim
