// At exit, the connections the program closed still deliver what they hold. The kernel finishes a
// closed socket's sending after its process is gone; the private stack goes with the process, so
// exit() waits (at most TAPSOCK_EXIT_DRAIN ms, default 2000; 0: not at all) until every closed
// connection's data and FIN are acknowledged. _exit() and fatal signals do not wait.
#pragma once

namespace tapsock::shim {

// Registers the exit-time wait (with atexit: it runs before handlers registered earlier, such as
// the TAPSOCK_STATS=exit dump, so the counters include the drain).
void RegisterExitDrain();

}  // namespace tapsock::shim
