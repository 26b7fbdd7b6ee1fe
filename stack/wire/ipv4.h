// IPv4 headers (RFC 791). Parse() is the one validation step for untrusted input, following the
// receive checks of gVisor's ipv4.go: version, IHL, total length against the frame, checksum.
// Address rules (source may not be multicast/broadcast, ...) belong to the network layer.
#pragma once

#include <optional>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"

namespace tapsock::wire {

enum class IpProto : uint8_t { kIcmp = 1, kIgmp = 2, kTcp = 6, kUdp = 17, kIcmpv6 = 58 };

struct Ipv4Repr {
  uint8_t ihl_bytes = 20;
  uint8_t tos = 0;
  uint16_t total_len = 0;
  uint16_t id = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  uint16_t frag_offset = 0;  // in bytes
  uint8_t ttl = 64;
  uint8_t protocol = 0;
  Ipv4Addr src;
  Ipv4Addr dst;

  static constexpr uint32_t kMinHeaderLen = 20;

  // Linux counts kTruncated (shorter than a header) and kHeaderLength as InHdrErrors, and
  // kTotalLength (the header claims more than arrived) as InTruncatedPkts.
  enum class ParseError { kNone, kTruncated, kVersion, kHeaderLength, kTotalLength, kChecksum };

  // Validates the header of `p` (which may carry link padding beyond total_len).
  static std::optional<Ipv4Repr> Parse(std::span<const uint8_t> p, ParseError* why) {
    auto fail = [why](ParseError e) {
      *why = e;
      return std::nullopt;
    };
    if (p.size() < kMinHeaderLen) return fail(ParseError::kTruncated);
    if ((p[0] >> 4) != 4) return fail(ParseError::kVersion);
    Ipv4Repr r;
    r.ihl_bytes = static_cast<uint8_t>((p[0] & 0xf) * 4);
    if (r.ihl_bytes < kMinHeaderLen || r.ihl_bytes > p.size()) return fail(ParseError::kHeaderLength);
    r.tos = p[1];
    r.total_len = Load16(&p[2]);
    if (r.total_len > p.size()) return fail(ParseError::kTotalLength);
    if (r.total_len < r.ihl_bytes) return fail(ParseError::kHeaderLength);
    if (InternetChecksum(p.first(r.ihl_bytes)) != 0) return fail(ParseError::kChecksum);
    r.id = Load16(&p[4]);
    uint16_t frag = Load16(&p[6]);
    r.dont_fragment = frag & 0x4000;
    r.more_fragments = frag & 0x2000;
    r.frag_offset = static_cast<uint16_t>((frag & 0x1fff) * 8);
    r.ttl = p[8];
    r.protocol = p[9];
    r.src.v = Load32(&p[12]);
    r.dst.v = Load32(&p[16]);
    *why = ParseError::kNone;
    return r;
  }

  bool is_fragment() const { return more_fragments || frag_offset != 0; }

  // Writes a 20-byte header (no options) with its checksum.
  void Emit(uint8_t* out) const {
    out[0] = 0x45;
    out[1] = tos;
    Store16(out + 2, total_len);
    Store16(out + 4, id);
    Store16(out + 6, static_cast<uint16_t>((dont_fragment ? 0x4000 : 0) | (more_fragments ? 0x2000 : 0) |
                                           (frag_offset / 8)));
    out[8] = ttl;
    out[9] = protocol;
    Store16(out + 10, 0);
    Store32(out + 12, src.v);
    Store32(out + 16, dst.v);
    Store16(out + 10, InternetChecksum({out, kMinHeaderLen}));
  }
};

// The pseudo-header sum that UDP and TCP checksums start from (RFC 768, RFC 9293 3.1).
inline void AddPseudoHeader(Checksum& c, Ipv4Addr src, Ipv4Addr dst, uint8_t proto, uint16_t len) {
  c.Add32(src.v);
  c.Add32(dst.v);
  c.Add16(proto);
  c.Add16(len);
}

}  // namespace tapsock::wire
