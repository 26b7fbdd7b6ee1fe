// Sleeping in the kernel until a stack socket can make progress. Two channels, so that neither
// direction spins while the other is ready:
//   - readable (or error, or hang-up): the placeholder holds a token (socket.h); a reader sleeps
//     in recv() on it, so O_NONBLOCK, SO_RCVTIMEO, EINTR and SA_RESTART are the kernel's own;
//   - writable: the thread's own eventfd, registered on the socket while it waits and signalled
//     when the socket becomes writable; a blocking read() on it is restartable like a socket
//     wait, and SO_SNDTIMEO bounds it with ppoll (a timed wait returns EINTR, as Linux's does).
#pragma once

#include "shim/socket.h"

namespace tapsock::shim {

enum class WaitFor { kRead, kWrite };

// 0: look again (something happened); -1 with errno: EAGAIN (O_NONBLOCK or the timeout) or EINTR.
int WaitForToken(Socket& s, int fd, WaitFor what);
bool IsNonBlocking(int fd);
// This thread's wake eventfd (created on first use, close-on-exec, among the library's fds).
int ThreadWakeFd();

}  // namespace tapsock::shim
