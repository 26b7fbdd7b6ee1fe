#include "stack/network/route_table.h"

namespace tapsock {

const Route* RouteTable::Lookup(Ipv4Addr dst) const {
  const Route* best = nullptr;
  for (const auto& r : routes_)
    if (dst.InPrefix(r.dest, r.prefix_len) && (!best || r.prefix_len > best->prefix_len)) best = &r;
  return best;
}

}  // namespace tapsock
