// Debug-level log lines about TCP connections, from the stack's events (stack/registration.h,
// TcpEvent). Each names the connection by the id `tapsock stat` shows, then its addresses:
//   c17 198.18.0.2:40000 -> 198.18.0.1:80 SYN-SENT -> ESTABLISHED
//   c17 198.18.0.2:40000 -> 198.18.0.1:80 retransmission timeout 2 in ESTABLISHED, rto 800 ms
//   c17 198.18.0.2:40000 -> 198.18.0.1:80 RST received in ESTABLISHED
//   c- 198.18.0.2:81 -> 198.18.0.1:40001 RST sent (no connection)      (trace level: per segment)
// so `grep -w c17` follows one connection through the log. Costs one relaxed atomic load per
// event when debug logging is off. Thread-safe (runs under the stack lock, like every observer).
#pragma once

#include "stack/registration.h"

namespace tapsock::shim {

// The process's one connection logger, to install with Stack::SetEventObserver.
StackEventObserver* ConnectionLogger();

}  // namespace tapsock::shim
