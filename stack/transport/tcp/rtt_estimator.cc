// RFC 6298 RTT estimation and RTO computation; see rtt_estimator.h for who calls what. Integer
// nanoseconds throughout: alpha = 1/8 and beta = 1/4 become exact divisions, and the rounding they
// lose (under a nanosecond a sample) is far below the timer granularity G.
#include "stack/transport/tcp/rtt_estimator.h"

#include <algorithm>

namespace tapsock::tcp {

void RttEstimator::Sample(int64_t rtt_ns) {
  if (rtt_ns < 0) return;
  if (!has_sample_) {
    // RFC 6298 2.2: the first measurement R sets SRTT <- R, RTTVAR <- R/2.
    srtt_ = rtt_ns;
    rttvar_ = rtt_ns / 2;
    min_rtt_ = rtt_ns;
    has_sample_ = true;
  } else {
    // RFC 6298 2.3, in this order (RTTVAR uses the SRTT from before this sample):
    //   RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|,  beta = 1/4
    //   SRTT <- (1 - alpha) * SRTT + alpha * R',              alpha = 1/8
    const int64_t err = srtt_ > rtt_ns ? srtt_ - rtt_ns : rtt_ns - srtt_;
    rttvar_ = (3 * rttvar_ + err) / 4;
    srtt_ = (7 * srtt_ + rtt_ns) / 8;
    min_rtt_ = std::min(min_rtt_, rtt_ns);
  }
  // Only a valid measurement ends a backoff (Linux's tcp_ack_update_rtt): an ACK of a
  // retransmitted segment proves nothing about the path's current RTT.
  backoffs_ = 0;
}

int64_t RttEstimator::Rto() const {
  // RFC 6298 2.1 before any sample, else 2.3: RTO <- SRTT + max(G, K * RTTVAR), K = 4; then the
  // bounds of 2.4 and 2.5.
  int64_t rto = has_sample_ ? srtt_ + std::max(kGranularity, 4 * rttvar_) : initial_rto_;
  rto = std::clamp(rto, kMinRto, kMaxRto);
  // RFC 6298 5.5: each expiry doubled the timer. Doubling stops at the cap, so the shift never
  // overflows however many backoffs the caller allows.
  for (int i = 0; i < backoffs_ && rto < kMaxRto; ++i) rto *= 2;
  return std::min(rto, kMaxRto);
}

void RttEstimator::Backoff() {
  // Counted past the cap: the caller's retry limits (Linux's tcp_retries2) count expiries.
  if (backoffs_ < INT32_MAX) ++backoffs_;
}

void RttEstimator::UseFallbackRto() {
  if (!has_sample_) initial_rto_ = kFallbackRto;
}

}  // namespace tapsock::tcp
