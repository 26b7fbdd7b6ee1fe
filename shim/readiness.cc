// poll/ppoll/select/pselect over kernel and stack fds together.
//
// A stack fd's number is its placeholder's, and the placeholder is POLLIN exactly while a token
// says the socket is readable (socket.h). So one kernel poll over the program's own array, with
// stack entries asking for POLLIN, sleeps on everything at once; the stack entries' answers are
// then computed exactly from the endpoints. A token gone stale between the two makes a spurious
// wake-up, which loops. poll never restarts after a signal handler (signal(7)): EINTR goes back.
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include "shim/calls.h"
#include "shim/errno_map.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/process.h"
#include "shim/user_memory.h"
#include "shim/wait.h"

namespace tapsock::shim {

namespace {

constexpr short kAlways = POLLERR | POLLHUP | POLLNVAL;

// n elements, on the stack up to N and on the heap beyond: poll and select's per-call scratch
// arrays, which must not allocate for the usual handful of fds.
template <typename T, size_t N>
class Scratch {
 public:
  explicit Scratch(size_t n) : data_(n <= N ? inline_ : (heap_ = std::make_unique<T[]>(n)).get()) {}
  T* data() { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

 private:
  T inline_[N];
  std::unique_ptr<T[]> heap_;
  T* data_;
};

// The exact revents of a stack fd for `events`; with a wake fd, also arms it for POLLOUT.
short StackRevents(int fd, short events, int wake_fd = -1) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return POLLNVAL;
  MutexLock lock(s->stack().mu());
  auto revents = static_cast<short>(s->ReadinessLocked() & (static_cast<uint16_t>(events) | kAlways));
  // Asked for POLLOUT and not writable: wake this thread's eventfd when it becomes so.
  if (wake_fd >= 0 && (events & POLLOUT) && !(revents & POLLOUT)) s->AddWriteWaiterLocked(wake_fd);
  return revents;
}

void StopWaitingForWrite(int fd, int wake_fd) {
  SocketRef s = FdTable::Get().Acquire(fd);
  if (!s) return;
  MutexLock lock(s->stack().mu());
  s->RemoveWriteWaiterLocked(wake_fd);
}

// While a poll waits for POLLPRI on stack sockets, urgent data alone wakes it (Socket::
// WatchUrgentLocked). Holds the sockets, so that a close() meanwhile cannot unbalance the count.
class UrgentWatch {
 public:
  UrgentWatch(const pollfd* fds, nfds_t n, const bool* is_stack) {
    for (nfds_t i = 0; i < n; ++i) {
      if (!is_stack[i] || !(fds[i].events & POLLPRI)) continue;
      SocketRef s = FdTable::Get().Acquire(fds[i].fd);
      if (!s) continue;
      {
        MutexLock lock(s->stack().mu());
        s->WatchUrgentLocked(fds[i].fd, true);
      }
      watched_.push_back({std::move(s), fds[i].fd});
    }
  }
  ~UrgentWatch() {
    int err = errno;  // runs after the poll's result is set
    for (auto& [s, fd] : watched_) {
      // A stale token is removed through the fd only if it still names the same socket.
      SocketRef now = FdTable::Get().Acquire(fd);
      MutexLock lock(s->stack().mu());
      s->WatchUrgentLocked(now && &*now == &*s ? fd : -1, false);
    }
    errno = err;
  }
  UrgentWatch(const UrgentWatch&) = delete;
  UrgentWatch& operator=(const UrgentWatch&) = delete;

 private:
  std::vector<std::pair<SocketRef, int>> watched_;
};

Instant DeadlineFrom(const timespec* t) {
  if (!t) return kNever;
  return MonotonicNow() + t->tv_sec * kSecond + t->tv_nsec;
}

}  // namespace

int PPoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask, bool is_ppoll) {
  FdTable& table = FdTable::Get();
  bool any_stack = false;
  if (n > 0 && !BadPointer(fds)) {
    for (nfds_t i = 0; i < n && !any_stack; ++i) any_stack = table.IsSocket(fds[i].fd);
  }
  if (!any_stack) {
    if (is_ppoll) return Real().ppoll(fds, n, timeout, mask);
    int ms = timeout ? static_cast<int>(timeout->tv_sec * 1000 + timeout->tv_nsec / 1'000'000) : -1;
    return Real().poll(fds, n, ms);
  }
  if (process::InForkChild()) {  // the child's copy of the stack must not run (process.h)
    for (nfds_t i = 0; i < n; ++i)
      if (table.IsSocket(fds[i].fd)) return process::RefuseInherited(fds[i].fd);
  }
  if (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1'000'000'000))
    return FailWith(EINVAL);
  Scratch<pollfd, 32> kernel(n + 1);  // the program's entries, then perhaps the wake fd
  Scratch<bool, 32> is_stack(n);
  std::copy(fds, fds + n, kernel.data());
  bool wants_write = false;
  for (nfds_t i = 0; i < n; ++i) {
    is_stack[i] = table.IsSocket(fds[i].fd);
    if (is_stack[i]) kernel[i].events = POLLIN;  // the token
    wants_write |= is_stack[i] && (fds[i].events & POLLOUT);
  }
  UrgentWatch urgent(fds, n, is_stack.data());
  // Writability has its own channel: this thread's eventfd, as the last entry of the kernel poll.
  int wake = wants_write ? ThreadWakeFd() : -1;
  nfds_t kernel_n = n;
  if (wake >= 0) kernel[kernel_n++] = {wake, POLLIN, 0};
  Instant deadline = DeadlineFrom(timeout);
  for (;;) {
    int ready_stack = 0;
    for (nfds_t i = 0; i < n; ++i)
      if (is_stack[i] && StackRevents(fds[i].fd, fds[i].events, wake)) ++ready_stack;
    timespec wait{0, 0};
    const timespec* wait_ptr = &wait;
    if (ready_stack == 0) {
      if (deadline == kNever) {
        wait_ptr = nullptr;
      } else {
        int64_t left = std::max<int64_t>(0, deadline - MonotonicNow());
        wait = {left / kSecond, left % kSecond};
      }
    }
    int rc = Real().ppoll(kernel.data(), kernel_n, wait_ptr, mask);
    int err = errno;
    if (wake >= 0) {
      for (nfds_t i = 0; i < n; ++i)
        if (is_stack[i] && (fds[i].events & POLLOUT)) StopWaitingForWrite(fds[i].fd, wake);
      uint64_t drained;
      if (kernel[n].revents & POLLIN) (void)!syscall(SYS_read, wake, &drained, sizeof drained);
    }
    if (rc < 0) {
      errno = err;
      return -1;
    }
    int count = 0;
    for (nfds_t i = 0; i < n; ++i) {
      fds[i].revents = is_stack[i] ? StackRevents(fds[i].fd, fds[i].events) : kernel[i].revents;
      if (fds[i].revents) ++count;
    }
    if (count > 0 || (deadline != kNever && MonotonicNow() >= deadline)) return count;
    // A stale token woke us with nothing ready: sleep again for what is left.
  }
}

int PSelect(int nfds, fd_set* r, fd_set* w, fd_set* e, const timespec* timeout, const sigset_t* mask,
            timeval* update) {
  FdTable& table = FdTable::Get();
  if (nfds < 0) return FailWith(EINVAL);
  if (nfds > FD_SETSIZE) nfds = FD_SETSIZE;
  auto events_of = [&](int fd) {
    short ev = 0;
    if (r && FD_ISSET(fd, r)) ev |= POLLIN;
    if (w && FD_ISSET(fd, w)) ev |= POLLOUT;
    if (e && FD_ISSET(fd, e)) ev |= POLLPRI;
    return ev;
  };
  bool any_stack = false;
  int asked = 0;
  for (int fd = 0; fd < nfds; ++fd) {
    if (!events_of(fd)) continue;
    ++asked;
    any_stack |= table.IsSocket(fd);
  }
  if (!any_stack) {
    if (update) {
      int rc = Real().select(nfds, r, w, e, update);
      return rc;
    }
    return Real().pselect(nfds, r, w, e, timeout, mask);
  }
  Scratch<pollfd, 64> pfds(static_cast<size_t>(asked));
  for (int fd = 0, i = 0; fd < nfds; ++fd)
    if (short ev = events_of(fd)) pfds[static_cast<size_t>(i++)] = {fd, ev, 0};
  Instant start = MonotonicNow();
  int rc = PPoll(pfds.data(), static_cast<nfds_t>(asked), timeout, mask, true);
  if (rc < 0) return -1;
  for (int i = 0; i < asked; ++i)
    if (pfds[static_cast<size_t>(i)].revents & POLLNVAL) return FailWith(EBADF);
  if (r) FD_ZERO(r);
  if (w) FD_ZERO(w);
  if (e) FD_ZERO(e);
  int count = 0;
  for (int i = 0; i < asked; ++i) {
    const pollfd& p = pfds[static_cast<size_t>(i)];
    // select's readable set includes hang-up and error, as the kernel's POLLIN_SET does.
    if (r && (p.events & POLLIN) && (p.revents & (POLLIN | POLLHUP | POLLERR))) FD_SET(p.fd, r), ++count;
    if (w && (p.events & POLLOUT) && (p.revents & (POLLOUT | POLLERR))) FD_SET(p.fd, w), ++count;
    if (e && (p.events & POLLPRI) && (p.revents & POLLPRI)) FD_SET(p.fd, e), ++count;
  }
  if (update && timeout) {  // Linux's select writes back the time left
    int64_t left = std::max<int64_t>(0, timeout->tv_sec * kSecond + timeout->tv_nsec - (MonotonicNow() - start));
    update->tv_sec = left / kSecond;
    update->tv_usec = (left % kSecond) / 1000;
  }
  return count;
}

}  // namespace tapsock::shim
