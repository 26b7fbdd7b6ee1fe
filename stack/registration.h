// The interfaces between layers, named by direction (gVisor stack/registration.go): what points
// down ends in ...Endpoint, what points up ends in ...Dispatcher or ...Observer.
//
// Every *Locked method runs with the stack lock held (see stack/stack.h for the threading model).
#pragma once

#include <cstdint>

#include "stack/base/clock.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/stats.h"
#include "stack/wire/address.h"

namespace tapsock {

class Nic;

// Points up: where a link device hands the frames it receives.
class NetworkDispatcher {
 public:
  virtual ~NetworkDispatcher() = default;
  // Consumes `frame` (an Ethernet frame, or an IP packet on a link without a header).
  virtual void DeliverFrameLocked(Nic& nic, PacketBuffer* frame) = 0;
};

// Points down: a link device (TAP over io_uring, loopback, in-memory for tests, or a decorator
// such as capture or fault injection that wraps another device).
class LinkEndpoint {
 public:
  virtual ~LinkEndpoint() = default;
  virtual uint32_t Mtu() const = 0;
  virtual MacAddr LinkAddress() const = 0;
  // A device without a link header (loopback) carries bare IP packets.
  virtual bool HasLinkHeader() const { return true; }
  // Called once when the device is added to a NIC; the device delivers to `dispatcher` from then on.
  virtual void AttachLocked(NetworkDispatcher* dispatcher, Nic* nic) = 0;
  // Consumes `frame`; it may be queued and sent at the next FlushLocked().
  virtual void WritePacketLocked(PacketBuffer* frame) = 0;
  // Sends what WritePacketLocked queued: one submission for a batch of frames.
  virtual void FlushLocked() {}
  // A device that holds frames back (fault injection's reorder and delay) has timers of its own:
  // the stack folds this deadline into its next one and calls RunTimersLocked when it passes.
  virtual Instant NextDeadlineLocked() const { return kNever; }
  virtual void RunTimersLocked(Instant now) { (void)now; }
  // Adds what the kernel counts for this device on our behalf (a TAP's queue overflowing while
  // the loop thread did not run) to `stats`. Read only when counters are shown, never per frame.
  virtual void AddKernelCounters(LinkStats& stats) const { (void)stats; }
};

// Points up from an endpoint to whoever waits on it (the shim's placeholder fd, a test).
class EndpointObserver {
 public:
  virtual ~EndpointObserver() = default;
  // The endpoint's readiness (poll mask) may have changed.
  virtual void OnReadinessChangedLocked() = 0;
  // The peer announced new urgent data (TCP's urgent pointer moved): Linux's sk_send_sigurg.
  virtual void OnUrgentDataLocked() {}
};

}  // namespace tapsock

namespace tapsock {

// Points up from the stack to whatever runs its timers (the TAP loop thread).
class TimerObserver {
 public:
  virtual ~TimerObserver() = default;
  // The stack's next deadline moved earlier than the one last reported; re-arm the timer. False
  // when the wake-up could not be posted (a full queue): the stack asks again at its next flush.
  virtual bool OnDeadlineChangedLocked(Instant deadline) = 0;
};

// Something worth a log line happened to a TCP connection. Never per segment: state changes,
// resets, retransmission timeouts.
struct TcpEvent {
  enum class Kind : uint8_t {
    kStateChange,        // from_state -> to_state
    kResetSent,          // conn_id 0: a reset for a segment no connection wanted
    kResetReceived,      // an acceptable reset: the connection is aborted
    kRetransmitTimeout,  // retransmits-th consecutive timeout; rto_us is the backed-off RTO
  };
  Kind kind = Kind::kStateChange;
  uint64_t conn_id = 0;  // TcpEndpoint::id(), "c<id>" in logs and `tapsock stat`
  Ipv4Addr local, remote;
  uint16_t local_port = 0, remote_port = 0;
  uint8_t from_state = 0, to_state = 0;  // tcp::State values (transport/tcp/tcp_state.h)
  uint32_t retransmits = 0;
  uint64_t rto_us = 0;
};

// Points up from the stack to whoever watches connections (the shim's debug log).
class StackEventObserver {
 public:
  virtual ~StackEventObserver() = default;
  virtual void OnTcpEventLocked(const TcpEvent& event) = 0;
};

}  // namespace tapsock
