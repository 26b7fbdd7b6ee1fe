// SOL_TCP options of a stack stream socket (sockopt_tcp.cc).
#pragma once

#include <sys/socket.h>

#include "shim/socket.h"

namespace tapsock::shim {

int SetTcpLevel(Socket& s, int name, const void* val, socklen_t len);
int GetTcpLevel(Socket& s, int name, void* val, socklen_t* len);

}  // namespace tapsock::shim
