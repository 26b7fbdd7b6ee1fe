// IPv4 receive and send. The receive checks follow gVisor's ipv4.go in order: header validity,
// then addresses, then fragments, then protocol dispatch.
#include "stack/network/ipv4.h"

#include "stack/stack.h"
#include "stack/wire/icmpv4.h"
#include "stack/wire/udp.h"

namespace tapsock {

using wire::Ipv4Repr;
using wire::IpProto;

// IDs start at a random point and advance by small random steps, so they reveal neither how many
// packets this stack sent nor which stack sent them (the idle-scan class of leaks).
Ipv4Protocol::Ipv4Protocol(Stack& stack) : stack_(stack), next_id_(static_cast<uint16_t>(stack.random().Next())) {}

void Ipv4Protocol::ReceiveLocked(Nic& nic, PacketBuffer* packet) {
  IpStats& st = stack_.stats().ip;
  st.in_receives++;
  Ipv4Repr::ParseError why;
  auto ip = Ipv4Repr::Parse(packet->bytes(), &why);
  if (!ip) {
    switch (why) {
      case Ipv4Repr::ParseError::kChecksum: st.in_checksum_errors++; break;
      case Ipv4Repr::ParseError::kTotalLength: st.in_truncated++; break;
      case Ipv4Repr::ParseError::kNone:
      case Ipv4Repr::ParseError::kTruncated:
      case Ipv4Repr::ParseError::kVersion:
      case Ipv4Repr::ParseError::kHeaderLength: st.in_hdr_errors++; break;
    }
    stack_.pool().Free(packet);
    return;
  }
  st.in_octets += ip->total_len;
  if (!CheckAddressesLocked(nic, *ip)) {
    stack_.pool().Free(packet);
    return;
  }
  if (ip->is_fragment()) {  // reassembly (RFC 815, 30 s timeout) arrives with a later issue
    st.frag_dropped++;
    stack_.pool().Free(packet);
    return;
  }
  packet->Trim(ip->total_len);  // drop Ethernet padding
  // The offending packet as ICMP quotes it: IP header plus the start of the payload.
  std::span<const uint8_t> whole = packet->bytes();
  packet->Pull(ip->ihl_bytes);
  st.in_delivers++;
  switch (static_cast<IpProto>(ip->protocol)) {
    case IpProto::kIcmp:
      stack_.icmp().ReceiveLocked(nic, *ip, packet);
      return;
    case IpProto::kUdp:
      stack_.udp().ReceiveLocked(nic, *ip, packet);
      return;
    case IpProto::kTcp:
      stack_.tcp().ReceiveLocked(nic, *ip, packet);
      return;
    case IpProto::kIgmp:
    case IpProto::kIcmpv6:
      break;
    default:
      stack_.icmp().SendErrorLocked(nic, *ip, *packet, whole, wire::Icmpv4Repr::kDestUnreachable,
                                    wire::Icmpv4Repr::kProtoUnreach);
      break;
  }
  st.in_unknown_protos++;
  stack_.pool().Free(packet);
}

// Source and destination rules of RFC 1122 3.2.1.3 and ipv4.go's handleValidatedPacket.
bool Ipv4Protocol::CheckAddressesLocked(Nic& nic, const Ipv4Repr& ip) {
  IpStats& st = stack_.stats().ip;
  // A source may never be a broadcast or multicast address; a looped-back source, or one of our
  // own addresses, only on lo (Linux's "martian source").
  if (ip.src.IsMulticast() || stack_.IsBroadcastLocked(ip.src) ||
      (!nic.loopback() && (ip.src.IsLoopback() || stack_.IsLocalAddressLocked(ip.src))) ||
      (ip.src.IsReservedSource() && !ip.src.IsAny())) {
    st.in_addr_errors++;
    return false;
  }
  bool for_us = nic.loopback() ? stack_.IsLocalAddressLocked(ip.dst) || ip.dst.IsLoopback()
                               : nic.HasAddress(ip.dst) || nic.IsBroadcastFor(ip.dst);
  // 0.0.0.0 as a source only makes sense for a host asking for an address (to a broadcast).
  if (!for_us || (ip.src.IsAny() && !ip.dst.IsBroadcast()) || (!nic.loopback() && ip.dst.IsLoopback())) {
    st.in_addr_errors++;
    return false;
  }
  return true;
}

Status Ipv4Protocol::SendLocked(const RouteResult& route, const Ipv4SendParams& params,
                                PacketBuffer* packet) {
  IpStats& st = stack_.stats().ip;
  st.out_requests++;
  Nic& nic = *route.nic;
  if (packet->len > kMaxPayload) {
    stack_.pool().Free(packet);
    return Error::kMessageTooLong;
  }
  Ipv4Repr ip;
  ip.total_len = static_cast<uint16_t>(packet->len + Ipv4Repr::kMinHeaderLen);
  if (ip.total_len > nic.mtu()) {  // output fragmentation arrives with reassembly
    stack_.pool().Free(packet);
    st.out_discards++;
    return Error::kMessageTooLong;
  }
  st.out_octets += ip.total_len;
  ip.id = next_id_;
  next_id_ = static_cast<uint16_t>(next_id_ + 1 + stack_.random().Below(8));  // not predictable
  ip.dont_fragment = false;
  ip.ttl = params.ttl;
  ip.tos = params.tos;
  ip.protocol = params.protocol;
  ip.src = route.src;
  ip.dst = route.dst;
  ip.Emit(packet->Prepend(Ipv4Repr::kMinHeaderLen));
  if (nic.loopback()) {
    nic.link().WritePacketLocked(packet);
    return OkStatus();
  }
  if (route.broadcast || route.dst.IsMulticast()) {  // no neighbour to resolve
    MacAddr to = route.broadcast ? MacAddr::Broadcast() : MulticastMac(route.dst);
    stack_.arp().SendFrameLocked(nic, to, wire::EtherType::kIpv4, packet);
    return OkStatus();
  }
  stack_.arp().SendIpv4Locked(nic, route.next_hop, packet);
  return OkStatus();
}

void Ipv4Protocol::LocalErrorLocked(PacketBuffer* ip_packet, Error e) {
  Ipv4Repr::ParseError why;
  auto ip = Ipv4Repr::Parse(ip_packet->bytes(), &why);
  if (ip && ip->protocol == static_cast<uint8_t>(IpProto::kUdp)) {
    auto l4 = ip_packet->bytes().subspan(ip->ihl_bytes);
    if (auto udp = wire::UdpRepr::Parse(l4))
      stack_.udp().ErrorLocked(ip->src, udp->src_port, ip->dst, udp->dst_port, e, /*hard=*/false);
  }
  stack_.pool().Free(ip_packet);
}

}  // namespace tapsock
