// The exported libc symbols: tiny dispatchers. Each asks the one question on the hot path -- is
// this fd a stack socket? -- and either goes straight to libc or into the syscall layer
// (calls.h). All are noexcept: no C++ exception can cross into the host program (the library is
// built with -fno-exceptions besides).
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>

#include "shim/calls.h"
#include "shim/config.h"
#include "shim/exit.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/process.h"

using namespace tapsock::shim;  // NOLINT: this file only forwards

#define TS_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// TAPSOCK_DISABLE=1 turns the library into a pure pass-through (read once, at load).
bool g_disabled = false;

__attribute__((constructor)) void TapsockLoad() {
  tapsock::shim::internal::ResolveLibc();
  process::Init();
  g_disabled = DisabledByEnvironment();
  if (!g_disabled) RegisterExitHandler();
}

bool IsStackFamily(int domain) { return !g_disabled && (domain == AF_INET || domain == AF_INET6); }
bool Ours(int fd) { return !g_disabled && FdTable::Get().IsSocket(fd); }

// The one question on the hot path, then the one exception to its answer: in a fork() child a
// stack socket's call is refused, since the child's copy of the stack must not run (process.h).
// A macro because only the chosen branch may be evaluated.
#define TS_DISPATCH(fd, ours, kernel)                                                     \
  (!Ours(fd) ? (kernel)                                                                   \
   : __builtin_expect(process::InForkChild(), 0) ? process::RefuseInherited(fd) : (ours))

timespec MsToTimespec(int ms) { return {ms / 1000, (ms % 1000) * 1'000'000L}; }

}  // namespace

TS_EXPORT int socket(int domain, int type, int protocol) noexcept {
  if (!IsStackFamily(domain)) return AfterFdCreated(Real().socket(domain, type, protocol));
  return OpenSocket(domain, type, protocol);
}

TS_EXPORT int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  int rc = Real().socketpair(domain, type, protocol, sv);
  if (rc == 0 && !g_disabled) AfterFdCreated(sv[0]), AfterFdCreated(sv[1]);
  return rc;
}

TS_EXPORT int bind(int fd, const sockaddr* a, socklen_t l) noexcept {
  return TS_DISPATCH(fd, Bind(fd, a, l), Real().bind(fd, a, l));
}
TS_EXPORT int connect(int fd, const sockaddr* a, socklen_t l) noexcept {
  return TS_DISPATCH(fd, Connect(fd, a, l), Real().connect(fd, a, l));
}
TS_EXPORT int listen(int fd, int backlog) noexcept {
  return TS_DISPATCH(fd, Listen(fd, backlog), Real().listen(fd, backlog));
}
TS_EXPORT int accept(int fd, sockaddr* a, socklen_t* l) noexcept {
  if (g_disabled) return Real().accept(fd, a, l);
  return TS_DISPATCH(fd, Accept(fd, a, l, 0), AfterFdCreated(Real().accept(fd, a, l)));
}
TS_EXPORT int accept4(int fd, sockaddr* a, socklen_t* l, int flags) noexcept {
  if (g_disabled) return Real().accept4(fd, a, l, flags);
  return TS_DISPATCH(fd, Accept(fd, a, l, flags), AfterFdCreated(Real().accept4(fd, a, l, flags)));
}
TS_EXPORT int shutdown(int fd, int how) noexcept {
  return TS_DISPATCH(fd, Shutdown(fd, how), Real().shutdown(fd, how));
}
TS_EXPORT int getsockname(int fd, sockaddr* a, socklen_t* l) noexcept {
  return TS_DISPATCH(fd, GetSockName(fd, a, l), Real().getsockname(fd, a, l));
}
TS_EXPORT int getpeername(int fd, sockaddr* a, socklen_t* l) noexcept {
  return TS_DISPATCH(fd, GetPeerName(fd, a, l), Real().getpeername(fd, a, l));
}
TS_EXPORT int getsockopt(int fd, int level, int name, void* v, socklen_t* l) noexcept {
  return TS_DISPATCH(fd, GetSockOpt(fd, level, name, v, l), Real().getsockopt(fd, level, name, v, l));
}
TS_EXPORT int setsockopt(int fd, int level, int name, const void* v, socklen_t l) noexcept {
  return TS_DISPATCH(fd, SetSockOpt(fd, level, name, v, l), Real().setsockopt(fd, level, name, v, l));
}

TS_EXPORT int close(int fd) noexcept { return g_disabled ? Real().close(fd) : Close(fd); }
TS_EXPORT int close_range(unsigned first, unsigned last, int flags) noexcept {
  return g_disabled ? Real().close_range(first, last, flags) : CloseRange(first, last, flags);
}
TS_EXPORT void closefrom(int lowfd) noexcept {
  if (g_disabled) return Real().closefrom(lowfd);
  if (lowfd < 0) lowfd = 0;
  CloseRange(static_cast<unsigned>(lowfd), ~0u, 0);
}
TS_EXPORT int dup(int fd) noexcept { return g_disabled ? Real().dup(fd) : Dup(fd); }
TS_EXPORT int dup2(int oldfd, int newfd) noexcept {
  return g_disabled ? Real().dup2(oldfd, newfd) : Dup3(oldfd, newfd, 0, true);
}
TS_EXPORT int dup3(int oldfd, int newfd, int flags) noexcept {
  return g_disabled ? Real().dup3(oldfd, newfd, flags) : Dup3(oldfd, newfd, flags, false);
}
TS_EXPORT int fcntl(int fd, int cmd, ...) noexcept {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);  // glibc reads the optional argument the same way
  va_end(ap);
  return g_disabled ? Real().fcntl(fd, cmd, arg) : Fcntl(fd, cmd, arg, false);
}
TS_EXPORT int fcntl64(int fd, int cmd, ...) noexcept {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return g_disabled ? Real().fcntl(fd, cmd, arg) : Fcntl(fd, cmd, arg, true);
}
TS_EXPORT int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return TS_DISPATCH(fd, Ioctl(fd, request, arg), Real().ioctl(fd, request, arg));
}

TS_EXPORT ssize_t read(int fd, void* buf, size_t n) noexcept {
  iovec iov{buf, n};
  return TS_DISPATCH(fd, ReadV(fd, &iov, 1), Real().read(fd, buf, n));
}
TS_EXPORT ssize_t write(int fd, const void* buf, size_t n) noexcept {
  iovec iov{const_cast<void*>(buf), n};
  return TS_DISPATCH(fd, WriteV(fd, &iov, 1), Real().write(fd, buf, n));
}
TS_EXPORT ssize_t readv(int fd, const iovec* iov, int n) noexcept {
  return TS_DISPATCH(fd, ReadV(fd, iov, n), Real().readv(fd, iov, n));
}
TS_EXPORT ssize_t writev(int fd, const iovec* iov, int n) noexcept {
  return TS_DISPATCH(fd, WriteV(fd, iov, n), Real().writev(fd, iov, n));
}
TS_EXPORT ssize_t send(int fd, const void* buf, size_t n, int flags) noexcept {
  return TS_DISPATCH(fd, SendTo(fd, buf, n, flags, nullptr, 0), Real().send(fd, buf, n, flags));
}
TS_EXPORT ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* a, socklen_t l) noexcept {
  return TS_DISPATCH(fd, SendTo(fd, buf, n, flags, a, l), Real().sendto(fd, buf, n, flags, a, l));
}
TS_EXPORT ssize_t sendmsg(int fd, const msghdr* m, int flags) noexcept {
  return TS_DISPATCH(fd, SendMsg(fd, m, flags), Real().sendmsg(fd, m, flags));
}
TS_EXPORT int sendmmsg(int fd, mmsghdr* v, unsigned n, int flags) noexcept {
  return TS_DISPATCH(fd, SendMmsg(fd, v, n, flags), Real().sendmmsg(fd, v, n, flags));
}
TS_EXPORT ssize_t recv(int fd, void* buf, size_t n, int flags) noexcept {
  return TS_DISPATCH(fd, RecvFrom(fd, buf, n, flags, nullptr, nullptr), Real().recv(fd, buf, n, flags));
}
TS_EXPORT ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* a, socklen_t* l) noexcept {
  return TS_DISPATCH(fd, RecvFrom(fd, buf, n, flags, a, l), Real().recvfrom(fd, buf, n, flags, a, l));
}
TS_EXPORT ssize_t recvmsg(int fd, msghdr* m, int flags) noexcept {
  return TS_DISPATCH(fd, RecvMsg(fd, m, flags), Real().recvmsg(fd, m, flags));
}
TS_EXPORT int recvmmsg(int fd, mmsghdr* v, unsigned n, int flags, timespec* t) noexcept {
  return TS_DISPATCH(fd, RecvMmsg(fd, v, n, flags, t), Real().recvmmsg(fd, v, n, flags, t));
}

TS_EXPORT int poll(pollfd* fds, nfds_t n, int timeout_ms) noexcept {
  if (g_disabled) return Real().poll(fds, n, timeout_ms);
  timespec ts = MsToTimespec(timeout_ms);
  return PPoll(fds, n, timeout_ms < 0 ? nullptr : &ts, nullptr, false);
}
TS_EXPORT int ppoll(pollfd* fds, nfds_t n, const timespec* t, const sigset_t* mask) noexcept {
  return g_disabled ? Real().ppoll(fds, n, t, mask) : PPoll(fds, n, t, mask, true);
}
TS_EXPORT int select(int n, fd_set* r, fd_set* w, fd_set* e, timeval* tv) noexcept {
  if (g_disabled) return Real().select(n, r, w, e, tv);
  if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0)) {
    errno = EINVAL;
    return -1;
  }
  timespec ts{tv ? tv->tv_sec : 0, tv ? tv->tv_usec * 1000L : 0};
  if (tv && ts.tv_nsec >= 1'000'000'000) ts.tv_sec += ts.tv_nsec / 1'000'000'000, ts.tv_nsec %= 1'000'000'000;
  return PSelect(n, r, w, e, tv ? &ts : nullptr, nullptr, tv);
}
TS_EXPORT int pselect(int n, fd_set* r, fd_set* w, fd_set* e, const timespec* t, const sigset_t* m) noexcept {
  return g_disabled ? Real().pselect(n, r, w, e, t, m) : PSelect(n, r, w, e, t, m, nullptr);
}

// Fortified variants (-D_FORTIFY_SOURCE) that glibc programs call instead of the plain names.
extern "C" [[noreturn]] void __chk_fail(void);
TS_EXPORT ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) noexcept {
  if (n > buflen) __chk_fail();
  return recv(fd, buf, n, flags);
}
TS_EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, sockaddr* a,
                                 socklen_t* l) noexcept {
  if (n > buflen) __chk_fail();
  return recvfrom(fd, buf, n, flags, a, l);
}
TS_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) noexcept {
  if (n > buflen) __chk_fail();
  return read(fd, buf, n);
}
TS_EXPORT int __poll_chk(pollfd* fds, nfds_t n, int timeout, size_t fdslen) noexcept {
  if (fdslen / sizeof(*fds) < n) __chk_fail();
  return poll(fds, n, timeout);
}
TS_EXPORT int __ppoll_chk(pollfd* fds, nfds_t n, const timespec* t, const sigset_t* m, size_t fdslen) noexcept {
  if (fdslen / sizeof(*fds) < n) __chk_fail();
  return ppoll(fds, n, t, m);
}
