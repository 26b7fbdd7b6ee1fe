// The stack's randomness: ephemeral ports (RFC 6056), IP IDs, later ISNs (RFC 6528). Seeded from
// getrandom(2) so two processes never share a sequence; a test may seed it explicitly.
#pragma once

#include <sys/random.h>

#include <cstdint>

namespace tapsock {

// xoshiro256** : fast, good enough for ports and IDs (ISNs add a keyed hash on top).
class Random {
 public:
  Random() {
    if (getrandom(s_, sizeof s_, 0) != sizeof s_) Seed(0x9e3779b97f4a7c15ull ^ reinterpret_cast<uintptr_t>(this));
  }
  explicit Random(uint64_t seed) { Seed(seed); }
  void Seed(uint64_t seed) {
    for (auto& w : s_) w = seed = seed * 6364136223846793005ull + 1442695040888963407ull;
  }
  uint64_t Next() {
    uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n).
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>((Next() >> 32) * n >> 32); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace tapsock
