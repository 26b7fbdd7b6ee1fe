// IPv4 routes: on-link prefixes of each NIC and gateways, chosen by longest prefix (then by
// insertion order). Local addresses are routed through loopback, as Linux's local table does.
#pragma once

#include <optional>
#include <vector>

#include "stack/base/result.h"
#include "stack/wire/address.h"

namespace tapsock {

class Nic;

struct Route {
  Ipv4Addr dest;
  int prefix_len = 0;
  Ipv4Addr gateway;  // Any() for on-link
  Nic* nic = nullptr;
};

// What the output path needs: the NIC, the next hop on it, and the source address to use.
struct RouteResult {
  Nic* nic = nullptr;
  Ipv4Addr dst;
  Ipv4Addr next_hop;
  Ipv4Addr src;
  bool broadcast = false;  // limited or subnet-directed broadcast: link broadcast, needs SO_BROADCAST
};

class RouteTable {
 public:
  void Add(const Route& r) { routes_.push_back(r); }
  const Route* Lookup(Ipv4Addr dst) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace tapsock
