// Result-or-error for every stack call. The stack never touches errno: the shim maps Error to errno
// exactly once, at its edge (shim/errno_map.cc), the way gVisor's TranslateNetstackError does.
#pragma once

#include <cassert>
#include <cstdint>
#include <utility>

namespace tapsock {

enum class Error : uint8_t {
  kOk = 0,
  kWouldBlock,              // EAGAIN
  kInvalidArgument,         // EINVAL
  kAddressInUse,            // EADDRINUSE
  kAddressNotAvailable,     // EADDRNOTAVAIL
  kAddressFamilyNotSupported,  // EAFNOSUPPORT
  kNetworkUnreachable,      // ENETUNREACH
  kHostUnreachable,         // EHOSTUNREACH
  kConnectionRefused,       // ECONNREFUSED
  kMessageTooLong,          // EMSGSIZE
  kNotConnected,            // ENOTCONN
  kDestinationRequired,     // EDESTADDRREQ
  kNoBufferSpace,           // ENOBUFS
  kBroadcastNotPermitted,   // EACCES
  kNoMemory,                // ENOMEM
  kNotSupported,            // EOPNOTSUPP
  kProtocolOption,          // ENOPROTOOPT
  kAlreadyConnected,        // EISCONN
  kNetworkDown,             // ENETDOWN
  kProtocolError,           // EPROTO
  kHostDown,                // EHOSTDOWN
  kNoNetwork,               // ENONET
  kInProgress,              // EINPROGRESS
  kAlreadyInProgress,       // EALREADY
  kBrokenPipe,              // EPIPE
  kConnectionReset,         // ECONNRESET
  kTimedOut,                // ETIMEDOUT
  kConnectionAborted,       // ECONNABORTED
  kNotFound,                // ENOENT
  kBadAddress,              // EFAULT: the program's buffer could not be copied (user_copy.h)
};

// A value or an Error; [[nodiscard]] so a failure can't be dropped silently.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)), error_(Error::kOk) {}  // NOLINT: implicit by design
  Result(Error error) : value_(), error_(error) { assert(error != Error::kOk); }  // NOLINT

  bool ok() const { return error_ == Error::kOk; }
  Error error() const { return error_; }
  T& value() {
    assert(ok());
    return value_;
  }
  const T& value() const {
    assert(ok());
    return value_;
  }

 private:
  T value_;
  Error error_;
};

// Status: a Result with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(error) {}  // NOLINT: implicit by design
  bool ok() const { return error_ == Error::kOk; }
  Error error() const { return error_; }

 private:
  Error error_ = Error::kOk;
};

inline Status OkStatus() { return Status(); }

}  // namespace tapsock
