// Link and network addresses as value types. An IpAddr holds either family; IPv4 addresses are kept
// in host byte order so prefix and class tests are plain integer operations.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace tapsock {

struct MacAddr {
  std::array<uint8_t, 6> b{};

  static MacAddr Broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  bool IsBroadcast() const { return *this == Broadcast(); }
  bool IsMulticast() const { return b[0] & 1; }
  bool IsZero() const { return *this == MacAddr{}; }
  bool operator==(const MacAddr&) const = default;
  std::string ToString() const;
};

struct Ipv4Addr {
  uint32_t v = 0;  // host byte order

  static constexpr Ipv4Addr Any() { return {0}; }
  static constexpr Ipv4Addr Broadcast() { return {0xffffffff}; }
  static constexpr Ipv4Addr Loopback() { return {0x7f000001}; }
  static constexpr Ipv4Addr FromOctets(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d};
  }
  bool IsAny() const { return v == 0; }
  bool IsBroadcast() const { return v == 0xffffffff; }
  bool IsLoopback() const { return (v >> 24) == 127; }
  bool IsMulticast() const { return (v >> 28) == 0xe; }
  // RFC 1122 3.2.1.3: "this network" (0/8) and class E (240/4) other than limited broadcast.
  bool IsReservedSource() const { return (v >> 24) == 0 || ((v >> 28) == 0xf && !IsBroadcast()); }
  bool InPrefix(Ipv4Addr net, int len) const {
    uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    return (v & mask) == (net.v & mask);
  }
  auto operator<=>(const Ipv4Addr&) const = default;
  std::string ToString() const;
};

// An address of either family. IPv4 is stored both as its own value and as the IPv4-mapped IPv6
// form (::ffff:a.b.c.d), which is what dual-stack AF_INET6 sockets see.
struct IpAddr {
  enum class Family : uint8_t { kV4, kV6 };
  Family family = Family::kV4;
  std::array<uint8_t, 16> bytes{};  // v6 bytes; for v4 the first four bytes hold the address

  static IpAddr V4(Ipv4Addr a) {
    IpAddr r;
    r.family = Family::kV4;
    uint32_t be = __builtin_bswap32(a.v);
    std::memcpy(r.bytes.data(), &be, 4);
    return r;
  }
  static IpAddr V6(const uint8_t b[16]) {
    IpAddr r;
    r.family = Family::kV6;
    std::memcpy(r.bytes.data(), b, 16);
    return r;
  }
  bool is_v4() const { return family == Family::kV4; }
  Ipv4Addr v4() const {
    uint32_t be;
    std::memcpy(&be, bytes.data(), 4);
    return {__builtin_bswap32(be)};
  }
  // ::ffff:a.b.c.d
  bool IsV4Mapped() const {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return family == Family::kV6 && std::memcmp(bytes.data(), kPrefix, 12) == 0;
  }
  Ipv4Addr MappedV4() const {
    uint32_t be;
    std::memcpy(&be, bytes.data() + 12, 4);
    return {__builtin_bswap32(be)};
  }
  bool IsAny() const {
    return is_v4() ? v4().IsAny() : bytes == std::array<uint8_t, 16>{};
  }
  bool operator==(const IpAddr&) const = default;
  std::string ToString() const;
};

// RFC 1112 6.4: an IPv4 group's Ethernet address is its low 23 bits under 01:00:5e.
inline MacAddr MulticastMac(Ipv4Addr group) {
  return MacAddr{{0x01, 0x00, 0x5e, static_cast<uint8_t>((group.v >> 16) & 0x7f),
                  static_cast<uint8_t>(group.v >> 8), static_cast<uint8_t>(group.v)}};
}

// The IPv4-mapped IPv6 form of an IPv4 address.
inline std::array<uint8_t, 16> MappedBytes(Ipv4Addr a) {
  std::array<uint8_t, 16> b{};
  b[10] = b[11] = 0xff;
  uint32_t be = __builtin_bswap32(a.v);
  std::memcpy(b.data() + 12, &be, 4);
  return b;
}

}  // namespace tapsock
