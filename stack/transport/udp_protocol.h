// UDP (RFC 768 and RFC 1122 4.1): the demultiplexing table from ports to endpoints, ephemeral port
// allocation (RFC 6056, randomised), and the receive path from IPv4 into socket queues. Not
// thread-safe: under the stack lock.
#pragma once

#include <unordered_map>
#include <vector>

#include "stack/base/result.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/wire/ipv4.h"

namespace tapsock {

class Nic;
class Stack;
class UdpEndpoint;

class UdpProtocol {
 public:
  // Linux's net.ipv4.ip_local_port_range.
  static constexpr uint16_t kEphemeralFirst = 32768;
  static constexpr uint16_t kEphemeralLast = 60999;

  explicit UdpProtocol(Stack& stack) : stack_(stack) {}

  // Binds `ep` to port (0: an ephemeral one); fails with kAddressInUse on a conflict.
  Result<uint16_t> BindLocked(UdpEndpoint* ep, uint16_t port);
  void UnbindLocked(UdpEndpoint* ep);

  // `packet` starts at the UDP header and holds exactly the IP payload. Consumes it.
  void ReceiveLocked(Nic& nic, const wire::Ipv4Repr& ip, PacketBuffer* packet);
  // An ICMP error (or a local resolution failure) about a datagram we sent from src:sport to
  // dst:dport. `hard` errors reach a connected socket; soft ones only a socket with IP_RECVERR
  // (__udp4_lib_err, RFC 1122 4.1.3.3).
  void ErrorLocked(Ipv4Addr src, uint16_t sport, Ipv4Addr dst, uint16_t dport, Error e, bool hard);
  // Calls f(const UdpEndpoint&) for every bound endpoint (an unbound one is in no table, as in
  // Linux, where `ss` does not show it either). In no particular order.
  template <typename F>
  void ForEachEndpointLocked(F&& f) const {
    for (const auto& [port, eps] : by_port_)
      for (const UdpEndpoint* ep : eps) f(*ep);
  }

 private:
  bool ConflictsLocked(const UdpEndpoint* ep, uint16_t port) const;

  Stack& stack_;
  std::unordered_map<uint16_t, std::vector<UdpEndpoint*>> by_port_;
};

}  // namespace tapsock
