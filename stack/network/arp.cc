// ARP: request/reply handling with the RFC 826 merge rule, resolution with a bounded per-neighbour
// queue, retransmission and expiry, and Ethernet framing for the NIC's outgoing packets.
#include "stack/network/arp.h"

#include "stack/stack.h"
#include "stack/wire/arp.h"

namespace tapsock {

using wire::ArpRepr;
using wire::EthernetRepr;
using wire::EtherType;

void ArpProtocol::SendFrameLocked(Nic& nic, MacAddr dst, EtherType type, PacketBuffer* payload) {
  if (payload->headroom() < EthernetRepr::kHeaderLen) {
    stack_.stats().link.tx_dropped++;
    stack_.pool().Free(payload);
    return;
  }
  EthernetRepr{dst, nic.mac(), static_cast<uint16_t>(type)}.Emit(payload->Prepend(EthernetRepr::kHeaderLen));
  nic.link().WritePacketLocked(payload);
}

void ArpProtocol::ReceiveLocked(Nic& nic, PacketBuffer* packet) {
  ArpStats& st = stack_.stats().arp;
  auto arp = ArpRepr::Parse(packet->bytes());
  stack_.pool().Free(packet);
  if (!arp || arp->sender_mac.IsMulticast() || arp->sender_ip.IsMulticast() ||
      arp->sender_ip.IsBroadcast()) {
    st.malformed++;
    return;
  }
  arp->op == ArpRepr::kRequest ? st.requests_received++ : st.replies_received++;
  bool for_us = nic.HasAddress(arp->target_ip);
  // RFC 826 merge: refresh a known sender always; learn a new one only when we are the target.
  ArpCache::Entry* e = nic.arp().Find(arp->sender_ip);
  if (!e && for_us && !arp->sender_ip.IsAny()) e = nic.arp().Create(arp->sender_ip);
  if (e && !arp->sender_ip.IsAny()) {
    e->mac = arp->sender_mac;
    e->state = ArpCache::State::kReachable;
    e->deadline = stack_.now() + ArpCache::kReachableTime;
    e->requests_sent = 0;
    PacketQueue ready;
    std::swap(ready, e->pending);  // sending below may touch the cache
    MacAddr mac = e->mac;
    while (PacketBuffer* p = ready.Pop()) SendFrameLocked(nic, mac, EtherType::kIpv4, p);
  }
  if (arp->op != ArpRepr::kRequest || !for_us) return;
  PacketBuffer* reply = stack_.pool().Alloc(ArpRepr::kLen);
  if (!reply) {
    stack_.stats().link.tx_dropped++;
    return;
  }
  ArpRepr{ArpRepr::kReply, nic.mac(), arp->target_ip, arp->sender_mac, arp->sender_ip}.Emit(
      reply->Prepend(ArpRepr::kLen));
  st.replies_sent++;
  SendFrameLocked(nic, arp->sender_mac, EtherType::kArp, reply);
}

void ArpProtocol::SendRequestLocked(Nic& nic, Ipv4Addr target) {
  PacketBuffer* req = stack_.pool().Alloc(ArpRepr::kLen);
  if (!req) {
    stack_.stats().link.tx_dropped++;
    return;
  }
  ArpRepr{ArpRepr::kRequest, nic.mac(), nic.PrimaryV4For(target), MacAddr{}, target}.Emit(
      req->Prepend(ArpRepr::kLen));
  stack_.stats().arp.requests_sent++;
  SendFrameLocked(nic, MacAddr::Broadcast(), EtherType::kArp, req);
}

void ArpProtocol::AnnounceLocked(Nic& nic) {
  for (const auto& p : nic.v4_addresses()) {
    PacketBuffer* req = stack_.pool().Alloc(ArpRepr::kLen);
    if (!req) return;
    ArpRepr{ArpRepr::kRequest, nic.mac(), p.addr, MacAddr{}, p.addr}.Emit(req->Prepend(ArpRepr::kLen));
    stack_.stats().arp.requests_sent++;
    SendFrameLocked(nic, MacAddr::Broadcast(), EtherType::kArp, req);
  }
}

void ArpProtocol::SendIpv4Locked(Nic& nic, Ipv4Addr next_hop, PacketBuffer* ip_packet) {
  ArpCache& cache = nic.arp();
  ArpCache::Entry* e = cache.Find(next_hop);
  if (e && e->state == ArpCache::State::kReachable) {
    SendFrameLocked(nic, e->mac, EtherType::kIpv4, ip_packet);
    return;
  }
  if (!e) {
    e = cache.Create(next_hop);
    if (!e) {
      stack_.stats().arp.queue_drops++;
      stack_.pool().Free(ip_packet);
      return;
    }
    e->requests_sent = 1;
    e->deadline = stack_.now() + ArpCache::kRetransmitTime;
    e->pending.Push(ip_packet);
    SendRequestLocked(nic, next_hop);
    return;
  }
  if (e->pending.size() >= ArpCache::kMaxPending) {  // Linux drops the oldest
    stack_.stats().arp.queue_drops++;
    stack_.pool().Free(e->pending.Pop());
  }
  e->pending.Push(ip_packet);
}

void ArpProtocol::TimersLocked(Nic& nic) {
  ArpCache& cache = nic.arp();
  Instant now = stack_.now();
  PacketQueue failed;
  for (size_t i = 0; i < cache.entries().size();) {
    ArpCache::Entry& e = cache.entries()[i];
    if (e.deadline > now) {
      ++i;
      continue;
    }
    if (e.state == ArpCache::State::kIncomplete && e.requests_sent < ArpCache::kMaxRequests) {
      e.requests_sent++;
      e.deadline = now + ArpCache::kRetransmitTime;
      SendRequestLocked(nic, e.ip);
      ++i;
      continue;
    }
    if (e.state == ArpCache::State::kIncomplete) stack_.stats().arp.resolution_failures++;
    cache.Remove(&e, failed);  // swaps the last entry into slot i: look at i again
  }
  // Waiting packets whose neighbour never answered: EHOSTUNREACH to their sockets, as Linux does.
  while (PacketBuffer* p = failed.Pop()) stack_.ipv4().LocalErrorLocked(p, Error::kHostUnreachable);
}

}  // namespace tapsock
