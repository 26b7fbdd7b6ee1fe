#include "shim/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "shim/user_memory.h"

namespace tapsock::shim {

namespace {

constexpr socklen_t kSin6LenRfc2133 = 24;  // sockaddr_in6 without sin6_scope_id

FullAddress FromV4(const sockaddr_in& sin) {
  return {IpAddr::V4({ntohl(sin.sin_addr.s_addr)}), ntohs(sin.sin_port)};
}

}  // namespace

Result<ParsedAddr> ParseSockaddr(int domain, bool v6_only, AddrUse use, const sockaddr* sa, socklen_t len,
                                 int* err) {
  auto fail = [err](int e) -> Result<ParsedAddr> {
    *err = e;
    return Error::kInvalidArgument;
  };
  // move_addr_to_kernel: a negative or oversized length, then the copy itself.
  if (static_cast<int>(len) < 0 || len > sizeof(sockaddr_storage)) return fail(EINVAL);
  if (len > 0 && BadPointer(sa)) return fail(EFAULT);
  sockaddr_storage ss{};
  if (len > 0) std::memcpy(&ss, sa, len);
  sa_family_t family = len >= sizeof(sa_family_t) ? ss.ss_family : AF_UNSPEC;

  ParsedAddr out;
  if (use == AddrUse::kConnect) {
    if (len < sizeof(sa_family_t)) return fail(EINVAL);
    if (family == AF_UNSPEC) {
      out.unspec = true;
      return out;
    }
  }
  if (domain == AF_INET || (domain == AF_INET6 && family == AF_INET && use != AddrUse::kBind)) {
    if (domain == AF_INET6 && v6_only) return fail(use == AddrUse::kSendTo ? ENETUNREACH : EAFNOSUPPORT);
    if (len < sizeof(sockaddr_in)) return fail(EINVAL);
    sockaddr_in sin;
    std::memcpy(&sin, &ss, sizeof sin);
    if (family != AF_INET) {
      // Compatibility games kept by Linux: bind accepts AF_UNSPEC with INADDR_ANY, and
      // udp_sendmsg accepts AF_UNSPEC as AF_INET.
      bool ok = (use == AddrUse::kBind && sin.sin_addr.s_addr == htonl(INADDR_ANY)) || use == AddrUse::kSendTo;
      if (family != AF_UNSPEC || !ok) return fail(EAFNOSUPPORT);
    }
    out.addr = FromV4(sin);
    if (domain == AF_INET6) out.addr.addr = IpAddr::V6(MappedBytes(out.addr.addr.v4()).data());
    return out;
  }
  // AF_INET6 socket, AF_INET6 (or other) address.
  if (use == AddrUse::kSendTo) {
    if (len < offsetof(sockaddr, sa_data)) return fail(EINVAL);
    if (family == AF_UNSPEC) {
      out.unspec = true;
      return out;
    }
    if (family != AF_INET6) return fail(EINVAL);
  }
  if (len < kSin6LenRfc2133) return fail(EINVAL);
  if (family != AF_INET6) return fail(EAFNOSUPPORT);
  sockaddr_in6 sin6{};
  std::memcpy(&sin6, &ss, std::min<size_t>(len, sizeof sin6));
  out.addr = {IpAddr::V6(sin6.sin6_addr.s6_addr), ntohs(sin6.sin6_port)};
  if (use == AddrUse::kSendTo && out.addr.addr.IsV4Mapped() && v6_only) return fail(ENETUNREACH);
  return out;
}

int WriteSockaddr(int domain, const FullAddress& a, sockaddr* out, socklen_t* len) {
  if (BadPointer(len)) return EFAULT;
  sockaddr_storage ss{};
  socklen_t full;
  if (domain == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(a.port);
    sin->sin_addr.s_addr = htonl(a.addr.is_v4() ? a.addr.v4().v : a.addr.MappedV4().v);
    full = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(a.port);
    if (a.addr.is_v4()) {
      auto b = MappedBytes(a.addr.v4());
      std::memcpy(sin6->sin6_addr.s6_addr, b.data(), 16);
    } else {
      std::memcpy(sin6->sin6_addr.s6_addr, a.addr.bytes.data(), 16);
    }
    full = sizeof(sockaddr_in6);
  }
  socklen_t room = *len;
  if (static_cast<int>(room) < 0) return EINVAL;
  socklen_t n = std::min(room, full);
  if (n > 0) {
    if (BadPointer(out)) return EFAULT;
    std::memcpy(out, &ss, n);
  }
  *len = full;
  return 0;
}

}  // namespace tapsock::shim
