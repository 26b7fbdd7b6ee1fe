// Types shared by the endpoints the shim calls (the stack's socket API, like netstack's
// tcpip.Endpoint): addresses with ports, readiness bits, and the options that change stack
// behaviour. Options that only need remembering (SO_KEEPALIVE on UDP, SO_PRIORITY ...) stay in the
// shim's socket layer.
#pragma once

#include <poll.h>

#include <cstdint>

#include "stack/wire/address.h"

namespace tapsock {

struct FullAddress {
  IpAddr addr;
  uint16_t port = 0;  // host byte order
};

// Readiness uses the poll(2) bits so the shim can hand them to the program unchanged.
constexpr uint32_t kReadable = POLLIN | POLLRDNORM;
constexpr uint32_t kWritable = POLLOUT | POLLWRNORM | POLLWRBAND;
constexpr uint32_t kError = POLLERR;

// Linux's defaults (net.core.rmem_default/wmem_default) and the floor SO_RCVBUF/SO_SNDBUF clamp to.
constexpr int kDefaultRcvBuf = 212992;
constexpr int kDefaultSndBuf = 212992;
constexpr int kMinRcvBuf = 2304;
constexpr int kMinSndBuf = 4608;
constexpr int kMaxBuf = 212992 * 2;  // net.core.rmem_max/wmem_max doubled

struct EndpointOptions {
  bool broadcast = false;    // SO_BROADCAST
  bool reuse_addr = false;   // SO_REUSEADDR
  bool reuse_port = false;   // SO_REUSEPORT
  bool v6_only = false;      // IPV6_V6ONLY
  int rcvbuf = kDefaultRcvBuf;  // already doubled, as getsockopt reports it
  int sndbuf = kDefaultSndBuf;
  int ttl = -1;              // IP_TTL; -1: the default (64)
  int multicast_ttl = 1;
  uint8_t tos = 0;           // IP_TOS
  int bound_device = 0;      // SO_BINDTODEVICE ifindex, 0: any
  bool recv_err = false;     // IP_RECVERR: soft ICMP errors and unconnected sockets see them too
};

constexpr uint8_t kDefaultTtl = 64;

}  // namespace tapsock
