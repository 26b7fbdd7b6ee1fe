// TCP as a protocol: the tables that map segments to endpoints (established 4-tuples, then
// listeners by port), port allocation (RFC 6056), initial sequence numbers (RFC 6528), resets for
// segments nobody wants (RFC 9293 3.10.7.1), and the registry that owns every endpoint once the
// application has let go of it (closing connections, TIME-WAIT, children waiting in a SYN or
// accept queue). Not thread-safe: under the stack lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "stack/base/result.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/wire/ipv4.h"

namespace tapsock {
class Nic;
class Stack;
}  // namespace tapsock

namespace tapsock::tcp {

class TcpProtocol {
 public:
  explicit TcpProtocol(Stack& stack);
  ~TcpProtocol();

  // A new endpoint held by the application (the shim's socket).
  TcpEndpoint* NewEndpointLocked(bool v6);
  // `packet` starts at the TCP header and holds exactly the IP payload. Consumes it.
  void ReceiveLocked(Nic& nic, const wire::Ipv4Repr& ip, PacketBuffer* packet);

  Result<uint16_t> BindLocked(TcpEndpoint* ep, uint16_t port);
  void UnbindLocked(TcpEndpoint* ep);
  // An accepted connection takes its port from its listener (inherited_).
  void InheritPortLocked(TcpEndpoint* child);
  // Another socket already listens on ep's port and address (SO_REUSEPORT on both excepted).
  bool ListenConflictLocked(const TcpEndpoint* ep) const;
  // The 4-tuple table: a connecting or accepted endpoint goes in, a closed one comes out.
  void AddConnectionLocked(TcpEndpoint* ep);
  void RemoveConnectionLocked(TcpEndpoint* ep);
  // A child for `listener`, registered and owned here until accepted.
  TcpEndpoint* NewChildLocked(TcpEndpoint* listener);
  // RFC 6528: a keyed hash of the 4-tuple plus a 4-microsecond clock.
  SeqNum IsnLocked(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport);
  // SYN cookies (RFC 4987 3.6), used when a listener's SYN queue is full: the ISN carries a MAC
  // of the 4-tuple, a 64-second time counter and the MSS, so no state is kept until the ACK.
  SeqNum CookieIsnLocked(const Segment& syn, uint16_t mss);
  // The MSS a returning ACK's cookie encodes, or 0 if the cookie is not valid (or too old).
  uint16_t CheckCookieLocked(const Segment& ack);
  // A segment with no payload and no connection behind it (a reset, a cookie SYN-ACK) to `to`
  // from `from`, routed now.
  void SendBareSegmentLocked(Ipv4Addr from, Ipv4Addr to, const wire::TcpRepr& h, int bound_device = 0);
  // RFC 9293 3.10.7.1: the reset answering `seg` when no connection takes it.
  void SendResetForLocked(const Segment& seg);

  Instant NextDeadlineLocked() const;
  // Every timer a connection arms is noted here, so the stack can tell whether to wake its loop
  // without scanning the connections (Stack::FlushLocked).
  void NoteArmedLocked(Instant at) { earliest_armed_ = std::min(earliest_armed_, at); }
  Instant EarliestArmedLocked() const { return earliest_armed_; }
  void ResetEarliestArmedLocked() { earliest_armed_ = kNever; }
  void RunTimersLocked();
  // Deletes endpoints that are done (see TcpEndpoint::Reapable).
  void ReapLocked();
  size_t connection_count() const { return all_.size(); }
  const std::unordered_set<TcpEndpoint*>& endpoints() const { return all_; }
  // Calls f(const TcpEndpoint&) for every endpoint: held by the application, closing, in
  // TIME-WAIT, or waiting in a listener's queue. In no particular order.
  template <typename F>
  void ForEachEndpointLocked(F&& f) const {
    for (const TcpEndpoint* ep : all_) f(*ep);
  }
  // What connections the application has closed still have to deliver (FIN-WAIT-1, CLOSING,
  // LAST-ACK: what the kernel would finish after the process is gone): bytes not yet acknowledged
  // plus one per FIN. 0: nothing.
  size_t ClosingBacklogLocked() const;
  // The next connection id (TcpEndpoint::id): 1, 2, 3 ... for the stack's lifetime.
  uint64_t NewConnectionIdLocked() { return ++last_connection_id_; }

 private:
  struct Tuple {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    bool operator==(const Tuple&) const = default;
  };
  struct TupleHash {
    size_t operator()(const Tuple& t) const {
      uint64_t a = (uint64_t{t.laddr} << 32) | t.raddr, b = (uint64_t{t.lport} << 16) | t.rport;
      return static_cast<size_t>((a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full));
    }
  };
  static Tuple TupleOf(const TcpEndpoint* ep) {
    return {ep->local_v4().v, ep->remote_v4().v, ep->local_port(), ep->remote_port()};
  }
  bool ConflictsLocked(const TcpEndpoint* ep, uint16_t port) const;
  uint32_t CookieMac(const Segment& seg, uint32_t their_isn, uint32_t counter) const;
  TcpEndpoint* FindListenerLocked(Ipv4Addr dst, uint16_t dport) const;

  Stack& stack_;
  uint64_t isn_key_[2];
  std::unordered_map<Tuple, TcpEndpoint*, TupleHash> connections_;
  std::unordered_map<uint16_t, std::vector<TcpEndpoint*>> bound_;
  // Accepted connections hold their listener's port until they are reaped (Linux's
  // inet_inherit_port): a bind conflicts with them, but demultiplexing never walks them.
  std::unordered_map<uint16_t, std::unordered_set<TcpEndpoint*>> inherited_;
  std::unordered_set<TcpEndpoint*> all_;
  Instant earliest_armed_ = kNever;
  uint64_t last_connection_id_ = 0;
};

}  // namespace tapsock::tcp
