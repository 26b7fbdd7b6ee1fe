// The real libc functions behind every interposed symbol, resolved with dlsym(RTLD_NEXT).
//
// Resolution happens once, in the library constructor or on the first interposed call made before
// it (another library's constructor may open a socket first). dlsym may allocate, and the shim
// interposes no allocator, so it cannot recurse into us.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>

// X(name, return type, parameter list)
#define TAPSOCK_LIBC_FUNCTIONS(X)                                                              \
  X(socket, int, (int, int, int))                                                              \
  X(socketpair, int, (int, int, int, int*))                                                    \
  X(bind, int, (int, const sockaddr*, socklen_t))                                              \
  X(listen, int, (int, int))                                                                   \
  X(accept, int, (int, sockaddr*, socklen_t*))                                                 \
  X(accept4, int, (int, sockaddr*, socklen_t*, int))                                           \
  X(connect, int, (int, const sockaddr*, socklen_t))                                           \
  X(shutdown, int, (int, int))                                                                 \
  X(close, int, (int))                                                                         \
  X(close_range, int, (unsigned, unsigned, int))                                               \
  X(closefrom, void, (int))                                                                    \
  X(read, ssize_t, (int, void*, size_t))                                                       \
  X(write, ssize_t, (int, const void*, size_t))                                                \
  X(readv, ssize_t, (int, const iovec*, int))                                                  \
  X(writev, ssize_t, (int, const iovec*, int))                                                 \
  X(pread64, ssize_t, (int, void*, size_t, off64_t))                                           \
  X(pwrite64, ssize_t, (int, const void*, size_t, off64_t))                                    \
  X(send, ssize_t, (int, const void*, size_t, int))                                            \
  X(sendto, ssize_t, (int, const void*, size_t, int, const sockaddr*, socklen_t))              \
  X(sendmsg, ssize_t, (int, const msghdr*, int))                                               \
  X(sendmmsg, int, (int, mmsghdr*, unsigned, int))                                             \
  X(recv, ssize_t, (int, void*, size_t, int))                                                  \
  X(recvfrom, ssize_t, (int, void*, size_t, int, sockaddr*, socklen_t*))                       \
  X(recvmsg, ssize_t, (int, msghdr*, int))                                                     \
  X(recvmmsg, int, (int, mmsghdr*, unsigned, int, timespec*))                                  \
  X(getsockopt, int, (int, int, int, void*, socklen_t*))                                       \
  X(setsockopt, int, (int, int, int, const void*, socklen_t))                                  \
  X(getsockname, int, (int, sockaddr*, socklen_t*))                                            \
  X(getpeername, int, (int, sockaddr*, socklen_t*))                                            \
  X(ioctl, int, (int, unsigned long, void*))                                                   \
  X(fcntl, int, (int, int, void*))                                                             \
  X(dup, int, (int))                                                                           \
  X(dup2, int, (int, int))                                                                     \
  X(dup3, int, (int, int, int))                                                                \
  X(poll, int, (pollfd*, nfds_t, int))                                                         \
  X(ppoll, int, (pollfd*, nfds_t, const timespec*, const sigset_t*))                           \
  X(select, int, (int, fd_set*, fd_set*, fd_set*, timeval*))                                   \
  X(pselect, int, (int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*))

namespace tapsock::shim {

struct Libc {
#define TAPSOCK_DECLARE(name, ret, params) ret(*name) params;
  TAPSOCK_LIBC_FUNCTIONS(TAPSOCK_DECLARE)
#undef TAPSOCK_DECLARE
};

namespace internal {
extern Libc g_libc;
extern std::atomic<bool> g_libc_ready;
void ResolveLibc() noexcept;
}  // namespace internal

// The real functions; resolves them on first use.
inline const Libc& Real() {
  if (!internal::g_libc_ready.load(std::memory_order_acquire)) internal::ResolveLibc();
  return internal::g_libc;
}

}  // namespace tapsock::shim
