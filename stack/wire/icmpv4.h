// ICMPv4 (RFC 792): the fixed 8-byte header; the rest is type-specific payload.
#pragma once

#include <optional>
#include <span>

#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"

namespace tapsock::wire {

struct Icmpv4Repr {
  enum Type : uint8_t {
    kEchoReply = 0,
    kDestUnreachable = 3,
    kSourceQuench = 4,  // deprecated (RFC 6633); counted, never acted on
    kRedirect = 5,
    kEchoRequest = 8,
    kTimeExceeded = 11,
    kParamProblem = 12,
    kTimestamp = 13,
    kTimestampReply = 14,
  };
  enum UnreachCode : uint8_t { kNetUnreach = 0, kHostUnreach = 1, kProtoUnreach = 2, kPortUnreach = 3,
                               kFragNeeded = 4 };
  uint8_t type = 0;
  uint8_t code = 0;
  uint32_t rest = 0;  // identifier/sequence for echo, unused or MTU for errors

  static constexpr uint32_t kHeaderLen = 8;

  // Validates length and checksum over the whole message.
  static std::optional<Icmpv4Repr> Parse(std::span<const uint8_t> p) {
    if (p.size() < kHeaderLen || InternetChecksum(p) != 0) return std::nullopt;
    return Icmpv4Repr{p[0], p[1], Load32(&p[4])};
  }
  // Writes the header and the checksum over header + payload (payload already at out + 8).
  void Emit(uint8_t* out, uint32_t payload_len) const {
    out[0] = type;
    out[1] = code;
    Store16(out + 2, 0);
    Store32(out + 4, rest);
    Store16(out + 2, InternetChecksum({out, kHeaderLen + payload_len}));
  }
};

}  // namespace tapsock::wire
