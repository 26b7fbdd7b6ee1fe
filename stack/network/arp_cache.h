// The neighbour cache of one NIC (RFC 826, with the timers of RFC 1122 2.3.2.1). State only: the
// protocol that fills it and sends requests lives in network/arp.cc.
//
// An entry is INCOMPLETE while requests are outstanding (packets wait in a small bounded queue),
// REACHABLE once a reply or request from the neighbour taught us its address, and is forgotten
// kReachableTime later so a moved address is learned again. Not thread-safe: under the stack lock.
#pragma once

#include <vector>

#include "stack/base/clock.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/wire/address.h"

namespace tapsock {

class ArpCache {
 public:
  enum class State : uint8_t { kIncomplete, kReachable };
  struct Entry {
    Ipv4Addr ip;
    MacAddr mac;
    State state = State::kIncomplete;
    Instant deadline = kNever;  // next retransmission (INCOMPLETE) or expiry (REACHABLE)
    int requests_sent = 0;
    PacketQueue pending;  // IP packets waiting for this neighbour, oldest first
  };

  static constexpr size_t kMaxEntries = 512;
  // Per neighbour: Linux queues unres_qlen_bytes (212992) of truesize, which its sysctl reports as
  // unres_qlen 101 packets; the oldest goes first beyond that.
  static constexpr size_t kMaxPending = 101;
  static constexpr int kMaxRequests = 3;    // Linux's mcast_solicit
  static constexpr Instant kRetransmitTime = 1 * kSecond;
  static constexpr Instant kReachableTime = 60 * kSecond;

  Entry* Find(Ipv4Addr ip);
  // A new INCOMPLETE entry, or nullptr when the cache is full of entries still resolving.
  Entry* Create(Ipv4Addr ip);
  // Removes an entry; its pending packets go to `dropped` for the caller to dispose of.
  void Remove(Entry* e, PacketQueue& dropped);
  std::vector<Entry>& entries() { return entries_; }
  Instant NextDeadline() const;

 private:
  std::vector<Entry> entries_;
};

}  // namespace tapsock
