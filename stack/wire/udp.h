// UDP headers (RFC 768). Parse() checks the length field against the IP payload; the checksum
// needs the pseudo-header and is verified by the transport layer with VerifyUdpChecksum.
#pragma once

#include <optional>
#include <span>

#include "stack/wire/ipv4.h"

namespace tapsock::wire {

struct UdpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t length = 0;  // header + payload
  uint16_t checksum = 0;

  static constexpr uint32_t kHeaderLen = 8;

  static std::optional<UdpRepr> Parse(std::span<const uint8_t> p) {
    if (p.size() < kHeaderLen) return std::nullopt;
    UdpRepr r{Load16(&p[0]), Load16(&p[2]), Load16(&p[4]), Load16(&p[6])};
    if (r.length < kHeaderLen || r.length > p.size()) return std::nullopt;
    return r;
  }
  // Writes the header at `out` (payload follows) with the checksum over the pseudo-header.
  void EmitV4(uint8_t* out, Ipv4Addr src, Ipv4Addr dst) const {
    Store16(out, src_port);
    Store16(out + 2, dst_port);
    Store16(out + 4, length);
    Store16(out + 6, 0);
    Checksum c;
    AddPseudoHeader(c, src, dst, static_cast<uint8_t>(IpProto::kUdp), length);
    c.Add({out, length});
    uint16_t sum = c.Finish();
    Store16(out + 6, sum == 0 ? 0xffff : sum);  // RFC 768: a computed zero is sent as all ones
  }
};

// `datagram` is the UDP header plus payload (exactly `length` bytes).
inline bool VerifyUdpChecksumV4(std::span<const uint8_t> datagram, Ipv4Addr src, Ipv4Addr dst) {
  if (Load16(&datagram[6]) == 0) return true;  // sender did not compute one (allowed over IPv4)
  Checksum c;
  AddPseudoHeader(c, src, dst, static_cast<uint8_t>(IpProto::kUdp), static_cast<uint16_t>(datagram.size()));
  c.Add(datagram);
  return c.Verifies();
}

}  // namespace tapsock::wire
