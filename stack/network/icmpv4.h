// ICMPv4 (RFC 792, RFC 1122 3.2.2): echo replies, errors delivered to the transport that sent the
// quoted datagram, and error generation (port/protocol unreachable) with a token-bucket rate limit
// like Linux's icmp_ratelimit. Not thread-safe: under the stack lock.
#pragma once

#include <span>

#include "stack/base/clock.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/wire/icmpv4.h"
#include "stack/wire/ipv4.h"

namespace tapsock {

class Nic;
class Stack;

class Icmpv4Protocol {
 public:
  static constexpr int kBurst = 50;            // net.ipv4.icmp_msgs_burst
  static constexpr int kPerSecond = 1000;      // net.ipv4.icmp_msgs_per_sec

  explicit Icmpv4Protocol(Stack& stack) : stack_(stack) {}

  // Consumes `packet`, which starts at the ICMP header.
  void ReceiveLocked(Nic& nic, const wire::Ipv4Repr& ip, PacketBuffer* packet);
  // Sends an error about `offending` (the bytes of `packet`, an IPv4 packet received on `in`, from
  // its header on). Consumes nothing. Follows RFC 1122 3.2.2: never about an ICMP error, an IP or
  // link-layer broadcast or multicast, a fragment after the first, or a packet whose source is
  // not a unicast host; errors about looped-back packets are not rate limited.
  void SendErrorLocked(const Nic& in, const wire::Ipv4Repr& ip, const PacketBuffer& packet,
                       std::span<const uint8_t> offending, uint8_t type, uint8_t code);

 private:
  bool RateLimitAllowsLocked();
  void DeliverErrorLocked(std::span<const uint8_t> quoted, uint8_t type, uint8_t code);

  Stack& stack_;
  double tokens_ = kBurst;
  Instant last_refill_ = 0;
};

}  // namespace tapsock
