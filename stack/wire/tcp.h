// TCP headers and options (RFC 9293 3.1-3.2, RFC 7323, RFC 2018). TcpRepr::Parse() is the one
// validation step for every TCP segment handed up by IPv4 (or IPv6): the data offset against the
// segment, then each option's length against the header, so nothing after it can read out of
// bounds. It does not look at the checksum, which needs the pseudo-header: the TCP layer checks it
// with VerifyTcpChecksumV4/V6 first. Which options count (MSS and window scale only on a SYN, SACK
// blocks only once SACK is permitted) is also the TCP layer's decision; Parse reports what is
// there.
//
// Emit() writes a header and options in the byte layout Linux sends (tcp_options_write), so
// captures of tapsock and Linux peers read alike, and computes the checksum over the payload that
// the caller has already placed after the header.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "stack/wire/address.h"
#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"
#include "stack/wire/ipv4.h"

namespace tapsock::wire {

// Option kinds (IANA "TCP Option Kind Numbers").
enum class TcpOptionKind : uint8_t {
  kEol = 0,
  kNop = 1,
  kMss = 2,
  kWindowScale = 3,
  kSackPermitted = 4,
  kSack = 5,
  kTimestamps = 8,
};

struct TcpOptions {
  std::optional<uint16_t> mss;          // 0 is kept as 0: the caller decides what it means
  std::optional<uint8_t> window_scale;  // parsed values above 14 are clamped (RFC 7323 2.3)
  bool sack_permitted = false;
  std::optional<std::pair<uint32_t, uint32_t>> timestamps;  // TSval, TSecr
  uint8_t sack_count = 0;
  std::array<std::pair<uint32_t, uint32_t>, 4> sack_blocks{};  // raw left, right edges

  static constexpr uint8_t kMaxWindowScale = 14;  // RFC 7323 2.3
  static constexpr uint8_t kMaxSackBlocks = 4;    // 2 + 8 * 4 = 34 of the 40 option bytes
};

struct TcpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;  // as on the wire, before window scaling
  uint16_t urgent = 0;
  TcpOptions options;
  // Set by Parse (the data offset in bytes; the payload starts here). Emit ignores it and writes
  // HeaderLength(), which follows from `options`.
  uint8_t header_len = kMinHeaderLen;

  static constexpr uint8_t kFin = 0x01;
  static constexpr uint8_t kSyn = 0x02;
  static constexpr uint8_t kRst = 0x04;
  static constexpr uint8_t kPsh = 0x08;
  static constexpr uint8_t kAck = 0x10;
  static constexpr uint8_t kUrg = 0x20;
  static constexpr uint8_t kEce = 0x40;
  static constexpr uint8_t kCwr = 0x80;

  static constexpr uint32_t kMinHeaderLen = 20;
  static constexpr uint32_t kMaxHeaderLen = 60;  // data offset is 4 bits of 32-bit words
  static constexpr uint32_t kMaxOptionsLen = kMaxHeaderLen - kMinHeaderLen;

  // Field offsets within the header.
  static constexpr uint32_t kSrcPortOffset = 0;
  static constexpr uint32_t kDstPortOffset = 2;
  static constexpr uint32_t kSeqOffset = 4;
  static constexpr uint32_t kAckOffset = 8;
  static constexpr uint32_t kDataOffsetOffset = 12;  // high nibble; the low nibble is reserved
  static constexpr uint32_t kFlagsOffset = 13;
  static constexpr uint32_t kWindowOffset = 14;
  static constexpr uint32_t kChecksumOffset = 16;
  static constexpr uint32_t kUrgentOffset = 18;

  // Every reason is a drop (Linux counts them all as TcpInErrs). kOptionLength is RFC 9293's
  // "illegal option length" (MUST-7): a length below 2, or one that runs past the header, leaves no
  // way to find the next option, so the segment is rejected rather than half-parsed. (Linux stops
  // parsing there and keeps the segment; a known option whose length is merely wrong but fits is
  // ignored, as Linux does.)
  enum class ParseError { kNone, kTruncated, kDataOffset, kOptionLength };

  // Validates the header at the start of `segment` (header + payload, as delimited by IP).
  static std::optional<TcpRepr> Parse(std::span<const uint8_t> segment, ParseError* why);

  // Option bytes Emit() writes: always a multiple of 4 and at most kMaxOptionsLen (SACK blocks that
  // do not fit are left out, see EmittedSackBlocks).
  uint32_t OptionsLength() const;
  uint32_t HeaderLength() const { return kMinHeaderLen + OptionsLength(); }
  // How many of options.sack_blocks Emit() writes: sack_count, capped at 4 and at what fits beside
  // the other options (3 with timestamps), keeping the first ones (RFC 2018 4: the first block
  // reports the most recently received data).
  uint8_t EmittedSackBlocks() const;

  // Writes HeaderLength() bytes at `out` and the checksum over them plus the `payload_len` bytes
  // already at out + HeaderLength(), with the IPv4 pseudo-header for src -> dst.
  void Emit(uint8_t* out, uint32_t payload_len, Ipv4Addr src, Ipv4Addr dst) const;
  // Writes HeaderLength() bytes at `out` with a zero checksum field, for a device that computes it
  // (checksum offload fills the field with the pseudo-header sum first).
  void EmitNoChecksum(uint8_t* out) const;

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
};

// RFC 9293 3.1: the checksum over the pseudo-header and `segment` (header + payload). With the
// checksum field zeroed this is the value to store; over a segment carrying a correct checksum it
// is 0. Unlike UDP, TCP has no "no checksum" value, so 0 is stored as computed.
inline uint16_t TcpChecksumV4(std::span<const uint8_t> segment, Ipv4Addr src, Ipv4Addr dst) {
  Checksum c;
  AddPseudoHeader(c, src, dst, static_cast<uint8_t>(IpProto::kTcp),
                  static_cast<uint16_t>(segment.size()));
  c.Add(segment);
  return c.Finish();
}
inline bool VerifyTcpChecksumV4(std::span<const uint8_t> segment, Ipv4Addr src, Ipv4Addr dst) {
  return TcpChecksumV4(segment, src, dst) == 0;
}

// The same over the IPv6 pseudo-header (RFC 8200 8.1: addresses, 32-bit upper-layer length,
// next header).
inline uint16_t TcpChecksumV6(std::span<const uint8_t> segment, const std::array<uint8_t, 16>& src,
                              const std::array<uint8_t, 16>& dst) {
  Checksum c;
  c.Add(src);
  c.Add(dst);
  c.Add32(static_cast<uint32_t>(segment.size()));
  c.Add16(static_cast<uint8_t>(IpProto::kTcp));
  c.Add(segment);
  return c.Finish();
}
inline bool VerifyTcpChecksumV6(std::span<const uint8_t> segment,
                                const std::array<uint8_t, 16>& src,
                                const std::array<uint8_t, 16>& dst) {
  return TcpChecksumV6(segment, src, dst) == 0;
}

}  // namespace tapsock::wire
