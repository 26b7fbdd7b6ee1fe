#include "stack/network/arp_cache.h"

namespace tapsock {

ArpCache::Entry* ArpCache::Find(Ipv4Addr ip) {
  for (auto& e : entries_)
    if (e.ip == ip) return &e;
  return nullptr;
}

ArpCache::Entry* ArpCache::Create(Ipv4Addr ip) {
  if (entries_.size() >= kMaxEntries) {
    // Evict the reachable entry closest to expiry; never one with packets waiting.
    Entry* victim = nullptr;
    for (auto& e : entries_)
      if (e.state == State::kReachable && (!victim || e.deadline < victim->deadline)) victim = &e;
    if (!victim) return nullptr;
    PacketQueue none;
    Remove(victim, none);
  }
  if (entries_.capacity() == 0) entries_.reserve(16);
  entries_.push_back(Entry{});
  entries_.back().ip = ip;
  return &entries_.back();
}

void ArpCache::Remove(Entry* e, PacketQueue& dropped) {
  while (PacketBuffer* p = e->pending.Pop()) dropped.Push(p);
  *e = std::move(entries_.back());
  entries_.pop_back();
}

Instant ArpCache::NextDeadline() const {
  Instant next = kNever;
  for (const auto& e : entries_) next = std::min(next, e.deadline);
  return next;
}

}  // namespace tapsock
