// The one place a stack Error becomes an errno (gVisor's TranslateNetstackError, lwIP's
// err_to_errno_table). Errors are set exactly once, at the shim's edge.
#pragma once

#include <cerrno>

#include "stack/base/result.h"

namespace tapsock::shim {

int ToErrno(Error e);

// Sets errno from `e` and returns -1, for `return Fail(e);` in the syscall layer.
inline int FailWith(int err) {
  errno = err;
  return -1;
}
inline int Fail(Error e) { return FailWith(ToErrno(e)); }

}  // namespace tapsock::shim
