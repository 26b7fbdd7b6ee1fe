// The control socket: lets another process read this process's stack (`tapsock stat PID`) and
// change its log level (`tapsock log PID LEVEL`).
//
// A UNIX stream socket at a filesystem path, so it can be reached from any network namespace:
//   $TAPSOCK_CONTROL_DIR/<pid>.sock            when TAPSOCK_CONTROL_DIR is set;
//   /run/tapsock/<pid>.sock                    when /run/tapsock can be created and written (root);
//   ${XDG_RUNTIME_DIR:-/tmp}/tapsock-<euid>/<pid>.sock   otherwise (the directory 0700, ours).
// The socket is 0600 and a peer must be root or of our effective uid (SO_PEERCRED). Created when
// the runtime starts (processes that use the stack only), unlinked at exit; TAPSOCK_CONTROL=0
// turns it off. `tapsock stat` removes sockets left behind by processes that died.
//
// Protocol: the client sends one line, gets one answer, and the connection closes.
//   stat          -> the JSON document of shim/stat_json.h
//   level         -> the log level's name ("warn")
//   log LEVEL     -> sets the log level (off, error, warn, info, debug, trace): "ok" or "error: ..."
// Every answer ends with a newline.
//
// Threading: a detached library thread ("tapsock-ctl") with every signal blocked serves one
// request at a time. For `stat` it takes the fd-table mutex to reference the sockets, then the
// stack lock only to copy the snapshot (TakeSnapshotLocked), and formats after releasing both.
// Its fds (listening and per-request) are library fds above the fd floor. A fork() child has no
// control thread: it inherits the listening fd (close-on-exec) but never accepts on it, and does
// not unlink the parent's path at its exit; `tapsock stat CHILD` reports no control socket.
#pragma once

#include <string>
#include <string_view>

namespace tapsock::shim {

class Runtime;
struct Config;

namespace control {

// Creates the socket and starts the thread, unless config.control is off. A failure is logged as
// a warning and changes nothing else: the program runs on without a control socket.
void Start(Runtime& rt, const Config& config);

// The answer to one request line (without its newline).
std::string Answer(Runtime& rt, std::string_view request);

// The `stat` answer: the JSON document.
std::string StatJson(Runtime& rt);

}  // namespace control
}  // namespace tapsock::shim
