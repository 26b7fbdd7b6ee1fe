// Copies to and from the program's memory without trusting it. A program may hand a socket call
// a buffer that is unmapped, PROT_NONE, read-only where the call writes, or that ends in a hole;
// Linux answers EFAULT or the partial count, never a signal. Checking every page first would cost
// a system call per call, so the copy itself may fault: it is one `rep movsb` whose fault the
// fatal-signal handler turns into an early return (RecoverUserCopyFault), the kernel's own
// exception-table technique for copy_from_user. Nothing else is ever recovered: a fault anywhere
// else reaches the crash report and the program's own handler as before.
//
// On architectures without the recovery (anything but x86_64 today) these are plain memcpy.
// Thread-safe; async-signal-safe.
#pragma once

#include <cstddef>

namespace tapsock {

// Copy n bytes; return how many were copied before a fault (n when none).
size_t CopyFromUser(void* dst, const void* user_src, size_t n);
size_t CopyToUser(void* user_dst, const void* src, size_t n);

// From a SIGSEGV/SIGBUS handler with its ucontext: if the fault is one of the copies above, makes
// the copy return early when the handler returns, and returns true. False for any other fault.
bool RecoverUserCopyFault(void* ucontext);

}  // namespace tapsock
