// Raw system calls for the stack's own fds. Inside libtapsock.so the libc names socket, ioctl,
// close, write, fcntl ... resolve to the shim's interposers, so the library's private I/O goes
// straight to the kernel instead.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace tapsock::sys {

inline int Close(int fd) { return static_cast<int>(syscall(SYS_close, fd)); }
inline int Ioctl(int fd, unsigned long req, void* arg) { return static_cast<int>(syscall(SYS_ioctl, fd, req, arg)); }
inline int Socket(int domain, int type, int proto) { return static_cast<int>(syscall(SYS_socket, domain, type, proto)); }
inline int Fcntl(int fd, int cmd, long arg) { return static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg)); }
inline ssize_t Write(int fd, const void* buf, size_t n) { return syscall(SYS_write, fd, buf, n); }
inline ssize_t Read(int fd, void* buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
// All of `data`, retrying short writes and EINTR; false on an error. Async-signal-safe (the crash
// report uses it) and never through libc's interposed write().
inline bool WriteAll(int fd, const void* data, size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = Write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}
// The raw call: the shim's own dup3 refuses to replace a library fd, which is what this is for.
inline int Dup3(int from, int to, int flags) { return static_cast<int>(syscall(SYS_dup3, from, to, flags)); }

// Moves `fd` to the lowest free number >= floor, close-on-exec, so the program's own fds (which
// the kernel hands out lowest-first) never land on the library's; returns the new fd.
inline int MoveHigh(int fd, int floor) {
  int hi = Fcntl(fd, F_DUPFD_CLOEXEC, floor);
  if (hi < 0) return fd;
  Close(fd);
  return hi;
}

// Where the library's own fds go: just under the soft fd limit. The kernel hands the program the
// lowest free numbers, so it reaches ours only when it is about to run out anyway.
inline int LibraryFdFloor() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t soft = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : rl.rlim_cur;
  return soft > 256 ? static_cast<int>(soft - 64) : 128;
}

}  // namespace tapsock::sys
