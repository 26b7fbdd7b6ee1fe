// The stack object: every piece of protocol state hangs off one Stack and its pools, with no
// scattered globals, so that a later step can share it across fork().
//
// Threading model and lock order
// ------------------------------
// One mutex, mu(), guards all stack state: NICs, neighbour caches, routes, endpoints, pools and
// counters. Two kinds of threads take it:
//   - application threads, inside a socket call: they run the send path down to the link (which
//     queues frames and submits them to io_uring at FlushLocked, with no hand-off), and copy
//     received data out of socket queues;
//   - the link's loop thread (link/tap_loop.h), which owns the ring's completion side: it takes
//     the lock to push received frames up the stack, run timers, and recycle buffers.
// A blocked caller never holds the lock: it sleeps in the kernel on its socket's placeholder fd,
// which the stack signals through EndpointObserver. So a received datagram costs one hand-off
// (loop thread -> application thread) and a sent one none.
// Lock order: the shim's fd-table lock, if any, before mu(); nothing is taken while holding mu()
// except the kernel's own locks inside syscalls.
//
// Every method ending in Locked requires mu(). The clock is injected: callers set now with
// SetNowLocked() before an operation (the shim from CLOCK_MONOTONIC, tests from a manual clock).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "stack/base/clock.h"
#include "stack/base/random.h"
#include "stack/base/result.h"
#include "stack/base/thread_annotations.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/network/arp.h"
#include "stack/network/icmpv4.h"
#include "stack/network/ipv4.h"
#include "stack/network/route_table.h"
#include "stack/nic.h"
#include "stack/registration.h"
#include "stack/stats.h"
#include "stack/transport/tcp/tcp_protocol.h"
#include "stack/transport/udp_protocol.h"

namespace tapsock {

class LoopbackLink;

class Stack : public NetworkDispatcher {
 public:
  static constexpr int kLoopbackIndex = 1;

  Stack();
  ~Stack() override;
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  Mutex& mu() { return mu_; }

  // Configuration (normally once, before traffic).
  // Adds a NIC over `link` (not owned); indexes count from 2, loopback "lo" is always 1.
  Nic* AddNicLocked(const std::string& name, LinkEndpoint* link);
  // Adds an address and its on-link route.
  void AddAddressLocked(Nic& nic, Ipv4Prefix prefix);
  // A default route via `gateway`, on the NIC whose subnet holds it; false if none does.
  bool AddDefaultGatewayLocked(Ipv4Addr gateway);
  Nic& loopback() { return *nics_.front(); }
  const std::vector<std::unique_ptr<Nic>>& nics() const { return nics_; }
  Nic* FindNic(int index) const;
  Nic* FindNicByName(const std::string& name) const;

  // Datapath.
  void DeliverFrameLocked(Nic& nic, PacketBuffer* frame) override;
  // Chooses the NIC, next hop and source for dst. `src` (Any: choose) must be one of ours.
  Result<RouteResult> RouteV4Locked(Ipv4Addr dst, Ipv4Addr src, int bound_device) const;
  bool IsLocalAddressLocked(Ipv4Addr a) const;
  // True for an address some NIC treats as broadcast.
  bool IsBroadcastLocked(Ipv4Addr a) const;

  // Ends every operation: delivers looped-back packets, submits queued frames to the links, and
  // tells the timer observer when the next deadline moved earlier.
  void FlushLocked();

  // Timers.
  void SetNowLocked(Instant now) { now_ = now; }
  Instant now() const { return now_; }
  // The earliest deadline of all timers (a scan of every connection): for the loop that runs them.
  Instant NextDeadlineLocked();
  // The loop is about to sleep until `deadline`; from now on an operation that arms an earlier
  // timer wakes it (FlushLocked compares, without a scan).
  void LoopArmedLocked(Instant deadline);
  void RunTimersLocked();
  void SetTimerObserver(TimerObserver* o) { timer_observer_ = o; }
  // Who hears about connection events (TcpEvent); none by default.
  void SetEventObserver(StackEventObserver* o) { event_observer_ = o; }
  StackEventObserver* event_observer() const { return event_observer_; }

  PacketPool& pool() { return pool_; }
  StackStats& stats() { return stats_; }
  // The counters as a user sees them: ours plus what the kernel counted for our devices.
  StackStats ShownStatsLocked() const;
  Random& random() { return random_; }
  Ipv4Protocol& ipv4() { return ipv4_; }
  ArpProtocol& arp() { return arp_; }
  Icmpv4Protocol& icmp() { return icmp_; }
  UdpProtocol& udp() { return udp_; }
  tcp::TcpProtocol& tcp() { return tcp_; }

 private:
  Mutex mu_;
  Instant now_ = 0;
  PacketPool pool_;
  StackStats stats_;
  Random random_;
  std::unique_ptr<LoopbackLink> loopback_link_;
  std::vector<std::unique_ptr<Nic>> nics_;
  RouteTable routes_;
  Ipv4Protocol ipv4_{*this};
  ArpProtocol arp_{*this};
  Icmpv4Protocol icmp_{*this};
  UdpProtocol udp_{*this};
  tcp::TcpProtocol tcp_{*this};
  TimerObserver* timer_observer_ = nullptr;
  StackEventObserver* event_observer_ = nullptr;
  Instant reported_deadline_ = kNever;
};

}  // namespace tapsock
