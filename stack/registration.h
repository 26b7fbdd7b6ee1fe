// The interfaces between layers, named by direction (gVisor stack/registration.go): what points
// down ends in ...Endpoint, what points up ends in ...Dispatcher or ...Observer.
//
// Every *Locked method runs with the stack lock held (see stack/stack.h for the threading model).
#pragma once

#include <cstdint>

#include "stack/base/clock.h"
#include "stack/buffer/packet_buffer.h"
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
};

// Points up from an endpoint to whoever waits on it (the shim's placeholder fd, a test).
class EndpointObserver {
 public:
  virtual ~EndpointObserver() = default;
  // The endpoint's readiness (poll mask) may have changed.
  virtual void OnReadinessChangedLocked() = 0;
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

}  // namespace tapsock
