// What happens to the private stack when the program calls exit().
//
// The kernel closes a process's sockets when it is gone and then finishes them on its own: data
// still queued is sent, the FIN follows (a reset if unread data remains). The private stack goes
// with the process, so exit() does the same first: once every atexit handler of the program has
// run, the stack sockets still open are closed as the kernel would close them, and exit waits until
// every closed connection's data and FIN are acknowledged, for as long as the peers make progress:
// it gives up after TAPSOCK_EXIT_DRAIN ms (default 2000; 0: no closing, no wait) without any. Then TAPSOCK_STATS=exit prints the counters. _exit(), fatal signals and
// fork() children (which have no loop thread) do not wait.
#pragma once

namespace tapsock::shim {

// From the library constructor: registered before the program's own handlers, this one runs after
// them (atexit is last in, first out).
void RegisterExitHandler();

}  // namespace tapsock::shim
