// Which process is calling, for the one-process stack (until the stack is shared by a host's
// processes, docs/architecture.md "Processes"). The process that started the stack runs it. A
// fork() child holds a copy of the stack that it must never run: the copy would submit on the
// parent's io_uring and write to the parent's TAP, so its calls on inherited stack sockets fail
// with ENETDOWN, said once on stderr, and its closes drop the copy without touching the stack. A
// vfork() child (posix_spawn, and subprocess modules that vfork) shares the parent's memory, so
// the fd table it sees is the parent's: it must not change it, whatever the child closes or dups.
#pragma once

#include <sys/types.h>

#include <atomic>

namespace tapsock::shim::process {

namespace internal {
extern bool g_fork_child;                 // this memory is a fork() child's copy
extern std::atomic<pid_t> g_memory_owner; // the process whose memory (and fd table) this is
}  // namespace internal

// At load: notes this process as the owner of its memory and registers an atfork child handler
// that does the same for every fork() child.
void Init();
// From the runtime's atfork child handler: the stack was running at fork(), so this child holds
// a copy of it.
void MarkStackInherited();

// One load: true in a fork() child of the process that started the stack.
inline bool InForkChild() { return internal::g_fork_child; }

// One getpid() system call: true in a vfork() or clone(CLONE_VM) child, which shares its parent's
// memory. For fd-table changes only, never on the data path.
bool SharesParentMemory();

// Fails a call on an inherited stack socket (fd >= 0), or a new one (fd < 0), in a fork() child:
// errno ENETDOWN, and the first time a line on stderr that says why. Returns -1.
int RefuseInherited(int fd);

}  // namespace tapsock::shim::process
