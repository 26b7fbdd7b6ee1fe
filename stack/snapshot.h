// A copy of what a stack is doing: its interfaces, counters and every TCP and UDP endpoint, for
// `tapsock stat` (shim/control.cc). Taken under the stack lock in one pass that only copies, so
// the lock is held for microseconds even with thousands of connections; formatting happens after
// the lock is released. Nothing here runs on the packet path.
//
// Endpoints are identified by their address (`endpoint`) only so that the shim can match them to
// its fd table while it still holds the lock; the pointer must not be dereferenced afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "stack/base/clock.h"
#include "stack/nic.h"
#include "stack/stats.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/wire/address.h"

namespace tapsock {

class Stack;
class UdpEndpoint;

struct NicSnapshot {
  int index = 0;
  std::string name;
  MacAddr mac;
  uint32_t mtu = 0;
  bool loopback = false;
  std::vector<Ipv4Prefix> v4;
  std::vector<std::array<uint8_t, 16>> v6;  // configured; prefix lengths are not kept by the NIC
};

struct TcpSnapshot {
  uint64_t id = 0;
  tcp::State state = tcp::State::kClosed;
  bool v6 = false;       // an AF_INET6 socket (its addresses are shown in their IPv4 view)
  bool orphan = false;   // the application let go (closing, TIME-WAIT) or it waits in an accept queue
  Ipv4Addr local, remote;
  uint16_t local_port = 0, remote_port = 0;
  // As `ss` shows them: for a listener, the accept queue length and the backlog; otherwise bytes
  // not yet read by the application and bytes not yet acknowledged by the peer.
  uint64_t recv_q = 0, send_q = 0;
  bool ssthresh_infinite = true;  // still in the initial slow start
  tcp::TcpInfo info;              // what TCP_INFO reads (RTT, RTO, windows in segments, bytes)
  const tcp::TcpEndpoint* endpoint = nullptr;
};

struct UdpSnapshot {
  bool v6 = false;
  Ipv4Addr local, remote;
  uint16_t local_port = 0, remote_port = 0;
  bool connected = false;
  uint64_t recv_q = 0;  // bytes queued for the application, truesize as SO_RCVBUF counts them
  const UdpEndpoint* endpoint = nullptr;
};

struct StackSnapshot {
  Instant now = 0;  // the stack's clock when taken
  StackStats stats;
  std::vector<NicSnapshot> nics;
  std::vector<TcpSnapshot> tcp;  // by connection id; closed ones the application let go are left out
  std::vector<UdpSnapshot> udp;  // by local port
};

// Copies everything. Requires the stack lock.
StackSnapshot TakeSnapshotLocked(Stack& stack);

// A TCP state as `ss` prints it: ESTAB, SYN-SENT, SYN-RECV, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT,
// UNCONN (closed), CLOSE-WAIT, LAST-ACK, LISTEN, CLOSING.
const char* SsStateName(tcp::State s);

}  // namespace tapsock
