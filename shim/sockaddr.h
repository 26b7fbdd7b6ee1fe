// sockaddr in and out, with Linux's rules for each call (inet_bind, ip4_datagram_connect,
// udp_sendmsg and their IPv6 twins): which lengths are EINVAL, which families are EAFNOSUPPORT,
// and how AF_UNSPEC and IPv4-mapped addresses are read.
#pragma once

#include <sys/socket.h>

#include "stack/base/result.h"
#include "stack/endpoint.h"

namespace tapsock::shim {

enum class AddrUse { kBind, kConnect, kSendTo };

struct ParsedAddr {
  FullAddress addr;
  bool unspec = false;  // AF_UNSPEC: disconnect (connect) or no address (sendto on AF_INET6)
};

// Reads the program's address for a socket of `domain`; the errno to fail with on error.
Result<ParsedAddr> ParseSockaddr(int domain, bool v6_only, AddrUse use, const sockaddr* sa, socklen_t len,
                                 int* err);

// Writes `a` as the socket's family shows it (IPv4 as ::ffff:a.b.c.d on AF_INET6), truncated to
// *len, and sets *len to the full size, as the kernel's move_addr_to_user does. Returns 0 or the
// errno to fail with (EFAULT, EINVAL for a negative length).
int WriteSockaddr(int domain, const FullAddress& a, sockaddr* out, socklen_t* len);

}  // namespace tapsock::shim
