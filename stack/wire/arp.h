// ARP for IPv4 over Ethernet (RFC 826): the only hardware/protocol pair tapsock speaks.
#pragma once

#include <optional>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/bytes.h"

namespace tapsock::wire {

struct ArpRepr {
  enum Op : uint16_t { kRequest = 1, kReply = 2 };
  uint16_t op = kRequest;
  MacAddr sender_mac;
  Ipv4Addr sender_ip;
  MacAddr target_mac;
  Ipv4Addr target_ip;

  static constexpr uint32_t kLen = 28;

  static std::optional<ArpRepr> Parse(std::span<const uint8_t> p) {
    if (p.size() < kLen) return std::nullopt;
    // htype Ethernet, ptype IPv4, hlen 6, plen 4.
    if (Load16(&p[0]) != 1 || Load16(&p[2]) != 0x0800 || p[4] != 6 || p[5] != 4) return std::nullopt;
    ArpRepr r;
    r.op = Load16(&p[6]);
    if (r.op != kRequest && r.op != kReply) return std::nullopt;
    std::memcpy(r.sender_mac.b.data(), &p[8], 6);
    r.sender_ip.v = Load32(&p[14]);
    std::memcpy(r.target_mac.b.data(), &p[18], 6);
    r.target_ip.v = Load32(&p[24]);
    return r;
  }
  void Emit(uint8_t* out) const {
    Store16(out, 1);
    Store16(out + 2, 0x0800);
    out[4] = 6;
    out[5] = 4;
    Store16(out + 6, op);
    std::memcpy(out + 8, sender_mac.b.data(), 6);
    Store32(out + 14, sender_ip.v);
    std::memcpy(out + 18, target_mac.b.data(), 6);
    Store32(out + 24, target_ip.v);
  }
};

}  // namespace tapsock::wire
