// UDP demultiplexing and port allocation.
#include "stack/transport/udp_protocol.h"

#include <algorithm>
#include <cstring>

#include "stack/stack.h"
#include "stack/transport/udp_endpoint.h"
#include "stack/wire/udp.h"

namespace tapsock {

namespace {

// Two bindings of one port overlap when they could both receive the same datagram.
bool Overlaps(const UdpEndpoint& a, const UdpEndpoint& b) {
  if (a.accepts_v4() && b.accepts_v4() &&
      (a.bound_v4().IsAny() || b.bound_v4().IsAny() || a.bound_v4() == b.bound_v4()))
    return true;
  return a.binds_v6() && b.binds_v6() &&
         (a.v6_wildcard() || b.v6_wildcard() || a.local_addr() == b.local_addr());
}

}  // namespace

bool UdpProtocol::ConflictsLocked(const UdpEndpoint* ep, uint16_t port) const {
  auto it = by_port_.find(port);
  if (it == by_port_.end()) return false;
  for (const UdpEndpoint* other : it->second) {
    if (other == ep) continue;
    if (ep->options().reuse_addr && other->options().reuse_addr) continue;
    if (ep->options().reuse_port && other->options().reuse_port) continue;
    if (Overlaps(*ep, *other)) return true;
  }
  return false;
}

Result<uint16_t> UdpProtocol::BindLocked(UdpEndpoint* ep, uint16_t port) {
  if (port == 0) {
    // RFC 6056 algorithm 1: a random starting point, then the next free port.
    constexpr uint32_t kRange = kEphemeralLast - kEphemeralFirst + 1;
    uint32_t start = stack_.random().Below(kRange);
    for (uint32_t i = 0; i < kRange; ++i) {
      auto candidate = static_cast<uint16_t>(kEphemeralFirst + (start + i) % kRange);
      if (!ConflictsLocked(ep, candidate)) {
        port = candidate;
        break;
      }
    }
    if (port == 0) return Error::kAddressInUse;
  } else if (ConflictsLocked(ep, port)) {
    return Error::kAddressInUse;
  }
  by_port_[port].push_back(ep);
  return port;
}

void UdpProtocol::UnbindLocked(UdpEndpoint* ep) {
  auto it = by_port_.find(ep->local_port());
  if (it == by_port_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), ep), v.end());
  if (v.empty()) by_port_.erase(it);
}

void UdpProtocol::ReceiveLocked(Nic& nic, const wire::Ipv4Repr& ip, PacketBuffer* packet) {
  UdpStats& st = stack_.stats().udp;
  auto udp = wire::UdpRepr::Parse(packet->bytes());
  if (!udp) {
    st.in_malformed++;
    st.in_errors++;
    stack_.pool().Free(packet);
    return;
  }
  packet->Trim(udp->length);
  // Loopback packets never left memory; Linux skips their checksum too (CHECKSUM_UNNECESSARY).
  if (!nic.loopback() && !wire::VerifyUdpChecksumV4(packet->bytes(), ip.src, ip.dst)) {
    st.in_csum_errors++;
    st.in_errors++;
    stack_.pool().Free(packet);
    return;
  }
  DatagramMeta meta;
  meta.src = {IpAddr::V4(ip.src), udp->src_port};
  meta.dst = ip.dst;
  meta.ifindex = nic.index();
  meta.ttl = ip.ttl;
  meta.tos = ip.tos;
  const bool multi = ip.dst.IsMulticast() || stack_.IsBroadcastLocked(ip.dst);

  auto it = by_port_.find(udp->dst_port);
  UdpEndpoint* best = nullptr;
  int best_score = 0;
  if (it != by_port_.end()) {
    for (UdpEndpoint* ep : it->second) {
      int score = ep->MatchV4(ip.src, udp->src_port, ip.dst, udp->dst_port);
      if (score == 0) continue;
      if (multi && best) {  // broadcast: every matching socket gets a copy
        PacketBuffer* copy = stack_.pool().Alloc(packet->len - wire::UdpRepr::kHeaderLen, 0);
        if (copy) {
          copy->len = packet->len - wire::UdpRepr::kHeaderLen;
          std::memcpy(copy->data(), packet->data() + wire::UdpRepr::kHeaderLen, copy->len);
          copy->rx_realtime_ns = packet->rx_realtime_ns;
          ep->DeliverLocked(copy, meta);
        }
        continue;
      }
      if (score > best_score) {
        best = ep;
        best_score = score;
      }
    }
  }
  if (!best) {
    st.no_ports++;
    if (!multi) {
      // Quote from the IP header, which the IP layer pulled but left in the buffer's headroom.
      std::span<const uint8_t> offending(packet->data() - ip.ihl_bytes, ip.ihl_bytes + packet->len);
      stack_.icmp().SendErrorLocked(nic, ip, *packet, offending, wire::Icmpv4Repr::kDestUnreachable,
                                    wire::Icmpv4Repr::kPortUnreach);
    }
    stack_.pool().Free(packet);
    return;
  }
  st.in_datagrams++;
  packet->Pull(wire::UdpRepr::kHeaderLen);
  best->DeliverLocked(packet, meta);
}

void UdpProtocol::ErrorLocked(Ipv4Addr src, uint16_t sport, Ipv4Addr dst, uint16_t dport, Error e,
                              bool hard) {
  auto it = by_port_.find(sport);
  if (it == by_port_.end()) return;
  // The socket a reply from dst:dport would reach is the one that sent the datagram.
  UdpEndpoint* best = nullptr;
  int best_score = 0;
  for (UdpEndpoint* ep : it->second) {
    int score = ep->MatchV4(dst, dport, src, sport);
    if (score > best_score) best = ep, best_score = score;
  }
  if (!best) return;
  if (!best->options().recv_err && (!hard || !best->connected())) return;
  best->SetErrorLocked(e);
}

}  // namespace tapsock
