#include "shim/exit_drain.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "shim/log.h"
#include "shim/runtime.h"

namespace tapsock::shim {

namespace {

constexpr long kDefaultDrainMs = 2000;
long g_drain_ms = kDefaultDrainMs;
pid_t g_owner = 0;  // a fork() child has no loop thread to drain with

bool StillSending(Runtime& rt) {
  MutexLock lock(rt.stack().mu());
  return rt.stack().tcp().ClosingWithDataLocked();
}

void DrainAtExit() {
  Runtime* rt = Runtime::IfStarted();
  if (!rt || !rt->ok() || g_drain_ms <= 0 || getpid() != g_owner) return;
  timespec step{0, 1'000'000};  // 1 ms: the loop thread does the work; this only watches
  long waited_us = 0;
  while (StillSending(*rt)) {
    if (waited_us >= g_drain_ms * 1000) {
      TS_LOG_WARN("exit: closed connections still had data or a FIN unacknowledged after {} ms", g_drain_ms);
      return;
    }
    nanosleep(&step, nullptr);
    waited_us += 1000;
  }
}

}  // namespace

void RegisterExitDrain() {
  if (const char* v = getenv("TAPSOCK_EXIT_DRAIN"); v && *v) {
    char* end;
    long ms = strtol(v, &end, 10);
    if (*end == '\0' && ms >= 0) g_drain_ms = ms;
    else TS_LOG_WARN("TAPSOCK_EXIT_DRAIN={} is not a number of milliseconds; using {}", v, kDefaultDrainMs);
  }
  g_owner = getpid();
  atexit(DrainAtExit);
}

}  // namespace tapsock::shim
