// Internet checksum: sums 32 bits at a time into a 64-bit accumulator, folding once at the end.
#include "stack/wire/checksum.h"

#include <cstring>

namespace tapsock::wire {

void Checksum::Add(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  if (n == 0) return;
  if (odd_) {  // finish the 16-bit word the previous chunk started
    sum_ += *p++;
    --n;
    odd_ = false;
  }
  while (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    w = __builtin_bswap32(w);
    sum_ += (w >> 16) + (w & 0xffff);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    sum_ += (static_cast<uint32_t>(p[0]) << 8) | p[1];
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    sum_ += static_cast<uint32_t>(p[0]) << 8;
    odd_ = true;
  }
}

uint16_t Checksum::Finish() const {
  uint64_t s = sum_;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s & 0xffff);
}

uint16_t InternetChecksum(std::span<const uint8_t> bytes) {
  Checksum c;
  c.Add(bytes);
  return c.Finish();
}

}  // namespace tapsock::wire
