// "cubic": RFC 9438 CUBIC, Linux's default (tcp_cubic.c). After a loss the window follows
//   W_cubic(t) = C * (t - K)^3 + W_max,  K = cbrt((W_max - cwnd_epoch) / C)   (RFC 9438 4.2)
// in segments, t seconds since congestion avoidance began: concave up to the W_max where the last
// loss happened, flat around it, then convex as it probes beyond. Below that runs a Reno-friendly
// estimate W_est (4.3), so short-RTT, small-window paths do at least as well as Reno would.
//
// C = 0.4, beta_cubic = 0.7 and fast convergence on (4.7), as in the RFC and Linux. Windows are
// doubles in segments where the RFC computes, cwnd stays bytes; sub-byte growth is carried over
// to the next ACK. RTT in t + RTT is the minimum sampled RTT, as Linux's delay_min. The epoch
// clock stops while the sender is not cwnd-limited or idle, which RFC 9438 5.8 asks for.
//
// Not implemented: HyStart/HyStart++ (RFC 9406, optional in RFC 9438 4.10; slow start here is
// plain RFC 5681 until the first loss), ECN's reduction to 1 SMSS minimum (no ECN yet), and undo
// after a spurious loss (4.9). W_max counts segments of the MSS at the time of the loss: after an
// MSS change it is off until the next one.
// Not thread-safe, like its interface.
#include <algorithm>
#include <cmath>

#include "stack/transport/tcp/congestion_control.h"

namespace tapsock::tcp {
namespace {

class Cubic final : public CongestionControl {
 public:
  static constexpr double kC = 0.4;     // RFC 9438 4.1.1
  static constexpr double kBeta = 0.7;  // beta_cubic, RFC 9438 4.1.1
  // RFC 9438 4.3: Reno-friendly additive increase per RTT while W_est < cwnd_prior.
  static constexpr double kAlphaCubic = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

  const char* name() const override { return "cubic"; }

  void Init(uint32_t mss, Instant now) override {
    InitWindow(mss);
    w_max_ = 0;
    cwnd_prior_ = 0;
    w_est_ = 0;
    k_ = 0;
    carry_ = 0;
    in_epoch_ = false;
    epoch_start_ = now;
    last_ack_ = now;
    min_rtt_ = 0;
  }

  void OnAck(uint32_t acked, int64_t rtt_ns, uint32_t bytes_in_flight, Instant now) override {
    NoteNewDataAcked();
    if (rtt_ns > 0) min_rtt_ = min_rtt_ == 0 ? rtt_ns : std::min(min_rtt_, rtt_ns);
    if (!IsCwndLimited(bytes_in_flight)) {
      // RFC 9438 5.8: t must not count time when the application, not cwnd, limited sending.
      PauseEpoch(now);
      return;
    }
    last_ack_ = now;
    if (InSlowStart()) {
      acked = SlowStart(acked);
      if (acked == 0) return;
    }
    CongestionAvoidance(acked, now);
  }

  void OnCongestionEvent(uint32_t /*bytes_in_flight*/, Instant /*now*/) override {
    NoteRecoveryStart();
    Reduce();
    // RFC 9438 4.6: cwnd = max(ssthresh, 2 SMSS), and ssthresh is at least 2 SMSS already.
    s_.cwnd = s_.ssthresh;
  }

  void OnRetransmitTimeout(uint32_t /*bytes_in_flight*/, Instant /*now*/) override {
    // RFC 9438 4.8: Reno's cwnd = 1 SMSS, but ssthresh from beta_cubic. The first congestion
    // avoidance stage afterwards uses K = 0 and W_max = the cwnd it starts with, which
    // W_max = 0 arranges in StartEpoch (Linux's bictcp_reset in TCP_CA_Loss).
    if (NoteTimeout()) Reduce();
    s_.cwnd = s_.mss;
    w_max_ = 0;
    in_epoch_ = false;
  }

  void OnIdleRestart(Instant now) override {
    PauseEpoch(now);
    CongestionControl::OnIdleRestart(now);
  }

 private:
  double Segments(uint32_t bytes) const { return static_cast<double>(bytes) / s_.mss; }

  // RFC 9438 4.6 (Figure 5) and 4.7: remember where the loss happened and cut by beta_cubic.
  // ssthresh comes from cwnd, not FlightSize: Linux's choice, which 4.6 permits when cwnd cannot
  // grow beyond what is in flight, as IsCwndLimited ensures.
  void Reduce() {
    const double cwnd = Segments(s_.cwnd);
    // Fast convergence: a loss below the previous W_max means a new flow is taking bandwidth;
    // plateau lower to release some of it.
    w_max_ = cwnd < w_max_ ? cwnd * (1.0 + kBeta) / 2.0 : cwnd;
    cwnd_prior_ = cwnd;
    const auto reduced = static_cast<uint32_t>(std::llround(s_.cwnd * kBeta));  // 0.7 is inexact
    s_.ssthresh = std::max(reduced, 2 * s_.mss);
    in_epoch_ = false;  // the time origin moves to the next congestion avoidance stage
    carry_ = 0;
  }

  void StartEpoch(Instant now) {
    const double cwnd = Segments(s_.cwnd);
    in_epoch_ = true;
    epoch_start_ = now;
    if (cwnd < w_max_) {
      k_ = std::cbrt((w_max_ - cwnd) / kC);  // RFC 9438 Figure 2
    } else {
      k_ = 0;  // starting at or above the old plateau (after an RTO): only convex growth
      w_max_ = cwnd;
    }
    w_est_ = cwnd;  // RFC 9438 4.3: W_est starts at cwnd_epoch
    carry_ = 0;
  }

  // Stops the epoch clock from counting the time since the last ACK that found us cwnd-limited.
  void PauseEpoch(Instant now) {
    if (in_epoch_ && now > last_ack_) epoch_start_ += now - last_ack_;
    last_ack_ = now;
  }

  double WCubic(double t) const { return kC * (t - k_) * (t - k_) * (t - k_) + w_max_; }

  void CongestionAvoidance(uint32_t acked, Instant now) {
    if (!in_epoch_) StartEpoch(now);
    const double cwnd = Segments(s_.cwnd);
    const double t = static_cast<double>(now - epoch_start_) / kSecond;
    const double rtt = static_cast<double>(min_rtt_) / kSecond;

    // RFC 9438 4.3: W_est grows alpha_cubic segments per window acknowledged, then Reno's one
    // segment once it has passed the window the last reduction started from.
    const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlphaCubic;
    w_est_ += alpha * Segments(acked) / cwnd;

    if (WCubic(t) < w_est_) {
      // Reno-friendly region: cwnd = W_est.
      const double w_est_bytes = w_est_ * s_.mss;
      if (w_est_bytes > s_.cwnd) {
        AddToCwnd(static_cast<uint64_t>(std::min<double>(w_est_bytes, kMaxCwnd)) - s_.cwnd);
      }
      return;
    }
    // RFC 9438 4.4 and 4.5 (concave and convex regions): aim for where the curve will be one RTT
    // from now, between no growth and 1.5x per RTT, and close (target - cwnd) / cwnd of the gap
    // per segment acknowledged.
    const double target = std::clamp(WCubic(t + rtt), cwnd, 1.5 * cwnd);
    carry_ += (target - cwnd) / cwnd * acked;
    if (carry_ >= 1.0) {
      const double whole = std::floor(carry_);
      carry_ -= whole;
      AddToCwnd(static_cast<uint64_t>(std::min<double>(whole, kMaxCwnd)));
    }
  }

  double w_max_ = 0;       // segments: cwnd at the last loss, after fast convergence
  double cwnd_prior_ = 0;  // segments: cwnd just before the last reduction
  double w_est_ = 0;       // segments: the Reno-friendly estimate
  double k_ = 0;           // seconds from the epoch start to the plateau at W_max
  double carry_ = 0;       // bytes of growth not yet in cwnd
  bool in_epoch_ = false;  // congestion avoidance stage started since the last reduction
  Instant epoch_start_ = 0;
  Instant last_ack_ = 0;  // the last ACK that found us cwnd-limited (or the idle restart)
  int64_t min_rtt_ = 0;
};

}  // namespace

std::unique_ptr<CongestionControl> MakeCubic() {
  return std::make_unique<Cubic>();
}

}  // namespace tapsock::tcp
