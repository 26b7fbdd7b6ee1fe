// Names of socket option levels and options, for the debug log ("which socket option did the
// program set?"): Linux's own macro names, or the number when it has none here.
#pragma once

#include <string>

namespace tapsock::shim {

std::string SockOptName(int level, int name);

}  // namespace tapsock::shim
