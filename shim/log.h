// Process-wide logging for the shim, on spdlog.
//
// TAPSOCK_LOG (off, error, warn, info, debug, trace; default warn) sets the level and
// TAPSOCK_LOG_FILE (default stderr) the destination. Every line is one write(2):
//   [12:34:56.789 tapsock <pid> <tid> <W>] message     (time of day in UTC)
//
// The TS_LOG_* macros cost one relaxed atomic load and a compare when their level is disabled; the
// arguments are then not evaluated. When enabled they format with fmt, never throw and never change
// errno, so they may be used anywhere in the shim, including before Init() (the first message
// initialises lazily) and while errno holds a result for the application.
//
// Not async-signal-safe: never log from a signal handler (shim/crash.cc writes with write(2)).
// Thread-safe: all functions may be called from any thread.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <utility>

namespace tapsock::log {

// Levels, numerically equal to spdlog::level::level_enum (checked in log.cc).
inline constexpr int kTrace = 0;
inline constexpr int kDebug = 1;
inline constexpr int kInfo = 2;
inline constexpr int kWarn = 3;
inline constexpr int kError = 4;
inline constexpr int kOff = 6;

// Reads TAPSOCK_LOG and TAPSOCK_LOG_FILE and opens the log file. Idempotent and thread-safe. Uses
// getenv and open(2) only and allocates nothing, so it is safe in a library constructor; the
// spdlog logger itself is built on the first message that is actually written.
void Init() noexcept;

// The current threshold: messages below it are dropped. SetLevel clamps to [kTrace, kOff].
void SetLevel(int level) noexcept;
int Level() noexcept;
// "off", "error", "warn", "info", "debug", "trace" (any case) -> *level; false for anything else.
bool LevelFromName(const char* name, int* level) noexcept;
// The name of a level ("warn"), as TAPSOCK_LOG spells it.
const char* NameOfLevel(int level) noexcept;

// Call in the child after fork() (from a pthread_atfork child handler). Async-signal-safe.
void AfterForkChild() noexcept;

// The log file's fd, or -1 when logging to stderr (the runtime protects it from close()).
int FileFd() noexcept;

// Logs at info, on one line, the TAPSOCK_* variables set in the environment.
void Banner() noexcept;

namespace internal {

// Before Init() the threshold lets every message through to Write(), which initialises first.
inline constexpr int kUninitialised = INT_MIN;
inline std::atomic<int> g_threshold{kUninitialised};

void Emit(int level, fmt::string_view message) noexcept;

template <typename... Args>
[[gnu::cold, gnu::noinline]] void Write(int level, fmt::format_string<Args...> format,
                                        Args&&... args) noexcept {
  const int saved_errno = errno;
  if (g_threshold.load(std::memory_order_relaxed) == kUninitialised) {
    Init();
  }
  if (level >= g_threshold.load(std::memory_order_relaxed)) {
    fmt::basic_memory_buffer<char, 256> message;  // on the stack unless the line is long
    fmt::format_to(fmt::appender(message), format, std::forward<Args>(args)...);
    Emit(level, fmt::string_view(message.data(), message.size()));
  }
  errno = saved_errno;
}

}  // namespace internal
}  // namespace tapsock::log

#define TS_LOG_AT_(level, ...)                                                              \
  do {                                                                                      \
    if ((level) >= ::tapsock::log::internal::g_threshold.load(std::memory_order_relaxed)) { \
      ::tapsock::log::internal::Write((level), __VA_ARGS__);                                \
    }                                                                                       \
  } while (0)

#define TS_LOG_ERROR(...) TS_LOG_AT_(::tapsock::log::kError, __VA_ARGS__)
#define TS_LOG_WARN(...) TS_LOG_AT_(::tapsock::log::kWarn, __VA_ARGS__)
#define TS_LOG_INFO(...) TS_LOG_AT_(::tapsock::log::kInfo, __VA_ARGS__)
#define TS_LOG_DEBUG(...) TS_LOG_AT_(::tapsock::log::kDebug, __VA_ARGS__)
#define TS_LOG_TRACE(...) TS_LOG_AT_(::tapsock::log::kTrace, __VA_ARGS__)
