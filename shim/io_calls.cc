// Data transfer on stack sockets: send and receive in every flavour, with blocking done by
// sleeping on the placeholder (see socket.h), and control messages on the way out.
#include <netinet/in.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "shim/calls.h"
#include "shim/errno_map.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/sockaddr.h"
#include "shim/user_memory.h"
#include "shim/wait.h"

namespace tapsock::shim {

namespace {

constexpr int kMaxIov = 1024;  // UIO_MAXIOV

// Checks an iovec array as the kernel's import_iovec does; returns 0 or an errno.
int CheckIov(const iovec* iov, size_t n, int too_many_errno) {
  if (n > kMaxIov) return too_many_errno;
  if (n > 0 && BadPointer(iov)) return EFAULT;
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<ssize_t>(iov[i].iov_len) < 0) return EINVAL;
    if (BadBuffer(iov[i].iov_base, iov[i].iov_len)) return EFAULT;
    total += iov[i].iov_len;
    if (static_cast<ssize_t>(total) < 0) return EINVAL;
  }
  return 0;
}

// Writes control messages into msg_control; sets MSG_CTRUNC when they do not fit.
class CmsgWriter {
 public:
  explicit CmsgWriter(msghdr* msg) : msg_(msg) {}
  void Add(int level, int type, const void* data, size_t len) {
    size_t space = CMSG_SPACE(len);
    if (!msg_->msg_control || used_ + CMSG_LEN(len) > msg_->msg_controllen) {
      msg_->msg_flags |= MSG_CTRUNC;
      return;
    }
    auto* c = reinterpret_cast<cmsghdr*>(static_cast<char*>(msg_->msg_control) + used_);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    std::memcpy(CMSG_DATA(c), data, len);
    used_ += std::min(space, msg_->msg_controllen - used_);
  }
  size_t used() const { return used_; }

 private:
  msghdr* msg_;
  size_t used_ = 0;
};

void WriteControl(Socket& s, const RecvResult& r, msghdr* msg) {
  CmsgWriter w(msg);
  const SocketOptions& o = s.opts();
  if (o.timestamp) {
    timeval tv{r.timestamp_ns / 1'000'000'000, (r.timestamp_ns % 1'000'000'000) / 1000};
    w.Add(SOL_SOCKET, SO_TIMESTAMP_OLD, &tv, sizeof tv);
  }
  if (o.timestamp_ns) {
    timespec ts{r.timestamp_ns / 1'000'000'000, r.timestamp_ns % 1'000'000'000};
    w.Add(SOL_SOCKET, SO_TIMESTAMPNS_OLD, &ts, sizeof ts);
  }
  if (o.recv_tos) w.Add(SOL_IP, IP_TOS, &r.meta.tos, 1);
  if (o.recv_ttl) {
    int ttl = r.meta.ttl;
    w.Add(SOL_IP, IP_TTL, &ttl, sizeof ttl);
  }
  if (o.pktinfo) {
    in_pktinfo pi{};
    pi.ipi_ifindex = r.meta.ifindex;
    pi.ipi_spec_dst.s_addr = htonl(r.meta.dst.v);
    pi.ipi_addr.s_addr = htonl(r.meta.dst.v);
    w.Add(SOL_IP, IP_PKTINFO, &pi, sizeof pi);
  }
  msg->msg_controllen = w.used();
}

// The iovecs left after the first `done` bytes.
std::vector<iovec> Rest(const iovec* iov, size_t n, size_t done) {
  std::vector<iovec> rest;
  for (size_t i = 0; i < n; ++i) {
    if (done >= iov[i].iov_len) {
      done -= iov[i].iov_len;
      continue;
    }
    rest.push_back({static_cast<char*>(iov[i].iov_base) + done, iov[i].iov_len - done});
    done = 0;
  }
  return rest;
}

size_t Total(const iovec* iov, size_t n) {
  size_t t = 0;
  for (size_t i = 0; i < n; ++i) t += iov[i].iov_len;
  return t;
}

// A stream send: everything is queued unless non-blocking (partial counts, as Linux returns
// them), an error comes, or a signal interrupts after some bytes went.
ssize_t StreamSend(Socket& s, int fd, const iovec* iov, size_t iovcnt, int flags) {
  size_t total = Total(iov, iovcnt), sent = 0;
  for (;;) {
    Result<size_t> r = size_t{0};
    {
      StackOp op(s.stack());
      std::vector<iovec> rest;
      std::span<const iovec> span(iov, iovcnt);
      if (sent > 0) rest = Rest(iov, iovcnt, sent), span = rest;
      r = s.tcp().SendLocked(span, flags & MSG_MORE, flags & MSG_OOB);
      s.SyncTokensLocked(fd);
    }
    if (r.ok()) {
      sent += r.value();
      if (sent == total) return static_cast<ssize_t>(sent);
    } else if (r.error() != Error::kWouldBlock) {
      if (sent > 0) return static_cast<ssize_t>(sent);
      if (r.error() == Error::kBrokenPipe && !(flags & MSG_NOSIGNAL)) raise(SIGPIPE);
      return Fail(r.error());
    }
    if (flags & MSG_DONTWAIT) return sent > 0 ? static_cast<ssize_t>(sent) : FailWith(EAGAIN);
    if (WaitForToken(s, fd, WaitFor::kWrite) < 0) return sent > 0 ? static_cast<ssize_t>(sent) : -1;
  }
}

// recv(MSG_OOB) on a stream (tcp_recv_urg): the urgent byte, never blocking.
ssize_t StreamRecvUrgent(Socket& s, int fd, const iovec* iov, size_t iovcnt, int flags, msghdr* msg) {
  uint8_t byte = 0;
  Result<size_t> r = size_t{0};
  {
    StackOp op(s.stack());
    r = s.tcp().RecvUrgentLocked(&byte, flags & MSG_PEEK);
    s.SyncTokensLocked(fd);
  }
  if (!r.ok()) return Fail(r.error());
  if (r.value() == 0) return 0;  // end of stream
  if (msg) msg->msg_flags |= MSG_OOB;
  if (Total(iov, iovcnt) == 0) {  // the byte counts as read all the same
    if (msg) msg->msg_flags |= MSG_TRUNC;
    return 0;
  }
  for (size_t i = 0; i < iovcnt && !(flags & MSG_TRUNC); ++i) {
    if (iov[i].iov_len == 0) continue;
    *static_cast<uint8_t*>(iov[i].iov_base) = byte;
    break;
  }
  return 1;
}

// A stream receive: what is there (or, with MSG_WAITALL, all that was asked for unless the
// stream ends or fails); 0 at end of stream.
ssize_t StreamRecv(Socket& s, int fd, const iovec* iov, size_t iovcnt, int flags, msghdr* msg,
                   socklen_t* alen) {
  if (msg) msg->msg_flags = 0, msg->msg_controllen = 0;
  if (alen && !BadPointer(alen)) *alen = 0;  // a stream reports no source address
  if (flags & MSG_OOB) return StreamRecvUrgent(s, fd, iov, iovcnt, flags, msg);
  std::vector<uint8_t> scratch;
  std::vector<iovec> discard;
  if (flags & MSG_TRUNC) {  // tcp_recvmsg: read and throw away, return the count
    scratch.resize(Total(iov, iovcnt));
    discard.push_back({scratch.data(), scratch.size()});
    iov = discard.data();
    iovcnt = 1;
  }
  size_t total = Total(iov, iovcnt), got = 0;
  if (total == 0) {
    // tcp_recvmsg with nothing to copy still waits for data (or EOF) and consumes nothing; a
    // receive timeout then returns 0, not EAGAIN.
    for (;;) {
      {
        StackOp op(s.stack());
        tcp::TcpEndpoint& t = s.tcp();
        if (t.ReadableBytesLocked() > 0 || t.state() == tcp::State::kClosed ||
            (t.ReadinessLocked() & (POLLRDHUP | POLLERR)))
          return 0;
      }
      if ((flags & MSG_DONTWAIT) || IsNonBlocking(fd)) return FailWith(EAGAIN);
      if (WaitForToken(s, fd, WaitFor::kRead) < 0) return errno == EAGAIN ? 0 : -1;
    }
  }
  for (;;) {
    Result<size_t> r = size_t{0};
    {
      StackOp op(s.stack());
      // tcp_recvmsg: once something was copied, a read ends at the urgent mark (MSG_WAITALL too).
      if (got > 0 && s.tcp().AtUrgentMarkLocked()) return static_cast<ssize_t>(got);
      std::vector<iovec> rest;
      std::span<const iovec> span(iov, iovcnt);
      if (got > 0) rest = Rest(iov, iovcnt, got), span = rest;
      r = s.tcp().RecvLocked(span, flags & MSG_PEEK);
      s.SyncTokensLocked(fd);
    }
    if (r.ok()) {
      got += r.value();
      bool more = (flags & MSG_WAITALL) && !(flags & MSG_PEEK) && got < total && r.value() > 0;
      if (!more) return static_cast<ssize_t>(got);
      continue;
    }
    if (r.error() != Error::kWouldBlock) return got > 0 ? static_cast<ssize_t>(got) : Fail(r.error());
    if (got > 0 && !(flags & MSG_WAITALL)) return static_cast<ssize_t>(got);
    if (flags & MSG_DONTWAIT) return got > 0 ? static_cast<ssize_t>(got) : FailWith(EAGAIN);
    if (WaitForToken(s, fd, WaitFor::kRead) < 0) return got > 0 ? static_cast<ssize_t>(got) : -1;
  }
}

ssize_t SendOn(Socket& s, int fd, const iovec* iov, size_t iovcnt, int flags, const sockaddr* addr,
               socklen_t alen) {
  if (s.is_tcp()) return StreamSend(s, fd, iov, iovcnt, flags);  // a stream ignores addresses
  if (flags & MSG_OOB) return FailWith(EOPNOTSUPP);
  FullAddress dst;
  SendOptions so;
  if (addr && alen) {
    int err;
    auto pa = ParseSockaddr(s.domain(), s.endpoint_options().v6_only, AddrUse::kSendTo, addr, alen, &err);
    if (!pa.ok()) return FailWith(err);
    if (!pa.value().unspec) {
      dst = pa.value().addr;
      so.dst = &dst;
    }
  }
  StackOp op(s.stack());
  auto r = s.udp().SendLocked({iov, iovcnt}, so);
  if (!r.ok()) {
    s.SyncTokensLocked(fd);  // a sticky error may just have been consumed
    return Fail(r.error());
  }
  return static_cast<ssize_t>(r.value());
}

ssize_t RecvOn(Socket& s, int fd, const iovec* iov, size_t iovcnt, int flags, msghdr* msg,
               sockaddr* addr, socklen_t* alen) {
  if (flags & MSG_ERRQUEUE) return FailWith(EAGAIN);  // nothing queued without IP_RECVERR yet
  if (s.is_tcp()) return StreamRecv(s, fd, iov, iovcnt, flags, msg, alen);
  for (;;) {
    {
      StackOp op(s.stack());
      auto r = s.udp().RecvLocked({iov, iovcnt}, flags & MSG_PEEK);
      s.SyncTokensLocked(fd);
      if (r.ok()) {
        const RecvResult& res = r.value();
        if (res.eof) {  // __sys_recvfrom: no datagram, no name
          if (alen && !BadPointer(alen)) *alen = 0;
          if (msg) msg->msg_namelen = 0, msg->msg_flags = 0, msg->msg_controllen = 0;
          return 0;
        }
        if (addr) {  // checked after dequeuing, as Linux does: a bad length loses the datagram
          if (int err = WriteSockaddr(s.domain(), res.meta.src, addr, alen)) return FailWith(err);
        }
        if (msg) {
          msg->msg_flags = res.copied < res.datagram_len ? MSG_TRUNC : 0;
          if (msg->msg_controllen > 0) WriteControl(s, res, msg);
        }
        return static_cast<ssize_t>((flags & MSG_TRUNC) ? res.datagram_len : res.copied);
      }
      if (r.error() != Error::kWouldBlock) return Fail(r.error());
    }
    if (flags & MSG_DONTWAIT) return FailWith(EAGAIN);
    if (WaitForToken(s, fd, WaitFor::kRead) < 0) return -1;
  }
}

}  // namespace

ssize_t SendTo(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t alen) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().sendto(fd, buf, len, flags, addr, alen);
  if (BadBuffer(buf, len)) return FailWith(EFAULT);
  iovec iov{const_cast<void*>(buf), len};
  return SendOn(*s, fd, &iov, 1, flags, addr, alen);
}

ssize_t RecvFrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().recvfrom(fd, buf, len, flags, addr, alen);
  // A stream's MSG_TRUNC discards without copying: the buffer may be anything.
  if (BadBuffer(buf, len) && !(s->is_tcp() && (flags & MSG_TRUNC))) return FailWith(EFAULT);
  iovec iov{buf, len};
  return RecvOn(*s, fd, &iov, 1, flags, nullptr, addr, alen);
}

ssize_t SendMsg(int fd, const msghdr* msg, int flags) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().sendmsg(fd, msg, flags);
  if (BadPointer(msg)) return FailWith(EFAULT);
  if (int err = CheckIov(msg->msg_iov, msg->msg_iovlen, EMSGSIZE)) return FailWith(err);
  if (msg->msg_controllen > INT32_MAX) return FailWith(ENOBUFS);
  return SendOn(*s, fd, msg->msg_iov, msg->msg_iovlen, flags, static_cast<const sockaddr*>(msg->msg_name),
                msg->msg_namelen);
}

ssize_t RecvMsg(int fd, msghdr* msg, int flags) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().recvmsg(fd, msg, flags);
  if (BadPointer(msg)) return FailWith(EFAULT);
  if (int err = CheckIov(msg->msg_iov, msg->msg_iovlen, EMSGSIZE)) return FailWith(err);
  if (static_cast<int>(msg->msg_namelen) < 0) return FailWith(EINVAL);
  socklen_t* alen = msg->msg_name ? &msg->msg_namelen : nullptr;
  if (!msg->msg_name) msg->msg_namelen = 0;
  return RecvOn(*s, fd, msg->msg_iov, msg->msg_iovlen, flags, msg, static_cast<sockaddr*>(msg->msg_name),
                alen);
}

ssize_t ReadV(int fd, const iovec* iov, int iovcnt) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().readv(fd, iov, iovcnt);
  if (iovcnt < 0) return FailWith(EINVAL);
  if (int err = CheckIov(iov, static_cast<size_t>(iovcnt), EINVAL)) return FailWith(err);
  size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  if (total == 0) return 0;  // sock_read_iter: an empty read returns at once, consuming nothing
  return RecvOn(*s, fd, iov, static_cast<size_t>(iovcnt), 0, nullptr, nullptr, nullptr);
}

ssize_t WriteV(int fd, const iovec* iov, int iovcnt) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return Real().writev(fd, iov, iovcnt);
  if (iovcnt < 0) return FailWith(EINVAL);
  if (int err = CheckIov(iov, static_cast<size_t>(iovcnt), EINVAL)) return FailWith(err);
  size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  if (total == 0) return 0;  // sock_write_iter: "Match SYS5 behaviour", nothing is sent
  return SendOn(*s, fd, iov, static_cast<size_t>(iovcnt), 0, nullptr, 0);
}

int SendMmsg(int fd, mmsghdr* vec, unsigned vlen, int flags) {
  if (!FdTable::Get().IsSocket(fd)) return Real().sendmmsg(fd, vec, vlen, flags);
  if (vlen > kMaxIov) vlen = kMaxIov;
  if (vlen > 0 && BadPointer(vec)) return FailWith(EFAULT);
  unsigned done = 0;
  for (; done < vlen; ++done) {
    ssize_t n = SendMsg(fd, &vec[done].msg_hdr, flags);
    if (n < 0) return done > 0 ? static_cast<int>(done) : -1;
    vec[done].msg_len = static_cast<unsigned>(n);
  }
  return static_cast<int>(done);
}

int RecvMmsg(int fd, mmsghdr* vec, unsigned vlen, int flags, timespec* timeout) {
  if (!FdTable::Get().IsSocket(fd)) return Real().recvmmsg(fd, vec, vlen, flags, timeout);
  if (vlen > kMaxIov) vlen = kMaxIov;
  if (vlen > 0 && BadPointer(vec)) return FailWith(EFAULT);
  Instant deadline = kNever;
  if (timeout) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1'000'000'000) return FailWith(EINVAL);
    deadline = MonotonicNow() + timeout->tv_sec * kSecond + timeout->tv_nsec;
  }
  unsigned done = 0;
  for (; done < vlen; ++done) {
    // After the first datagram, MSG_WAITFORONE turns the rest non-blocking; so does a passed deadline.
    int f = flags;
    if (done > 0 && ((flags & MSG_WAITFORONE) || MonotonicNow() >= deadline)) f |= MSG_DONTWAIT;
    ssize_t n = RecvMsg(fd, &vec[done].msg_hdr, f);
    if (n < 0) {
      if (done > 0) break;  // what was received is returned; the error shows on the next call
      return -1;
    }
    vec[done].msg_len = static_cast<unsigned>(n);
    if (timeout && MonotonicNow() >= deadline) {
      ++done;
      break;
    }
  }
  return static_cast<int>(done);
}

}  // namespace tapsock::shim
