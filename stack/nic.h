// A network interface: a link device plus the addresses and neighbour cache that belong to it.
// Answers the SIOCGIF* ioctls (name, index, flags, MTU, addresses) as well as routing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "stack/network/arp_cache.h"
#include "stack/registration.h"
#include "stack/wire/address.h"

namespace tapsock {

struct Ipv4Prefix {
  Ipv4Addr addr;
  int prefix_len = 0;

  Ipv4Addr SubnetBroadcast() const {
    uint32_t host = prefix_len >= 32 ? 0 : ~uint32_t{0} >> prefix_len;
    return {addr.v | host};
  }
  Ipv4Addr Netmask() const { return {prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len)}; }
};

class Nic {
 public:
  Nic(int index, std::string name, LinkEndpoint* link, bool loopback)
      : index_(index), name_(std::move(name)), link_(link), loopback_(loopback) {}

  int index() const { return index_; }
  const std::string& name() const { return name_; }
  LinkEndpoint& link() { return *link_; }
  const LinkEndpoint& link() const { return *link_; }
  bool loopback() const { return loopback_; }
  uint32_t mtu() const { return link_->Mtu(); }
  MacAddr mac() const { return link_->LinkAddress(); }

  const std::vector<Ipv4Prefix>& v4_addresses() const { return v4_; }
  void AddV4(Ipv4Prefix p) { v4_.push_back(p); }
  std::vector<std::array<uint8_t, 16>>& v6_addresses() { return v6_; }

  bool HasAddress(Ipv4Addr a) const {
    for (const auto& p : v4_)
      if (p.addr == a) return true;
    return false;
  }
  // A subnet-directed broadcast of one of our prefixes (RFC 919/922), or the limited broadcast.
  bool IsBroadcastFor(Ipv4Addr a) const {
    if (a.IsBroadcast()) return true;
    for (const auto& p : v4_)
      if (p.prefix_len < 31 && p.SubnetBroadcast() == a) return true;
    return false;
  }
  // The address to send from towards `dst`: one whose subnet holds it, else the first.
  Ipv4Addr PrimaryV4For(Ipv4Addr dst) const {
    for (const auto& p : v4_)
      if (dst.InPrefix(p.addr, p.prefix_len)) return p.addr;
    return v4_.empty() ? Ipv4Addr{} : v4_.front().addr;
  }

  ArpCache& arp() { return arp_; }

 private:
  int index_;
  std::string name_;
  LinkEndpoint* link_;
  bool loopback_;
  std::vector<Ipv4Prefix> v4_;
  std::vector<std::array<uint8_t, 16>> v6_;  // configured; IPv6 traffic arrives with a later issue
  ArpCache arp_;
};

}  // namespace tapsock
