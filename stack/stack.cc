// The stack object: NIC and route configuration, the frame entry point from links, routing, and
// the end-of-operation flush.
#include "stack/stack.h"

#include "stack/link/loopback_link.h"
#include "stack/wire/arp.h"
#include "stack/wire/ethernet.h"

namespace tapsock {

Stack::Stack() : loopback_link_(std::make_unique<LoopbackLink>()) {
  MutexLock lock(mu_);
  auto lo = std::make_unique<Nic>(kLoopbackIndex, "lo", loopback_link_.get(), /*loopback=*/true);
  loopback_link_->AttachLocked(this, lo.get());
  nics_.push_back(std::move(lo));
  AddAddressLocked(*nics_.front(), {Ipv4Addr::Loopback(), 8});
}

Stack::~Stack() = default;

Nic* Stack::AddNicLocked(const std::string& name, LinkEndpoint* link) {
  int index = static_cast<int>(nics_.size()) + 1;
  nics_.push_back(std::make_unique<Nic>(index, name, link, /*loopback=*/false));
  link->AttachLocked(this, nics_.back().get());
  return nics_.back().get();
}

void Stack::AddAddressLocked(Nic& nic, Ipv4Prefix prefix) {
  nic.AddV4(prefix);
  Ipv4Addr net{prefix.addr.v & prefix.Netmask().v};
  routes_.Add(Route{net, prefix.prefix_len, Ipv4Addr::Any(), &nic});
}

bool Stack::AddDefaultGatewayLocked(Ipv4Addr gateway) {
  for (auto& nic : nics_) {
    if (nic->loopback()) continue;
    for (const auto& p : nic->v4_addresses()) {
      if (gateway.InPrefix(p.addr, p.prefix_len)) {
        routes_.Add(Route{Ipv4Addr::Any(), 0, gateway, nic.get()});
        return true;
      }
    }
  }
  return false;
}

Nic* Stack::FindNic(int index) const {
  for (const auto& nic : nics_)
    if (nic->index() == index) return nic.get();
  return nullptr;
}

Nic* Stack::FindNicByName(const std::string& name) const {
  for (const auto& nic : nics_)
    if (nic->name() == name) return nic.get();
  return nullptr;
}

void Stack::DeliverFrameLocked(Nic& nic, PacketBuffer* frame) {
  if (!nic.link().HasLinkHeader()) {
    ipv4_.ReceiveLocked(nic, frame);
    return;
  }
  stats_.link.rx_frames++;
  stats_.link.rx_bytes += frame->len;
  auto eth = wire::EthernetRepr::Parse(frame->bytes());
  if (!eth) {
    stats_.link.rx_dropped++;
    pool_.Free(frame);
    return;
  }
  if (eth->dst != nic.mac() && !eth->dst.IsBroadcast() && !eth->dst.IsMulticast()) {
    stats_.link.not_for_us++;  // a bridge floods unicast frames for other hosts to us
    pool_.Free(frame);
    return;
  }
  frame->link_multicast = eth->dst.IsMulticast();  // broadcast is a multicast address too
  frame->Pull(wire::EthernetRepr::kHeaderLen);
  switch (static_cast<wire::EtherType>(eth->ethertype)) {
    case wire::EtherType::kIpv4:
      ipv4_.ReceiveLocked(nic, frame);
      return;
    case wire::EtherType::kArp:
      arp_.ReceiveLocked(nic, frame);
      return;
    case wire::EtherType::kIpv6:  // IPv6 arrives with a later issue
      break;
  }
  stats_.link.unknown_ethertype++;
  pool_.Free(frame);
}

bool Stack::IsLocalAddressLocked(Ipv4Addr a) const {
  for (const auto& nic : nics_)
    if (nic->HasAddress(a) || (nic->loopback() && a.IsLoopback())) return true;
  return false;
}

bool Stack::IsBroadcastLocked(Ipv4Addr a) const {
  for (const auto& nic : nics_)
    if (!nic->loopback() && nic->IsBroadcastFor(a)) return true;
  return a.IsBroadcast();
}

Result<RouteResult> Stack::RouteV4Locked(Ipv4Addr dst, Ipv4Addr src, int bound_device) const {
  // 0.0.0.0 as a destination means this host (ip_route_output_key_hash_rcu).
  if (dst.IsAny()) dst = src.IsAny() ? Ipv4Addr::Loopback() : src;
  // Our own addresses go through loopback, as Linux's local routing table sends them.
  if (dst.IsLoopback() || IsLocalAddressLocked(dst)) {
    if (bound_device != 0 && bound_device != kLoopbackIndex && !IsLocalAddressLocked(dst))
      return Error::kNetworkUnreachable;
    Ipv4Addr from = !src.IsAny() ? src : (dst.IsLoopback() ? Ipv4Addr::Loopback() : dst);
    return RouteResult{nics_.front().get(), dst, dst, from, false};
  }
  // A loopback source never leaves the host (__mkroute_output gives EINVAL).
  if (src.IsLoopback()) return Error::kInvalidArgument;
  if (dst.IsBroadcast()) {  // limited broadcast leaves by the first real NIC (or the bound one)
    for (const auto& nic : nics_) {
      if (nic->loopback() || (bound_device != 0 && nic->index() != bound_device)) continue;
      return RouteResult{nic.get(), dst, dst, src.IsAny() ? nic->PrimaryV4For(dst) : src, true};
    }
    return Error::kNetworkUnreachable;
  }
  const Route* r = routes_.Lookup(dst);
  if (!r || r->nic->loopback() || (bound_device != 0 && r->nic->index() != bound_device))
    return Error::kNetworkUnreachable;
  RouteResult out;
  out.nic = r->nic;
  out.dst = dst;
  out.next_hop = r->gateway.IsAny() ? dst : r->gateway;
  out.src = src.IsAny() ? r->nic->PrimaryV4For(out.next_hop) : src;
  out.broadcast = r->nic->IsBroadcastFor(dst);
  return out;
}

void Stack::FlushLocked() {
  loopback_link_->FlushLocked();
  // Before the devices flush, so a wake-up the observer queues leaves in the same submission.
  if (timer_observer_) {
    // Only timers armed since the loop last looked can be earlier than what it sleeps for: no scan
    // of the connections on this path, which every socket call takes.
    Instant next = tcp_.EarliestArmedLocked();
    // A device's deadline too: a fault link holding frames must wake the loop to let them go.
    for (auto& nic : nics_)
      next = std::min({next, nic->arp().NextDeadline(), nic->link().NextDeadlineLocked()});
    if (next < reported_deadline_ && timer_observer_->OnDeadlineChangedLocked(next)) reported_deadline_ = next;
  }
  for (auto& nic : nics_)
    if (!nic->loopback()) nic->link().FlushLocked();
}

Instant Stack::NextDeadlineLocked() {
  Instant next = kNever;
  for (auto& nic : nics_)
    next = std::min({next, nic->arp().NextDeadline(), nic->link().NextDeadlineLocked()});
  return std::min(next, tcp_.NextDeadlineLocked());
}

void Stack::LoopArmedLocked(Instant deadline) {
  reported_deadline_ = deadline;
  tcp_.ResetEarliestArmedLocked();
}

void Stack::RunTimersLocked() {
  // A fresh reporting round: what the timers re-arm now is what the observer hears at the flush.
  LoopArmedLocked(kNever);
  for (auto& nic : nics_) {
    if (nic->loopback()) continue;
    nic->link().RunTimersLocked(now_);  // held frames first: a late ACK may spare a retransmission
    arp_.TimersLocked(*nic);
  }
  tcp_.RunTimersLocked();
}

StackStats Stack::ShownStatsLocked() const {
  StackStats shown = stats_;
  for (const auto& nic : nics_) nic->link().AddKernelCounters(shown.link);
  return shown;
}

}  // namespace tapsock
