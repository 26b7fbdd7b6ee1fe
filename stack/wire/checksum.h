// The Internet checksum (RFC 1071), accumulated incrementally so a pseudo-header and a payload
// that live in different places can be summed without copying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tapsock::wire {

class Checksum {
 public:
  void Add(std::span<const uint8_t> bytes);
  void Add16(uint16_t v) { sum_ += v; }
  void Add32(uint32_t v) { sum_ += (v >> 16) + (v & 0xffff); }
  // The folded one's-complement of the sum: the value to store in a header.
  uint16_t Finish() const;
  // True when the bytes summed include a correct checksum field (the fold is all ones).
  bool Verifies() const { return Finish() == 0; }

 private:
  uint64_t sum_ = 0;
  bool odd_ = false;  // an odd-length chunk left a high byte pending
};

uint16_t InternetChecksum(std::span<const uint8_t> bytes);

}  // namespace tapsock::wire
