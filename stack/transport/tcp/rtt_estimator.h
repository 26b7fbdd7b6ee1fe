// The retransmission timer's duration (RFC 6298): smoothed RTT and its variation from the samples
// the ACK path takes, the RTO derived from them, and exponential backoff while retransmissions
// time out. The Linux counterpart is tcp_rtt_estimator() and tcp_set_rto() in tcp_input.c. This
// class only computes durations; the control block keeps the timer's deadline (now + Rto()).
//
// Karn's rule (RFC 6298 3) is the caller's job: never Sample() an RTT from a segment that was
// retransmitted, because its ACK is ambiguous. With timestamps (RFC 7323 4.1) every echoed TSecr
// gives a valid sample, retransmitted or not. On a retransmission timeout the caller calls
// Backoff() (RFC 6298 5.5); the backed-off RTO stays until the next valid sample (Karn's algorithm,
// and Linux's tcp_ack_update_rtt).
//
// Deviations from RFC 6298, both Linux's: the minimum RTO is 200 ms (TCP_RTO_MIN), not the RFC's
// 1 s (2.4), because a 1 s floor makes every tail loss on a LAN cost a second; and the maximum is
// 120 s (TCP_RTO_MAX), above the RFC's floor of 60 s for a maximum (2.5). Linux also puts its
// minimum under the variance term (RTO >= SRTT + 200 ms); we clamp the whole RTO as the RFC does.
//
// Times are int64_t nanoseconds (stack/base/clock.h). Not thread-safe: owned by one connection,
// under the stack lock.
#pragma once

#include <cstdint>

#include "stack/base/clock.h"

namespace tapsock::tcp {

class RttEstimator {
 public:
  static constexpr int64_t kInitialRto = 1 * kSecond;        // RFC 6298 2.1, Linux TCP_TIMEOUT_INIT
  static constexpr int64_t kMinRto = 200 * kMillisecond;     // Linux TCP_RTO_MIN (RFC 6298: 1 s)
  static constexpr int64_t kMaxRto = 120 * kSecond;          // Linux TCP_RTO_MAX
  static constexpr int64_t kGranularity = 1 * kMillisecond;  // G: our timers' resolution
  // RFC 6298 5.7: when the SYN or SYN-ACK was retransmitted and no RTT was sampled, data
  // transmission starts with a 3 s RTO (Linux's TCP_TIMEOUT_FALLBACK).
  static constexpr int64_t kFallbackRto = 3 * kSecond;

  // A round-trip time measurement in nanoseconds (RFC 6298 2.2, 2.3). Negative samples (a clock
  // or timestamp echo gone wrong) are ignored. A sample resets the backoff.
  void Sample(int64_t rtt_ns);

  // The current retransmission timeout in nanoseconds, backoff included, in [kMinRto, kMaxRto].
  int64_t Rto() const;

  // RFC 6298 5.5: the timer expired; the next RTO is twice this one, capped at kMaxRto.
  void Backoff();
  void ResetBackoff() { backoffs_ = 0; }
  // Consecutive backoffs since the last valid sample (Linux's icsk_backoff), which the caller can
  // compare with its retry limits.
  int backoffs() const { return backoffs_; }

  // RFC 6298 5.7 (see kFallbackRto): call once the handshake completes if it needed a retransmit.
  // Has no effect once a sample was taken.
  void UseFallbackRto();

  bool has_sample() const { return has_sample_; }
  int64_t srtt() const { return srtt_; }      // 0 before the first sample
  int64_t rttvar() const { return rttvar_; }  // 0 before the first sample
  // Smallest sample seen over the connection's life (0 before the first one). Linux keeps a
  // windowed minimum (tcp_min_rtt_wlen, 300 s); a route change that raises the RTT is not
  // followed here.
  int64_t min_rtt() const { return min_rtt_; }

 private:
  int64_t srtt_ = 0;
  int64_t rttvar_ = 0;
  int64_t min_rtt_ = 0;
  int64_t initial_rto_ = kInitialRto;
  int backoffs_ = 0;
  bool has_sample_ = false;
};

}  // namespace tapsock::tcp
