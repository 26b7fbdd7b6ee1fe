// Process-wide logging: configuration from the environment, and the one spdlog logger.
//
// The logger lives outside spdlog's global registry, so a host program with its own spdlog can
// neither see ours nor clash with it. Its single sink is FdSink below rather than spdlog's
// basic_file_sink_mt / stderr_sink_mt, for three reasons that matter inside an arbitrary program:
//  - with SPDLOG_NO_EXCEPTIONS, spdlog's file_helper printf()s to stdout and abort()s when a write
//    or flush fails (ENOSPC, EBADF after the host closed our fd), and when the file cannot be
//    opened (after creating its directories and retrying for 50 ms);
//  - stderr_sink_mt locks a process-wide static mutex, which a fresh sink in a forked child would
//    share, and it writes through the host's stderr FILE;
//  - a buffered FILE copied by fork() is flushed twice, once per process.
// FdSink is a base_sink<std::mutex> (exactly what spdlog's _mt sinks are) that formats the line
// and writes it with one write(2), ignoring failures. The file is opened with O_APPEND, so lines
// from a parent and its children interleave whole.
//
// Timestamps are UTC, computed by arithmetic (TimeFlag): spdlog's time flags call gmtime_r or
// localtime_r, and both take glibc's tzset_lock, which a fork() in another thread can leave held
// in the child (seen: the child's first line hung in __tz_convert).
#include "shim/log.h"

#include "stack/base/sys.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>

extern char** environ;

namespace tapsock::log {
namespace {

static_assert(kTrace == spdlog::level::trace && kDebug == spdlog::level::debug &&
              kInfo == spdlog::level::info && kWarn == spdlog::level::warn &&
              kError == spdlog::level::err && kOff == spdlog::level::off);

using internal::g_threshold;
using internal::kUninitialised;

// %T and %t are ours (TimeFlag, TidFlag); no built-in time flag may appear, see above.
constexpr char kPattern[] = "[%T tapsock %P %t %L] %v";

struct LevelName {
  const char* name;
  int level;
};
constexpr LevelName kLevelNames[] = {{"off", kOff},   {"error", kError}, {"warn", kWarn},
                                     {"info", kInfo}, {"debug", kDebug}, {"trace", kTrace}};

// Init() runs once: kNotStarted -> kRunning (one winner) -> kDone.
enum InitState : int { kNotStarted, kRunning, kDone };
std::atomic<int> g_init_state{kNotStarted};
std::atomic<int> g_fd{STDERR_FILENO};            // where lines go; owned by us unless it is stderr
std::atomic<spdlog::logger*> g_logger{nullptr};  // built on first use, never destroyed
thread_local pid_t t_tid = 0;                    // gettid() cache, reset in a forked child

// For the few lines printed before (or instead of) the logger: no allocation.
template <typename... Args>
void EarlyLine(fmt::format_string<Args...> format, Args&&... args) noexcept {
  char line[512];
  const auto result = fmt::format_to_n(line, sizeof(line) - 1, format, std::forward<Args>(args)...);
  const size_t size = result.size < sizeof(line) - 1 ? result.size : sizeof(line) - 1;
  line[size] = '\n';
  (void)sys::WriteAll(STDERR_FILENO, line, size + 1);
}

class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FdSink(int fd) : fd_(fd) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    (void)sys::WriteAll(fd_, line.data(), line.size());
  }
  void flush_() override {}  // every line is already written

 private:
  const int fd_;
};

// %t, replacing spdlog's: its thread-id cache is never reset, so a forked child would print the
// parent thread's id.
class TidFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_tid == 0) t_tid = gettid();
    spdlog::details::fmt_helper::append_int(t_tid, dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TidFlag>();
  }
};

// %T, replacing spdlog's: HH:MM:SS.mmm in UTC, without calling gmtime_r.
class TimeFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    using std::chrono::duration_cast, std::chrono::milliseconds;
    const auto ms =
        static_cast<uint64_t>(duration_cast<milliseconds>(msg.time.time_since_epoch()).count());
    const auto of_day = static_cast<int>(ms % 86'400'000);
    spdlog::details::fmt_helper::pad2(of_day / 3'600'000, dest);
    dest.push_back(':');
    spdlog::details::fmt_helper::pad2(of_day / 60'000 % 60, dest);
    dest.push_back(':');
    spdlog::details::fmt_helper::pad2(of_day / 1000 % 60, dest);
    dest.push_back('.');
    spdlog::details::fmt_helper::pad3(static_cast<unsigned>(of_day % 1000), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TimeFlag>();
  }
};

spdlog::logger* Logger() noexcept {
  spdlog::logger* logger = g_logger.load(std::memory_order_acquire);
  if (logger != nullptr) return logger;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<TimeFlag>('T').add_flag<TidFlag>('t').set_pattern(kPattern);
  auto* fresh = new spdlog::logger("tapsock", std::make_shared<FdSink>(g_fd.load()));
  fresh->set_formatter(std::move(formatter));
  fresh->set_level(spdlog::level::trace);  // filtering is g_threshold's job
  fresh->flush_on(spdlog::level::warn);    // a no-op with FdSink, kept should the sink change
  // Two threads may race to build the first logger; the loser's is discarded.
  if (g_logger.compare_exchange_strong(logger, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;
  return logger;
}

int ParseLevel(const char* value) noexcept {
  for (const LevelName& entry : kLevelNames) {
    if (strcasecmp(value, entry.name) == 0) return entry.level;
  }
  EarlyLine(
      "tapsock: TAPSOCK_LOG={} is not one of off, error, warn, info, debug, trace; using warn",
      value);
  return kWarn;
}

void OpenLogFile(const char* path) noexcept {
  const long fd =
      syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    // Out of the program's way, like the library's other fds (shim/runtime.h).
    g_fd.store(sys::MoveHigh(static_cast<int>(fd), sys::LibraryFdFloor()));
    return;
  }
  char reason[128];
  EarlyLine("tapsock: cannot open TAPSOCK_LOG_FILE={}: {}; logging to stderr", path,
            strerror_r(errno, reason, sizeof(reason)));
}

}  // namespace

void Init() noexcept {
  if (g_init_state.load(std::memory_order_acquire) == kDone) return;
  int state = kNotStarted;
  if (!g_init_state.compare_exchange_strong(state, kRunning, std::memory_order_acquire)) {
    while (g_init_state.load(std::memory_order_acquire) != kDone) sched_yield();  // microseconds
    return;
  }
  const int saved_errno = errno;
  const char* value = getenv("TAPSOCK_LOG");
  const int level = value != nullptr && *value != '\0' ? ParseLevel(value) : kWarn;
  const char* path = getenv("TAPSOCK_LOG_FILE");
  if (path != nullptr && *path != '\0') OpenLogFile(path);
  int expected = kUninitialised;  // a SetLevel() that raced with us wins
  g_threshold.compare_exchange_strong(expected, level, std::memory_order_relaxed);
  g_init_state.store(kDone, std::memory_order_release);
  errno = saved_errno;
}

void SetLevel(int level) noexcept {
  Init();
  g_threshold.store(level < kTrace ? kTrace
                    : level > kOff ? kOff
                                   : level,
                    std::memory_order_relaxed);
}

int Level() noexcept {
  Init();
  return g_threshold.load(std::memory_order_relaxed);
}

bool LevelFromName(const char* name, int* level) noexcept {
  for (const LevelName& entry : kLevelNames) {
    if (strcasecmp(name, entry.name) == 0) {
      *level = entry.level;
      return true;
    }
  }
  return false;
}

const char* NameOfLevel(int level) noexcept {
  for (const LevelName& entry : kLevelNames) {
    if (entry.level == level) return entry.name;
  }
  return level < kDebug ? "trace" : "off";  // SetLevel clamps; 5 (critical) is between error and off
}

void AfterForkChild() noexcept {
  // Another thread of the parent may have held the sink's mutex at fork(). That thread does not
  // exist in the child, so the mutex stays locked forever: locking it deadlocks and destroying it
  // is undefined. So the parent's logger is leaked, deliberately, and the next message builds a
  // new logger with a new mutex on the same fd, which the child inherited. The file is not
  // re-opened: the shared O_APPEND descriptor keeps whole lines from both processes, and costs the
  // child no extra fd per fork generation.
  g_logger.store(nullptr, std::memory_order_relaxed);
  t_tid = 0;
  int state = kRunning;  // Init() was in progress in a thread that the child does not have
  g_init_state.compare_exchange_strong(state, kNotStarted, std::memory_order_relaxed);
}

void Banner() noexcept {
  if (Level() > kInfo) return;
  const int saved_errno = errno;
  fmt::memory_buffer settings;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (strncmp(*entry, "TAPSOCK_", 8) != 0) continue;
    if (settings.size() != 0) settings.push_back(' ');
    settings.append(fmt::string_view(*entry));
  }
  if (settings.size() == 0) settings.append(fmt::string_view("all settings default"));
  TS_LOG_INFO("tapsock loaded in {} (pid {}): {}", program_invocation_short_name, getpid(),
              fmt::string_view(settings.data(), settings.size()));
  errno = saved_errno;
}

namespace internal {

void Emit(int level, fmt::string_view message) noexcept {
  Logger()->log(static_cast<spdlog::level::level_enum>(level),
                spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace internal
int FileFd() noexcept {
  int fd = g_fd.load();
  return fd == STDERR_FILENO ? -1 : fd;
}

}  // namespace tapsock::log
