#include "shim/fd_table.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include "shim/process.h"

namespace tapsock::shim {

FdTable& FdTable::Get() {
  static FdTable* table = new FdTable();  // never destroyed: calls may run during exit
  return *table;
}

FdTable::FdTable() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t n = rl.rlim_max == RLIM_INFINITY ? (1u << 20) : rl.rlim_max;
  if (n > (1u << 20)) n = 1u << 20;
  void* mem = mmap(nullptr, n * sizeof(std::atomic<Socket*>), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem != MAP_FAILED) {  // zero pages are null pointers
    slots_ = static_cast<std::atomic<Socket*>*>(mem);
    size_ = static_cast<unsigned>(n);
  }
}

SocketRef FdTable::Acquire(int fd) {
  if (!IsSocket(fd)) return SocketRef();
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = slots_[fd].load(std::memory_order_relaxed);
  if (!s) return SocketRef();
  s->Ref();
  return SocketRef(s);
}

void FdTable::Install(int fd, Socket* s) {
  // A vfork() child shares our memory but not our fds: its fd numbers are not ours to record.
  if (process::SharesParentMemory()) {
    SocketRef dropped(s);
    return;
  }
  Socket* old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = slots_[fd].exchange(s, std::memory_order_acq_rel);
    if (static_cast<unsigned>(fd) >= end_) end_ = static_cast<unsigned>(fd) + 1;
  }
  if (old) old->Unref();
}

std::vector<std::pair<int, SocketRef>> FdTable::ListSockets() {
  std::vector<std::pair<int, SocketRef>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (unsigned fd = 0; fd < end_; ++fd) {
    Socket* s = slots_[fd].load(std::memory_order_relaxed);
    if (!s) continue;
    s->Ref();
    out.emplace_back(static_cast<int>(fd), SocketRef(s));
  }
  return out;
}

SocketRef FdTable::Remove(int fd) {
  if (static_cast<unsigned>(fd) >= size_) return SocketRef();
  // What a vfork() child closes is closed for it alone; the table is its parent's.
  if (process::SharesParentMemory()) return SocketRef();
  std::lock_guard<std::mutex> lock(mu_);
  return SocketRef(slots_[fd].exchange(nullptr, std::memory_order_acq_rel));
}

}  // namespace tapsock::shim
