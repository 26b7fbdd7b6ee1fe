// The fault-tolerant copy (user_copy.h): one instruction that may fault, and where it resumes.
#include "stack/base/user_copy.h"

#include <signal.h>
#include <ucontext.h>

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)

// size_t tapsock_user_copy(void* dst, const void* src, size_t n): returns the bytes NOT copied.
// `rep movsb` is restartable: when it faults, rcx holds what is left, so the recovery point
// returns rcx.
asm(R"(
  .text
  .p2align 4
  .globl tapsock_user_copy
  .hidden tapsock_user_copy
  .type tapsock_user_copy, @function
tapsock_user_copy:
  movq %rdx, %rcx
  .globl tapsock_user_copy_insn
  .hidden tapsock_user_copy_insn
tapsock_user_copy_insn:
  rep movsb
  xorl %eax, %eax
  ret
  .globl tapsock_user_copy_fixup
  .hidden tapsock_user_copy_fixup
tapsock_user_copy_fixup:
  movq %rcx, %rax
  ret
  .size tapsock_user_copy, .-tapsock_user_copy
)");

extern "C" size_t tapsock_user_copy(void* dst, const void* src, size_t n);
extern "C" const char tapsock_user_copy_insn[];
extern "C" const char tapsock_user_copy_fixup[];

namespace tapsock {

size_t CopyFromUser(void* dst, const void* user_src, size_t n) { return n - tapsock_user_copy(dst, user_src, n); }
size_t CopyToUser(void* user_dst, const void* src, size_t n) { return n - tapsock_user_copy(user_dst, src, n); }

bool RecoverUserCopyFault(void* ucontext) {
  auto* uc = static_cast<ucontext_t*>(ucontext);
  greg_t& rip = uc->uc_mcontext.gregs[REG_RIP];
  if (rip != reinterpret_cast<greg_t>(tapsock_user_copy_insn)) return false;
  rip = reinterpret_cast<greg_t>(tapsock_user_copy_fixup);
  return true;
}

}  // namespace tapsock

#else

namespace tapsock {

size_t CopyFromUser(void* dst, const void* user_src, size_t n) {
  std::memcpy(dst, user_src, n);
  return n;
}
size_t CopyToUser(void* user_dst, const void* src, size_t n) {
  std::memcpy(user_dst, src, n);
  return n;
}
bool RecoverUserCopyFault(void*) { return false; }

}  // namespace tapsock

#endif
