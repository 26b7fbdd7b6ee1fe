// getsockopt/setsockopt on stack sockets, with Linux's length rules.
//
// Generic SOL_SOCKET options (buffer sizes, timeouts, SO_KEEPALIVE, SO_LINGER, SO_PRIORITY ...) are
// applied to the placeholder first: the kernel's own sock_setsockopt validates, clamps and doubles
// exactly as it does for an inet socket, and the effective value is mirrored into the endpoint.
// Options whose answer must come from the stack (SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR) ask the
// kernel for a same-sized int first, so pointer and length checks are the kernel's too.
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shim/calls.h"
#include "shim/errno_map.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/user_memory.h"

namespace tapsock::shim {

namespace {

// sock_getsockopt for an int: truncated to the caller's length, which is set to what was written.
int PutInt(int value, void* val, socklen_t* len) {
  if (BadPointer(len)) return FailWith(EFAULT);
  int n = static_cast<int>(*len);
  if (n < 0) return FailWith(EINVAL);
  n = std::min<int>(n, sizeof(int));
  if (BadBuffer(val, n)) return FailWith(EFAULT);
  if (n > 0) std::memcpy(val, &value, n);  // a zero length may come with a null pointer
  *len = n;
  return 0;
}

// do_ip_getsockopt for an int: a caller with room for less than an int gets one byte when the
// value fits in one.
int PutIpInt(int value, void* val, socklen_t* len) {
  if (BadPointer(len)) return FailWith(EFAULT);
  int n = static_cast<int>(*len);
  if (n < 0) return FailWith(EINVAL);
  if (n > 0 && n < static_cast<int>(sizeof(int)) && value >= 0 && value <= 255) {
    if (BadPointer(val)) return FailWith(EFAULT);
    *static_cast<unsigned char*>(val) = static_cast<unsigned char>(value);
    *len = 1;
    return 0;
  }
  return PutInt(value, val, len);
}

// sock_setsockopt reads a whole int; do_ip_setsockopt also takes a single byte.
int GetInt(const void* val, socklen_t len, bool allow_char, int* out) {
  if (static_cast<int>(len) < 0) return EINVAL;
  if (len >= sizeof(int)) {
    if (BadPointer(val)) return EFAULT;
    std::memcpy(out, val, sizeof(int));
    return 0;
  }
  if (allow_char && len >= 1) {
    if (BadPointer(val)) return EFAULT;
    *out = *static_cast<const unsigned char*>(val);
    return 0;
  }
  return EINVAL;
}

// Reads an int option back from the placeholder after the kernel accepted a new value.
int KernelInt(int fd, int name) {
  int v = 0;
  socklen_t l = sizeof v;
  Real().getsockopt(fd, SOL_SOCKET, name, &v, &l);
  return v;
}

int SetSocketLevel(Socket& s, int fd, int name, const void* val, socklen_t len) {
  EndpointOptions& eo = s.udp().options();
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
  return 0;
}

int GetSocketLevel(Socket& s, int fd, int name, void* val, socklen_t* len) {
  int v;
  switch (name) {
    case SO_TYPE: v = s.type(); break;
    case SO_DOMAIN: v = s.domain(); break;
    case SO_PROTOCOL: v = IPPROTO_UDP; break;
    case SO_ACCEPTCONN: v = 0; break;
    case SO_ERROR: {
      StackOp op(s.stack());
      v = ToErrno(s.udp().TakeErrorLocked());
      s.SyncTokensLocked(fd);
      break;
    }
    case SO_REUSEPORT: {
      StackOp op(s.stack());
      v = s.udp().options().reuse_port;
      break;
    }
    case SO_BINDTODEVICE: {
      std::string name_str;
      {
        StackOp op(s.stack());
        if (Nic* nic = s.stack().FindNic(s.udp().options().bound_device); nic && s.udp().options().bound_device)
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
  EndpointOptions& eo = s.udp().options();
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
    const EndpointOptions& eo = s.udp().options();
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
  if (s.udp().bound()) return FailWith(EINVAL);  // fixed once the socket has a port
  s.udp().options().v6_only = v != 0;
  return 0;
}

int GetIpv6Level(Socket& s, int name, void* val, socklen_t* len) {
  if (name != IPV6_V6ONLY) return FailWith(ENOPROTOOPT);
  int v;
  {
    StackOp op(s.stack());
    v = s.udp().options().v6_only;
  }
  return PutInt(v, val, len);
}

}  // namespace

int SetSockOpt(int fd, int level, int name, const void* val, socklen_t len) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().setsockopt(fd, level, name, val, len);
  if (static_cast<int>(len) < 0) return FailWith(EINVAL);
  switch (level) {
    case SOL_SOCKET: return SetSocketLevel(*s, fd, name, val, len);
    case SOL_IP: return SetIpLevel(*s, name, val, len);
    case SOL_IPV6:
      if (s->domain() != AF_INET6) return FailWith(ENOPROTOOPT);
      return SetIpv6Level(*s, name, val, len);
    default: return FailWith(ENOPROTOOPT);  // SOL_UDP options arrive with UDP corking and GSO
  }
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
    default:  // ip_getsockopt says EOPNOTSUPP, ipv6_getsockopt ENOPROTOOPT
      return FailWith(s->domain() == AF_INET ? EOPNOTSUPP : ENOPROTOOPT);
  }
}

}  // namespace tapsock::shim
