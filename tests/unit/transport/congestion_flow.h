// A bulk sender for the congestion control tests (tcp_congestion_test.cc, tcp_cubic_test.cc): one
// connection's window, a manual clock, and ACK rounds that keep the window full.
#pragma once

#include <algorithm>
#include <memory>

#include "stack/transport/tcp/congestion_control.h"

namespace tapsock::test {

using tcp::CongestionControl;
using tcp::MakeCongestionControl;

constexpr uint32_t kMss = 1000;
constexpr int64_t kRtt = 100 * kMillisecond;

constexpr uint32_t Segs(uint32_t n) {
  return n * kMss;
}
inline double InSegs(uint32_t bytes) {
  return static_cast<double>(bytes) / kMss;
}

// One connection's window and a bulk sender that keeps it full. A round acknowledges the window as
// it stood when the round began, one ACK per `per_ack` bytes (the last one covering what is left),
// spread evenly over one RTT.
struct Flow {
  explicit Flow(const char* name) : cc(MakeCongestionControl(name)) { cc->Init(kMss, now); }

  void Ack(uint32_t bytes) { cc->OnAck(bytes, rtt, cc->cwnd(), now); }
  void Round(uint32_t per_ack = kMss) {
    const uint32_t window = cc->cwnd();
    const uint32_t acks = (window + per_ack - 1) / per_ack;
    for (uint32_t done = 0; done < window; done += per_ack, now += rtt / acks) {
      Ack(std::min(per_ack, window - done));
    }
  }
  void RunFor(double seconds) {
    const Instant until = now + static_cast<Instant>(seconds * kSecond);
    while (now < until) {
      const uint32_t acks = std::max<uint32_t>(1, cc->cwnd() / kMss);
      for (uint32_t i = 0; i < acks && now < until; ++i, now += rtt / acks) Ack(kMss);
    }
  }
  // Slow start, one segment per ACK, to exactly `segments`.
  void GrowTo(uint32_t segments) {
    while (cc->cwnd() < Segs(segments)) Ack(kMss);
  }
  // A loss with the window full, recovered at once.
  void Loss() {
    cc->OnCongestionEvent(cc->cwnd(), now);
    cc->OnRecoveryExit(now);
  }

  std::unique_ptr<CongestionControl> cc;
  Instant now = 10 * kSecond;
  int64_t rtt = kRtt;
};

}  // namespace tapsock::test
