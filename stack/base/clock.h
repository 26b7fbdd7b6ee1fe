// Time as the stack sees it. Protocol code never reads the clock: callers pass `now` in, timers are
// deadline fields, and unit tests drive a manual clock without sleeping (smoltcp's poll/poll_at).
#pragma once

#include <cstdint>
#include <ctime>

namespace tapsock {

// Monotonic nanoseconds.
using Instant = int64_t;
constexpr Instant kNever = INT64_MAX;
constexpr int64_t kMillisecond = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;

inline Instant MonotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Instant>(ts.tv_sec) * kSecond + ts.tv_nsec;
}

inline int64_t RealtimeNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kSecond + ts.tv_nsec;
}

}  // namespace tapsock
