// fork() and vfork() children of the process that runs the stack (shim/process.h).
#include "shim/process.h"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "shim/log.h"
#include "stack/base/sys.h"

namespace tapsock::shim::process {

namespace internal {
bool g_fork_child = false;
std::atomic<pid_t> g_memory_owner{0};
}  // namespace internal

namespace {
std::atomic<bool> g_refusal_said{false};
pid_t Getpid() { return static_cast<pid_t>(syscall(SYS_getpid)); }
}  // namespace

void Init() {
  internal::g_memory_owner.store(Getpid(), std::memory_order_relaxed);
  pthread_atfork(nullptr, nullptr, [] { internal::g_memory_owner.store(Getpid(), std::memory_order_relaxed); });
}

void MarkStackInherited() {
  internal::g_fork_child = true;
  g_refusal_said.store(false, std::memory_order_relaxed);
}

bool SharesParentMemory() {
  return Getpid() != internal::g_memory_owner.load(std::memory_order_relaxed);
}

int RefuseInherited(int fd) {
  if (!g_refusal_said.exchange(true, std::memory_order_relaxed)) {
    std::string what = fd >= 0 ? "fd " + std::to_string(fd) + " is a socket inherited over fork()"
                               : "a new socket in a fork() child of the process that runs the stack";
    std::string line = "tapsock: pid " + std::to_string(Getpid()) + ": " + what +
                       "; the stack is not shared with child processes yet, so calls fail with ENETDOWN\n";
    (void)sys::WriteAll(2, line.data(), line.size());
    if (log::FileFd() >= 0) TS_LOG_WARN("{}: ENETDOWN", what);
  }
  errno = ENETDOWN;
  return -1;
}

}  // namespace tapsock::shim::process
