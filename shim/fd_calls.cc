// Calls that create, copy or destroy fds. They run for every fd, not only stack sockets: a close()
// must forget a socket, a dup() must share it, and the library's own fds must survive a program
// that closes everything.
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "shim/calls.h"
#include "shim/errno_map.h"
#include "shim/fd_table.h"
#include "shim/libc.h"
#include "shim/log.h"
#include "shim/runtime.h"

namespace tapsock::shim {

namespace {

bool IsLibraryFd(int fd) {
  Runtime* rt = Runtime::IfStarted();
  return rt && rt->IsLibraryFd(fd);
}

// After the kernel made `newfd` a copy of `oldfd`: the table says the same.
void MirrorDup(int oldfd, int newfd) {
  FdTable& table = FdTable::Get();
  SocketRef s = table.Acquire(oldfd);
  if (s) {
    s->Ref();
    table.Install(newfd, &*s);
  } else {
    table.Forget(newfd);
  }
}

}  // namespace

int AfterFdCreated(int fd) {
  if (fd >= 0) FdTable::Get().Forget(fd);
  return fd;
}

int Close(int fd) {
  // The program never opened the library's fds: to it they are not open.
  if (IsLibraryFd(fd)) return FailWith(EBADF);
  FdTable& table = FdTable::Get();
  if (!table.IsSocket(fd)) return Real().close(fd);  // the hot path: one atomic load
  SocketRef table_ref = table.Remove(fd);
  if (table_ref && table_ref->is_tcp()) TS_LOG_DEBUG("fd {}: c{} closed", fd, table_ref->tcp().id());
  return Real().close(fd);  // the socket itself goes when its last reference does
}

int CloseRange(unsigned first, unsigned last, int flags) {
  Runtime* rt = Runtime::IfStarted();
  if (first > last) return FailWith(EINVAL);
  // Close around the library's fds, one sub-range at a time.
  unsigned from = first;
  auto close_span = [&](unsigned a, unsigned b) -> int {
    if (a > b) return 0;
    if (!(flags & CLOSE_RANGE_CLOEXEC)) {
      FdTable& table = FdTable::Get();
      unsigned top = b < table.size() ? b : table.size() - 1;
      for (unsigned fd = a; fd <= top && fd >= a; ++fd) table.Forget(static_cast<int>(fd));
    }
    return Real().close_range(a, b, flags);
  };
  if (rt) {
    std::vector<int> own = rt->library_fds();
    std::sort(own.begin(), own.end());
    for (int fd : own) {
      unsigned u = static_cast<unsigned>(fd);
      if (u < from || u > last) continue;
      if (u > from && close_span(from, u - 1) < 0) return -1;
      from = u + 1;
    }
  }
  if (from <= last && from >= first) return close_span(from, last);
  return 0;
}

int Dup(int fd) {
  int nfd = Real().dup(fd);
  if (nfd >= 0) MirrorDup(fd, nfd);
  return nfd;
}

int Dup3(int oldfd, int newfd, int flags, bool is_dup2) {
  if (IsLibraryFd(newfd)) return FailWith(EBADF);  // documented: the library's fds are taken
  int rc = is_dup2 ? Real().dup2(oldfd, newfd) : Real().dup3(oldfd, newfd, flags);
  if (rc >= 0 && oldfd != newfd) MirrorDup(oldfd, newfd);
  return rc;
}

int Fcntl(int fd, int cmd, void* arg, bool is64) {
  (void)is64;
  int rc = Real().fcntl(fd, cmd, arg);
  if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) MirrorDup(fd, rc);
  if (rc >= 0 && (cmd == F_SETOWN || cmd == F_SETOWN_EX)) {  // SIGURG goes to the new owner
    if (SocketRef s = FdTable::Get().Acquire(fd)) s->ReadOwner(fd);
  }
  return rc;
}

}  // namespace tapsock::shim
