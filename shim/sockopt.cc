// getsockopt/setsockopt on stack sockets, with Linux's length rules.
//
// Generic SOL_SOCKET options (buffer sizes, timeouts, SO_KEEPALIVE, SO_LINGER, SO_PRIORITY ...) are
// applied to the placeholder first: the kernel's own sock_setsockopt validates, clamps and doubles
// exactly as it does for an inet socket, and the effective value is mirrored into the endpoint.
// Options whose answer must come from the stack (SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR) ask the
// kernel for a same-sized int first, so pointer and length checks are the kernel's too.
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shim/calls.h"
#include "shim/errno_map.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/log.h"
#include "shim/sockopt_names.h"
#include "shim/sockopt_tcp.h"
#include "shim/sockopt_util.h"
#include "shim/user_memory.h"

namespace tapsock::shim {

namespace {

// Reads an int option back from the placeholder after the kernel accepted a new value.
int KernelInt(int fd, int name) {
  int v = 0;
  socklen_t l = sizeof v;
  Real().getsockopt(fd, SOL_SOCKET, name, &v, &l);
  return v;
}

// SOL_SOCKET options that change TCP's behaviour, read back from the placeholder that holds them.
void MirrorTcpSocketOption(Socket& s, int fd, int name) {
  tcp::TcpOptions& t = s.tcp().tcp_options();
  switch (name) {
    case SO_KEEPALIVE:
      t.keepalive = KernelInt(fd, SO_KEEPALIVE);
      break;
    case SO_OOBINLINE:
      t.oobinline = KernelInt(fd, SO_OOBINLINE);
      break;
    case SO_LINGER: {
      linger l{};
      socklen_t len = sizeof l;
      Real().getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
      t.linger = l.l_onoff;
      t.linger_s = l.l_linger;
      break;
    }
    case SO_SNDBUF: case SO_SNDBUFFORCE: t.sndbuf_locked = true; break;  // no more autotuning
    case SO_RCVBUF: case SO_RCVBUFFORCE: t.rcvbuf_locked = true; break;
    default: break;
  }
}

int SetSocketLevel(Socket& s, int fd, int name, const void* val, socklen_t len) {
  EndpointOptions& eo = s.endpoint_options();
  int v;
  switch (name) {
    case SO_REUSEPORT: {  // Linux 6.x refuses it on AF_UNIX, so the placeholder cannot hold it
      if (int err = GetInt(val, len, false, &v)) return FailWith(err);
      StackOp op(s.stack());
      eo.reuse_port = v != 0;
      return 0;
    }
    case SO_BINDTODEVICE: {
      char name_buf[IFNAMSIZ] = {};
      if (static_cast<int>(len) < 0) return FailWith(EINVAL);
      size_t n = std::min<size_t>(len, IFNAMSIZ - 1);
      if (BadBuffer(val, n)) return FailWith(EFAULT);
      std::memcpy(name_buf, val, n);
      StackOp op(s.stack());
      if (name_buf[0] == '\0') {
        eo.bound_device = 0;
        return 0;
      }
      Nic* nic = s.stack().FindNicByName(name_buf);
      if (!nic) return FailWith(ENODEV);
      eo.bound_device = nic->index();
      return 0;
    }
    case SO_TYPE: case SO_DOMAIN: case SO_PROTOCOL: case SO_ERROR: case SO_ACCEPTCONN:
      return FailWith(ENOPROTOOPT);
    default:
      break;
  }
  if (Real().setsockopt(fd, SOL_SOCKET, name, val, len) != 0) return -1;
  StackOp op(s.stack());
  switch (name) {
    case SO_RCVBUF: case SO_RCVBUFFORCE: eo.rcvbuf = KernelInt(fd, SO_RCVBUF); break;
    case SO_SNDBUF: case SO_SNDBUFFORCE: eo.sndbuf = KernelInt(fd, SO_SNDBUF); break;
    case SO_BROADCAST: eo.broadcast = KernelInt(fd, SO_BROADCAST); break;
    case SO_REUSEADDR: eo.reuse_addr = KernelInt(fd, SO_REUSEADDR); break;
    case SO_TIMESTAMP_OLD: s.opts().timestamp = KernelInt(fd, SO_TIMESTAMP_OLD); break;
    case SO_TIMESTAMPNS_OLD: s.opts().timestamp_ns = KernelInt(fd, SO_TIMESTAMPNS_OLD); break;
    default: break;
  }
  if (s.is_tcp()) MirrorTcpSocketOption(s, fd, name);
  return 0;
}

int GetSocketLevel(Socket& s, int fd, int name, void* val, socklen_t* len) {
  int v;
  switch (name) {
    case SO_TYPE: v = s.type(); break;
    case SO_DOMAIN: v = s.domain(); break;
    case SO_PROTOCOL: v = s.is_tcp() ? IPPROTO_TCP : IPPROTO_UDP; break;
    case SO_ACCEPTCONN: {
      StackOp op(s.stack());
      v = s.is_tcp() && s.tcp().listening();
      break;
    }
    case SO_ERROR: {
      StackOp op(s.stack());
      v = ToErrno(s.TakeErrorLocked());
      s.SyncTokensLocked(fd);
      break;
    }
    case SO_REUSEPORT: {
      StackOp op(s.stack());
      v = s.endpoint_options().reuse_port;
      break;
    }
    case SO_BINDTODEVICE: {
      std::string name_str;
      {
        StackOp op(s.stack());
        if (Nic* nic = s.stack().FindNic(s.endpoint_options().bound_device); nic && s.endpoint_options().bound_device)
          name_str = nic->name();
      }
      if (BadPointer(len)) return FailWith(EFAULT);
      if (name_str.empty()) {
        *len = 0;
        return 0;
      }
      if (*len < name_str.size() + 1) return FailWith(EINVAL);
      if (BadPointer(val)) return FailWith(EFAULT);
      std::memcpy(val, name_str.c_str(), name_str.size() + 1);
      *len = static_cast<socklen_t>(name_str.size() + 1);
      return 0;
    }
    default:
      return Real().getsockopt(fd, SOL_SOCKET, name, val, len);
  }
  // Let the kernel check the pointers and lengths with an int option of its own, then answer.
  if (Real().getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, val, len) != 0) return -1;
  return PutInt(v, val, len);
}

int SetIpLevel(Socket& s, int name, const void* val, socklen_t len) {
  int v;
  EndpointOptions& eo = s.endpoint_options();
  SocketOptions& so = s.opts();
  switch (name) {
    case IP_TTL: case IP_TOS: case IP_MULTICAST_TTL: case IP_PKTINFO: case IP_RECVTTL:
    case IP_RECVTOS: case IP_RECVERR: case IP_MULTICAST_LOOP:
      if (int err = GetInt(val, len, true, &v)) return FailWith(err);
      break;
    default:
      return FailWith(ENOPROTOOPT);
  }
  StackOp op(s.stack());
  switch (name) {
    case IP_TTL:
      if (v != -1 && (v < 1 || v > 255)) return FailWith(EINVAL);
      eo.ttl = v;
      return 0;
    case IP_MULTICAST_TTL:
      if (v == -1) v = 1;
      if (v < 0 || v > 255) return FailWith(EINVAL);
      eo.multicast_ttl = v;
      return 0;
    case IP_TOS: eo.tos = static_cast<uint8_t>(v); return 0;
    case IP_PKTINFO: so.pktinfo = v != 0; return 0;
    case IP_RECVTTL: so.recv_ttl = v != 0; return 0;
    case IP_RECVTOS: so.recv_tos = v != 0; return 0;
    case IP_RECVERR: eo.recv_err = v != 0; return 0;
    case IP_MULTICAST_LOOP: so.mc_loop = v != 0; return 0;
    default: return FailWith(ENOPROTOOPT);
  }
}

int GetIpLevel(Socket& s, int name, void* val, socklen_t* len) {
  int v;
  {
    StackOp op(s.stack());
    const EndpointOptions& eo = s.endpoint_options();
    const SocketOptions& so = s.opts();
    switch (name) {
      case IP_TTL: v = eo.ttl < 0 ? kDefaultTtl : eo.ttl; break;
      case IP_MULTICAST_TTL: v = eo.multicast_ttl; break;
      case IP_TOS: v = eo.tos; break;
      case IP_PKTINFO: v = so.pktinfo; break;
      case IP_RECVTTL: v = so.recv_ttl; break;
      case IP_RECVTOS: v = so.recv_tos; break;
      case IP_RECVERR: v = eo.recv_err; break;
      case IP_MULTICAST_LOOP: v = so.mc_loop; break;
      default: return FailWith(ENOPROTOOPT);
    }
  }
  return PutIpInt(v, val, len);
}

int SetIpv6Level(Socket& s, int name, const void* val, socklen_t len) {
  if (name != IPV6_V6ONLY) return FailWith(ENOPROTOOPT);
  int v;
  if (int err = GetInt(val, len, false, &v)) return FailWith(err);
  StackOp op(s.stack());
  if (s.BoundLocked()) return FailWith(EINVAL);  // fixed once the socket has a port
  s.endpoint_options().v6_only = v != 0;
  return 0;
}

int GetIpv6Level(Socket& s, int name, void* val, socklen_t* len) {
  if (name != IPV6_V6ONLY) return FailWith(ENOPROTOOPT);
  int v;
  {
    StackOp op(s.stack());
    v = s.endpoint_options().v6_only;
  }
  return PutInt(v, val, len);
}

int SetOn(Socket& s, int fd, int level, int name, const void* val, socklen_t len) {
  if (static_cast<int>(len) < 0) return FailWith(EINVAL);
  switch (level) {
    case SOL_SOCKET: return SetSocketLevel(s, fd, name, val, len);
    case SOL_IP: return SetIpLevel(s, name, val, len);
    case SOL_IPV6:
      if (s.domain() != AF_INET6) return FailWith(ENOPROTOOPT);
      return SetIpv6Level(s, name, val, len);
    case SOL_TCP:
      if (!s.is_tcp()) return FailWith(ENOPROTOOPT);
      return SetTcpLevel(s, name, val, len);
    default: return FailWith(ENOPROTOOPT);  // SOL_UDP options arrive with UDP corking and GSO
  }
}

}  // namespace

int SetSockOpt(int fd, int level, int name, const void* val, socklen_t len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().setsockopt(fd, level, name, val, len);
  int rc = SetOn(*s, fd, level, name, val, len);
  if (log::Level() <= log::kDebug) {
    int saved = errno;
    int v = 0;
    // The value was read successfully when the call succeeded; an int is what most options take.
    if (rc == 0 && len == sizeof(int)) std::memcpy(&v, val, sizeof v);
    std::string value = rc == 0 && len == sizeof(int) ? std::to_string(v) : std::to_string(len) + " bytes";
    TS_LOG_DEBUG("fd {}: setsockopt({}, {}) = {}{}", fd, SockOptName(level, name), value, rc,
                 rc == 0 ? "" : std::string(" (") + strerrorname_np(saved) + ")");
    errno = saved;
  }
  return rc;
}

int GetSockOpt(int fd, int level, int name, void* val, socklen_t* len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().getsockopt(fd, level, name, val, len);
  switch (level) {
    case SOL_SOCKET: return GetSocketLevel(*s, fd, name, val, len);
    case SOL_IP: return GetIpLevel(*s, name, val, len);
    case SOL_IPV6:
      if (s->domain() != AF_INET6) return FailWith(EOPNOTSUPP);
      return GetIpv6Level(*s, name, val, len);
    case SOL_TCP:
      if (s->is_tcp()) return GetTcpLevel(*s, name, val, len);
      return FailWith(s->domain() == AF_INET ? EOPNOTSUPP : ENOPROTOOPT);
    default:  // ip_getsockopt says EOPNOTSUPP, ipv6_getsockopt ENOPROTOOPT
      return FailWith(s->domain() == AF_INET ? EOPNOTSUPP : ENOPROTOOPT);
  }
}

}  // namespace tapsock::shim
