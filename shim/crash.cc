// Fatal-signal handler: report, then chain to the program's previous disposition.
//
// Everything reachable from Handler() must be async-signal-safe: no malloc, no stdio, no locks, no
// spdlog or fmt. Output goes through sys::WriteAll (write(2) by syscall(), bypassing the shim's
// own interposed write()) from a fixed buffer on the stack, and numbers are formatted by hand.
// libunwind's unw_init_local2, unw_step, unw_get_reg and unw_get_proc_name are documented safe in a
// signal handler for local cursors; they can still hang if the crash happened inside the dynamic
// loader while it held its lock (libunwind calls dl_iterate_phdr), a risk every in-process
// unwinder shares.
//
// Choices, against the alternatives:
//  - No SA_NODEFER, and all five signals in sa_mask: a fault inside the handler hits a blocked
//    signal, which the kernel turns into the default action, killing the process at once. Should
//    the handler still be re-entered on the thread that is reporting, the g_reporting_tid guard
//    sends it straight to SIG_DFL and raise(). A crash on another thread waits for the report.
//  - No SA_RESETHAND: the handler restores the saved previous disposition itself, then calls a
//    previous handler directly, or re-raises with SIG_DFL. The raised signal stays pending while
//    the handler runs (it is blocked) and is delivered on return, with the registers of the fault.
//  - A previous SIG_IGN is honoured for signals sent by kill() from elsewhere. For faults (the
//    kernel forces the default action on an ignored fault anyway) and for the process's own
//    abort(), the signal is re-raised with SIG_DFL.
#include "shim/crash.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "stack/base/user_copy.h"
#include "stack/base/sys.h"

namespace tapsock::crash {
namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr int kMaxFrames = 64;
constexpr size_t kAltStackSize = 64 * 1024;  // libunwind needs a few KiB; SIGSTKSZ is too tight
constexpr int kWaitForOtherThreadMs = 5000;

std::atomic<bool> g_installed{false};
struct sigaction g_previous[NSIG];      // what InstallHandler replaced, by signal number
std::atomic<pid_t> g_reporting_tid{0};  // the thread writing a report, or 0

// One output line, built on the stack; overlong lines are truncated.
class Line {
 public:
  Line& Str(const char* s) noexcept {
    while (*s != '\0' && size_ < sizeof(buf_)) buf_[size_++] = *s++;
    return *this;
  }
  Line& Dec(uint64_t value) noexcept {
    char digits[20];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + value % 10);
    while ((value /= 10) != 0);
    while (n > 0 && size_ < sizeof(buf_)) buf_[size_++] = digits[--n];
    return *this;
  }
  Line& Hex(uint64_t value) noexcept {
    char digits[16];
    int n = 0;
    do digits[n++] = "0123456789abcdef"[value & 0xf];
    while ((value >>= 4) != 0);
    Str("0x");
    while (n > 0 && size_ < sizeof(buf_)) buf_[size_++] = digits[--n];
    return *this;
  }
  void WriteTo(int fd) noexcept {
    if (size_ == sizeof(buf_)) buf_[size_ - 1] = '\n';  // keep the line ending when truncated
    (void)sys::WriteAll(fd, buf_, size_);
    size_ = 0;
  }

 private:
  char buf_[384];
  size_t size_ = 0;
};

const char* SignalName(int sig) noexcept {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "?";
  }
}

void WriteFrames(int fd, unw_cursor_t* cursor) noexcept {
  for (int frame = 0; frame < kMaxFrames; ++frame) {
    unw_word_t ip = 0;
    unw_get_reg(cursor, UNW_REG_IP, &ip);
    Line line;
    line.Str("  #").Dec(static_cast<uint64_t>(frame)).Str(" ").Hex(ip);
    char name[256];
    unw_word_t offset = 0;
    const int rc = unw_get_proc_name(cursor, name, sizeof(name), &offset);
    if (rc == 0 || rc == -UNW_ENOMEM) {  // ENOMEM: the name was truncated to fit
      name[sizeof(name) - 1] = '\0';
      line.Str(" in ").Str(name).Str("+").Hex(offset);
    } else {
      line.Str(" in ??");
    }
    line.Str("\n").WriteTo(fd);
    if (unw_step(cursor) <= 0) return;
  }
  Line().Str("  ... (stopped after ").Dec(kMaxFrames).Str(" frames)\n").WriteTo(fd);
}

void Report(int sig, const siginfo_t* info, void* ucontext, pid_t tid) noexcept {
  Line header;
  header.Str("tapsock: fatal signal ").Dec(static_cast<uint64_t>(sig));
  header.Str(" (").Str(SignalName(sig)).Str(")");
  if (info->si_code > 0) {  // raised by the kernel for a fault: si_addr is meaningful
    header.Str(" at address ").Hex(reinterpret_cast<uintptr_t>(info->si_addr));
  } else {  // sent by kill(), raise() or abort(): si_addr overlays the sender's pid
    header.Str(" sent by pid ").Dec(static_cast<uint64_t>(info->si_pid));
  }
  header.Str(" in pid ").Dec(static_cast<uint64_t>(getpid()));
  header.Str(" tid ").Dec(static_cast<uint64_t>(tid)).Str("\n").WriteTo(STDERR_FILENO);

  // Start at the interrupted instruction, not in this handler: on x86-64 and aarch64 Linux,
  // libunwind's unw_context_t is the kernel's ucontext_t.
  unw_cursor_t cursor;
  if (unw_init_local2(&cursor, static_cast<unw_context_t*>(ucontext), UNW_INIT_SIGNAL_FRAME) != 0) {
    Line().Str("  (no backtrace: libunwind could not start)\n").WriteTo(STDERR_FILENO);
    return;
  }
  WriteFrames(STDERR_FILENO, &cursor);
}

// Waits, in a thread that crashed while another one is reporting, for that report to finish:
// printing both at once would interleave them. Returns false on timeout.
bool WaitForOtherReport(pid_t tid) noexcept {
  const timespec tick = {0, 10 * 1000 * 1000};
  for (int ms = 0; ms < kWaitForOtherThreadMs; ms += 10) {
    pid_t idle = 0;
    if (g_reporting_tid.compare_exchange_strong(idle, tid)) return true;
    nanosleep(&tick, nullptr);
  }
  return false;
}

void Handler(int sig, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
  const pid_t tid = gettid();
  const struct sigaction& previous = g_previous[sig];
  const bool sent_by_kill = info->si_code <= 0 && !(sig == SIGABRT && info->si_pid == getpid());
  if (previous.sa_handler == SIG_IGN && sent_by_kill) {
    errno = saved_errno;  // the program ignores this signal; keep ignoring it
    return;
  }
  // A copy from or to the program's memory hit a bad page: the copy returns short, and the call
  // fails with EFAULT as Linux's does (stack/base/user_copy.h). No other fault is recovered.
  if ((sig == SIGSEGV || sig == SIGBUS) && !sent_by_kill && RecoverUserCopyFault(ucontext)) {
    errno = saved_errno;
    return;
  }

  pid_t owner = 0;
  const bool reentered = !g_reporting_tid.compare_exchange_strong(owner, tid) && owner == tid;
  if (!reentered && (owner == 0 || WaitForOtherReport(tid))) {
    Report(sig, info, ucontext, tid);
    g_reporting_tid.store(0);  // before chaining, which may never return here (siglongjmp)
  }

  // Re-entered: the report itself crashed, so trust nothing and die by the default action.
  if (!reentered) sigaction(sig, &previous, nullptr);  // as if we had never been installed
  errno = saved_errno;
  if (!reentered && previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    if ((previous.sa_flags & SA_SIGINFO) != 0) {
      previous.sa_sigaction(sig, info, ucontext);
    } else {
      previous.sa_handler(sig);
    }
    return;
  }
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  sigaction(sig, &default_action, nullptr);
  raise(sig);  // pending until this handler returns, then fatal
  errno = saved_errno;
}

void InstallAltStack() noexcept {
  stack_t current;
  if (sigaltstack(nullptr, &current) != 0 || (current.ss_flags & SS_DISABLE) == 0) {
    return;  // the program (or a sanitizer) has set up its own
  }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t size = kAltStackSize;
#ifdef _SC_SIGSTKSZ
  const long minimum = sysconf(_SC_SIGSTKSZ);  // grows with the CPU's register state (AVX-512, AMX)
  if (minimum > 0 && static_cast<size_t>(minimum) * 4 > size)
    size = static_cast<size_t>(minimum) * 4;
#endif
  size = (size + page - 1) / page * page;
  // One extra page below the stack, left inaccessible, so overflowing it faults rather than
  // overwriting whatever is mapped there. Never unmapped: the kernel may switch to it at any time.
  void* memory = mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (memory == MAP_FAILED) return;
  mprotect(memory, page, PROT_NONE);
  stack_t stack = {};
  stack.ss_sp = static_cast<char*>(memory) + page;
  stack.ss_size = size;
  if (sigaltstack(&stack, nullptr) != 0) munmap(memory, size + page);
}

}  // namespace

void InstallHandler() noexcept {
  if (g_installed.exchange(true)) return;
  const int saved_errno = errno;
  // The alternate stack is per thread: only this one gets it. On other threads the handler runs on
  // the thread's own stack (unless the program gave them one), so an overflow there dies
  // unreported.
  InstallAltStack();
  struct sigaction action = {};
  action.sa_sigaction = Handler;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int sig : kFatalSignals) sigaddset(&action.sa_mask, sig);
  for (int sig : kFatalSignals) {
    // Save first, then install, so the handler never sees a half-written g_previous entry.
    if (sigaction(sig, nullptr, &g_previous[sig]) == 0) sigaction(sig, &action, nullptr);
  }
  errno = saved_errno;
}

[[gnu::noinline]] void WriteBacktrace(int fd) noexcept {
  const int saved_errno = errno;
  unw_context_t context;
  unw_cursor_t cursor;
  if (unw_getcontext(&context) == 0 && unw_init_local(&cursor, &context) == 0 &&
      unw_step(&cursor) > 0) {  // skip this function's own frame
    WriteFrames(fd, &cursor);
  }
  errno = saved_errno;
}

}  // namespace tapsock::crash
