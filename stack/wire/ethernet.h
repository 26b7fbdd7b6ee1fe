// Ethernet II frames (no 802.1Q tags: a tagged frame is an unknown EtherType and dropped).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/bytes.h"

namespace tapsock::wire {

enum class EtherType : uint16_t { kIpv4 = 0x0800, kArp = 0x0806, kIpv6 = 0x86dd };

struct EthernetRepr {
  MacAddr dst;
  MacAddr src;
  uint16_t ethertype = 0;

  static constexpr uint32_t kHeaderLen = 14;

  // Validates the length; the payload is bytes[kHeaderLen:].
  static std::optional<EthernetRepr> Parse(std::span<const uint8_t> frame) {
    if (frame.size() < kHeaderLen) return std::nullopt;
    EthernetRepr r;
    std::memcpy(r.dst.b.data(), frame.data(), 6);
    std::memcpy(r.src.b.data(), frame.data() + 6, 6);
    r.ethertype = Load16(frame.data() + 12);
    return r;
  }
  void Emit(uint8_t* out) const {
    std::memcpy(out, dst.b.data(), 6);
    std::memcpy(out + 6, src.b.data(), 6);
    Store16(out + 12, ethertype);
  }
};

}  // namespace tapsock::wire
