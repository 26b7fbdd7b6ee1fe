#include "shim/wait.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>

#include "shim/libc.h"
#include "shim/runtime.h"
#include "stack/base/sys.h"

namespace tapsock::shim {

namespace {

// Closes the thread's wake fd when the thread exits.
struct ThreadWake {
  int fd = -1;
  ~ThreadWake() {
    if (fd < 0) return;
    if (Runtime* rt = Runtime::IfStarted()) rt->ForgetLibraryFd(fd);
    sys::Close(fd);
  }
};
thread_local ThreadWake t_wake;

int WaitReadable(Socket& s, int fd) {
  char token;
  if (Real().recv(fd, &token, 1, 0) < 0) return -1;
  MutexLock lock(s.stack().mu());
  s.TokenConsumedLocked();
  return 0;
}

int WaitWritable(Socket& s, int fd) {
  int wake = ThreadWakeFd();
  if (wake < 0) return -1;
  timeval tv{};
  socklen_t len = sizeof tv;
  Real().getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len);  // the kernel keeps it for us
  {
    MutexLock lock(s.stack().mu());
    if (s.ReadinessLocked() & (POLLOUT | POLLERR | POLLHUP)) return 0;
    s.AddWriteWaiterLocked(wake);
  }
  int rc = 0;
  uint64_t count;
  if (tv.tv_sec == 0 && tv.tv_usec == 0) {
    if (syscall(SYS_read, wake, &count, sizeof count) < 0) rc = -1;  // restartable, like the kernel's
  } else {
    timespec ts{tv.tv_sec, tv.tv_usec * 1000L};
    pollfd p{wake, POLLIN, 0};
    int n = Real().ppoll(&p, 1, &ts, nullptr);
    if (n > 0) (void)!syscall(SYS_read, wake, &count, sizeof count);
    if (n == 0) errno = EAGAIN;
    if (n <= 0) rc = -1;
  }
  int err = errno;
  {
    MutexLock lock(s.stack().mu());
    s.RemoveWriteWaiterLocked(wake);
  }
  errno = err;
  return rc;
}

}  // namespace

int ThreadWakeFd() {
  if (t_wake.fd >= 0) return t_wake.fd;
  int fd = static_cast<int>(syscall(SYS_eventfd2, 0, EFD_CLOEXEC));
  if (fd < 0) return -1;
  fd = sys::MoveHigh(fd, sys::LibraryFdFloor());
  if (Runtime* rt = Runtime::IfStarted()) rt->AddLibraryFd(fd);
  t_wake.fd = fd;
  return fd;
}

bool IsNonBlocking(int fd) { return Real().fcntl(fd, F_GETFL, nullptr) & O_NONBLOCK; }

int WaitForToken(Socket& s, int fd, WaitFor what) {
  if (what == WaitFor::kRead) return WaitReadable(s, fd);
  if (IsNonBlocking(fd)) {
    errno = EAGAIN;
    return -1;
  }
  return WaitWritable(s, fd);
}

}  // namespace tapsock::shim
