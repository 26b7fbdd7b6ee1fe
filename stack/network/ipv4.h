// IPv4 (RFC 791, RFC 1122 3.2.1): receive validation following gVisor's ipv4.go (header, length,
// checksum, then source and destination address rules), local delivery to ICMP and UDP, and the
// output path (header, then the link: loopback directly, Ethernet through ARP). No forwarding: a
// packet not for us is counted and dropped. Not thread-safe: under the stack lock.
#pragma once

#include "stack/base/result.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/network/route_table.h"
#include "stack/wire/ipv4.h"

namespace tapsock {

class Nic;
class Stack;

struct Ipv4SendParams {
  uint8_t protocol = 0;
  uint8_t ttl = 64;
  uint8_t tos = 0;
};

class Ipv4Protocol {
 public:
  static constexpr uint32_t kMaxPayload = 65535 - wire::Ipv4Repr::kMinHeaderLen;

  explicit Ipv4Protocol(Stack& stack);

  // Consumes `packet`, which starts at the IPv4 header.
  void ReceiveLocked(Nic& nic, PacketBuffer* packet);
  // Consumes `packet`, which starts at the transport header, and sends it along `route`.
  Status SendLocked(const RouteResult& route, const Ipv4SendParams& params, PacketBuffer* packet);
  // A packet we sent could not leave (its neighbour never answered): the sending socket hears of
  // it as a soft error, like the ICMP host unreachable Linux sends itself (ipv4_link_failure).
  void LocalErrorLocked(PacketBuffer* ip_packet, Error e);

 private:
  bool CheckAddressesLocked(Nic& nic, const wire::Ipv4Repr& ip);

  Stack& stack_;
  uint16_t next_id_ = 0;
};

}  // namespace tapsock
