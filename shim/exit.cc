#include "shim/exit.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#include "shim/fd_table.h"
#include "shim/log.h"
#include "shim/runtime.h"
#include "shim/stats_dump.h"

namespace tapsock::shim {

namespace {

constexpr long kDefaultDrainMs = 2000;
long g_drain_ms = kDefaultDrainMs;
bool g_dump_stats = false;

size_t Backlog(Runtime& rt) {
  MutexLock lock(rt.stack().mu());
  return rt.stack().tcp().ClosingBacklogLocked();
}

// Waits for the loop thread to deliver what closed connections hold (it does the work, this only
// watches), for as long as the peers keep acknowledging: gives up after g_drain_ms without
// progress, as a slow reader may take a while but a gone one never answers.
void Drain(Runtime& rt) {
  timespec step{0, 1'000'000};
  size_t last = Backlog(rt);
  for (long idle_ms = 0; last > 0; ++idle_ms) {
    if (idle_ms >= g_drain_ms) {
      TS_LOG_WARN("exit: closed connections still had {} bytes or FINs unacknowledged after {} ms without progress",
                  last, g_drain_ms);
      return;
    }
    nanosleep(&step, nullptr);
    size_t now = Backlog(rt);
    if (now < last) idle_ms = 0;
    last = now;
  }
}

void AtExit() {
  Runtime* rt = Runtime::IfStarted();
  if (!rt || !rt->ok() || getpid() != rt->owner_pid()) return;
  if (g_drain_ms > 0) {
    // Close what the program left open, as the kernel does at exit (a thread still inside a call
    // on one keeps it until it returns).
    FdTable& table = FdTable::Get();
    for (auto& [fd, ref] : table.ListSockets()) table.Remove(fd);
    Drain(*rt);
  }
  if (g_dump_stats) DumpStats(*rt);
}

}  // namespace

void RegisterExitHandler() {
  if (const char* v = getenv("TAPSOCK_EXIT_DRAIN"); v && *v) {
    char* end;
    long ms = strtol(v, &end, 10);
    if (*end == '\0' && ms >= 0) g_drain_ms = ms;
    else TS_LOG_WARN("TAPSOCK_EXIT_DRAIN={} is not a number of milliseconds; using {}", v, kDefaultDrainMs);
  }
  const char* stats = getenv("TAPSOCK_STATS");
  g_dump_stats = stats && std::strcmp(stats, "exit") == 0;
  atexit(AtExit);
}

}  // namespace tapsock::shim
