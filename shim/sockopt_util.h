// Linux's rules for option values, shared by the SOL_SOCKET, SOL_IP, SOL_IPV6 and SOL_TCP code:
// how an int is read from a caller's buffer and written back into one.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shim/errno_map.h"
#include "shim/user_memory.h"

namespace tapsock::shim {

// sock_getsockopt for an int: truncated to the caller's length, which is set to what was written.
inline int PutInt(int value, void* val, socklen_t* len) {
  if (BadPointer(len)) return FailWith(EFAULT);
  int n = static_cast<int>(*len);
  if (n < 0) return FailWith(EINVAL);
  n = std::min<int>(n, sizeof(int));
  if (BadBuffer(val, n)) return FailWith(EFAULT);
  if (n > 0) std::memcpy(val, &value, n);  // a zero length may come with a null pointer
  *len = n;
  return 0;
}

// do_ip_getsockopt for an int: a caller with room for less than an int gets one byte when the
// value fits in one.
inline int PutIpInt(int value, void* val, socklen_t* len) {
  if (BadPointer(len)) return FailWith(EFAULT);
  int n = static_cast<int>(*len);
  if (n < 0) return FailWith(EINVAL);
  if (n > 0 && n < static_cast<int>(sizeof(int)) && value >= 0 && value <= 255) {
    if (BadPointer(val)) return FailWith(EFAULT);
    *static_cast<unsigned char*>(val) = static_cast<unsigned char>(value);
    *len = 1;
    return 0;
  }
  return PutInt(value, val, len);
}

// sock_setsockopt reads a whole int; do_ip_setsockopt also takes a single byte.
inline int GetInt(const void* val, socklen_t len, bool allow_char, int* out) {
  if (static_cast<int>(len) < 0) return EINVAL;
  if (len >= sizeof(int)) {
    if (BadPointer(val)) return EFAULT;
    std::memcpy(out, val, sizeof(int));
    return 0;
  }
  if (allow_char && len >= 1) {
    if (BadPointer(val)) return EFAULT;
    *out = *static_cast<const unsigned char*>(val);
    return 0;
  }
  return EINVAL;
}

}  // namespace tapsock::shim
