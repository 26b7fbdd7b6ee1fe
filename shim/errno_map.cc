#include "shim/errno_map.h"

#include <cerrno>

namespace tapsock::shim {

int ToErrno(Error e) {
  switch (e) {
    case Error::kOk: return 0;
    case Error::kWouldBlock: return EAGAIN;
    case Error::kInvalidArgument: return EINVAL;
    case Error::kAddressInUse: return EADDRINUSE;
    case Error::kAddressNotAvailable: return EADDRNOTAVAIL;
    case Error::kAddressFamilyNotSupported: return EAFNOSUPPORT;
    case Error::kNetworkUnreachable: return ENETUNREACH;
    case Error::kHostUnreachable: return EHOSTUNREACH;
    case Error::kConnectionRefused: return ECONNREFUSED;
    case Error::kMessageTooLong: return EMSGSIZE;
    case Error::kNotConnected: return ENOTCONN;
    case Error::kDestinationRequired: return EDESTADDRREQ;
    case Error::kNoBufferSpace: return ENOBUFS;
    case Error::kBroadcastNotPermitted: return EACCES;
    case Error::kNoMemory: return ENOMEM;
    case Error::kNotSupported: return EOPNOTSUPP;
    case Error::kProtocolOption: return ENOPROTOOPT;
    case Error::kAlreadyConnected: return EISCONN;
    case Error::kNetworkDown: return ENETDOWN;
    case Error::kProtocolError: return EPROTO;
    case Error::kHostDown: return EHOSTDOWN;
    case Error::kNoNetwork: return ENONET;
    case Error::kInProgress: return EINPROGRESS;
    case Error::kAlreadyInProgress: return EALREADY;
    case Error::kBrokenPipe: return EPIPE;
    case Error::kConnectionReset: return ECONNRESET;
    case Error::kTimedOut: return ETIMEDOUT;
    case Error::kConnectionAborted: return ECONNABORTED;
    case Error::kNotFound: return ENOENT;
    case Error::kBadAddress: return EFAULT;
  }
  return EINVAL;
}

}  // namespace tapsock::shim
