// ARP (RFC 826): answers requests for our addresses, learns neighbours from what it hears
// (RFC 826 "merge" rule), resolves next hops for the IPv4 output path with retries and a bounded
// queue, and frames every outgoing IPv4 packet in Ethernet. Not thread-safe: under the stack lock.
#pragma once

#include "stack/buffer/packet_buffer.h"
#include "stack/wire/address.h"
#include "stack/wire/ethernet.h"

namespace tapsock {

class Nic;
class Stack;

class ArpProtocol {
 public:
  explicit ArpProtocol(Stack& stack) : stack_(stack) {}

  // Consumes `packet`, which starts at the ARP header.
  void ReceiveLocked(Nic& nic, PacketBuffer* packet);
  // Consumes `ip_packet` (at its IPv4 header): sends it to `next_hop` now, or once resolved.
  void SendIpv4Locked(Nic& nic, Ipv4Addr next_hop, PacketBuffer* ip_packet);
  // Consumes `payload`: prepends an Ethernet header and hands the frame to the NIC's link.
  void SendFrameLocked(Nic& nic, MacAddr dst, wire::EtherType type, PacketBuffer* payload);
  // Gratuitous ARP for each address of `nic`, so neighbours learn us (RFC 5227 announcement).
  void AnnounceLocked(Nic& nic);
  // Retransmits requests and expires entries whose deadline is past.
  void TimersLocked(Nic& nic);

 private:
  void SendRequestLocked(Nic& nic, Ipv4Addr target);

  Stack& stack_;
};

}  // namespace tapsock
