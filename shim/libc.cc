#include "shim/libc.h"

#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

namespace tapsock::shim::internal {

Libc g_libc;
std::atomic<bool> g_libc_ready{false};

void ResolveLibc() noexcept {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (g_libc_ready.load(std::memory_order_relaxed)) return;
#define TAPSOCK_RESOLVE(name, ret, params)                                               \
  g_libc.name = reinterpret_cast<ret(*) params>(dlsym(RTLD_NEXT, #name));                \
  if (!g_libc.name) {                                                                    \
    static const char kMsg[] = "tapsock: cannot resolve libc function " #name "\n";      \
    (void)!::syscall(SYS_write, 2, kMsg, sizeof kMsg - 1);                               \
  }
  TAPSOCK_LIBC_FUNCTIONS(TAPSOCK_RESOLVE)
#undef TAPSOCK_RESOLVE
  g_libc_ready.store(true, std::memory_order_release);
}

}  // namespace tapsock::shim::internal
