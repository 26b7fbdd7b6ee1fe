#include "stack/wire/address.h"

#include <arpa/inet.h>

#include <cstdio>

namespace tapsock {

std::string MacAddr::ToString() const {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return s;
}

std::string Ipv4Addr::ToString() const {
  char s[16];
  std::snprintf(s, sizeof s, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  return s;
}

std::string IpAddr::ToString() const {
  if (is_v4()) return v4().ToString();
  char s[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, bytes.data(), s, sizeof s);
  return s;
}

}  // namespace tapsock
