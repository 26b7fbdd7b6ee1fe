// The fd-to-socket table: which fd numbers are stack sockets.
//
// One slot per possible fd, in a lazily touched anonymous mapping sized by RLIMIT_NOFILE's hard
// limit, so the question every interposed call asks first -- "is this fd ours?" -- is one atomic
// load. Slots change under a mutex; a call that finds a socket takes a reference under the same
// mutex, so a concurrent close() cannot free the socket under it.
//
// glibc closes fds behind our back (fclose, the resolver, close_range): a slot may outlive its fd.
// Every fd-creating call the shim sees (socket, socketpair, dup*) clears the slot of the number the
// kernel returns, the defence libvma and socket_wrapper use.
#pragma once

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "shim/socket.h"

namespace tapsock::shim {

class FdTable {
 public:
  static FdTable& Get();

  // The fast path: nullptr for any fd that is not a stack socket.
  bool IsSocket(int fd) const {
    return static_cast<unsigned>(fd) < size_ && slots_[fd].load(std::memory_order_acquire);
  }
  // A reference to the socket behind fd, or an empty ref.
  SocketRef Acquire(int fd);
  // fd now names `s`, whose reference the table takes over. A stale socket there is released.
  void Install(int fd, Socket* s);
  // Forgets fd; returns the table's reference to the caller (empty when fd was not a socket).
  SocketRef Remove(int fd);
  // The kernel just handed out `fd` for something else: drop a stale entry.
  void Forget(int fd) {
    if (IsSocket(fd)) Remove(fd);
  }
  unsigned size() const { return size_; }
  // Every fd that names a stack socket, with a reference each (for `tapsock stat`, which maps
  // endpoints to fd numbers). Scans up to the highest fd ever installed, under the mutex. Drop
  // the references without holding the stack lock: the last one closes the socket.
  std::vector<std::pair<int, SocketRef>> ListSockets();

 private:
  FdTable();
  std::atomic<Socket*>* slots_ = nullptr;
  unsigned size_ = 0;
  unsigned end_ = 0;  // one past the highest fd ever installed (under mu_)
  std::mutex mu_;
};

}  // namespace tapsock::shim
