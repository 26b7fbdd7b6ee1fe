// Crash reports: on a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT), print the signal and
// a backtrace of the faulting thread to stderr, then pass the signal on to the disposition the
// program had before us, so its own handler still runs and otherwise it dies by the same signal
// (with its core dump).
//
// Async-signal-safety: the handler and WriteBacktrace use only write(2), sigaction, raise and
// libunwind's local unwinding (documented signal-safe); no malloc, stdio, locks or spdlog. Names
// are printed mangled, since demangling allocates.
#pragma once

namespace tapsock::crash {

// Installs the handler once (later calls do nothing), and an alternate signal stack for the calling
// thread if it has none, so a stack overflow on that thread is reported too. Call it early, from
// the library constructor on the main thread: a handler the program installs later replaces ours,
// which is fine. Preserves errno.
void InstallHandler() noexcept;

// Writes the calling thread's backtrace (from the caller of WriteBacktrace) to fd, one frame a
// line: "  #N 0xIP in mangled_name+0xOFFSET". Async-signal-safe; preserves errno.
void WriteBacktrace(int fd) noexcept;

}  // namespace tapsock::crash
