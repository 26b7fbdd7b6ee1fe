// "reno": the standard window arithmetic of RFC 5681 (slow start, congestion avoidance, the
// multiplicative decrease) with RFC 3465 byte counting, as Linux's tcp_reno_* functions in
// tcp_cong.c. The name is Linux's: its "reno" does NewReno recovery. RFC 6582's fast recovery
// state machine (recover point, partial and full ACKs) lives in the control block; the inflation
// and deflation it drives are CongestionControl's. Not thread-safe, like its interface.
#include <algorithm>

#include "stack/transport/tcp/congestion_control.h"

namespace tapsock::tcp {
namespace {

class NewReno final : public CongestionControl {
 public:
  const char* name() const override { return "reno"; }

  void Init(uint32_t mss, Instant /*now*/) override {
    InitWindow(mss);
    bytes_acked_ = 0;
  }

  void OnAck(uint32_t acked, int64_t /*rtt_ns*/, uint32_t bytes_in_flight,
             Instant /*now*/) override {
    NoteNewDataAcked();
    if (!IsCwndLimited(bytes_in_flight)) return;
    if (InSlowStart()) {
      acked = SlowStart(acked);
      if (acked == 0) return;
    }
    // RFC 5681 3.1 congestion avoidance, counted in bytes (RFC 3465 2.1): once a whole window
    // has been acknowledged, cwnd grows by one SMSS, so about one segment per RTT. A stretch ACK
    // may complete more than one window's worth (Linux's tcp_cong_avoid_ai).
    bytes_acked_ += acked;
    if (bytes_acked_ >= s_.cwnd) {
      const uint64_t windows = bytes_acked_ / s_.cwnd;
      bytes_acked_ -= windows * s_.cwnd;
      AddToCwnd(windows * s_.mss);
    }
  }

  void OnCongestionEvent(uint32_t bytes_in_flight, Instant /*now*/) override {
    NoteRecoveryStart();
    // RFC 5681 3.2 step 2 (eq. 4), RFC 6582 3.2 step 2. The "+ 3*SMSS" of step 3 is the caller's
    // InflateForDupAcks(3), which SACK-based recovery (RFC 6675) skips.
    s_.ssthresh = HalfFlight(bytes_in_flight);
    s_.cwnd = s_.ssthresh;
    bytes_acked_ = 0;
  }

  void OnRetransmitTimeout(uint32_t bytes_in_flight, Instant /*now*/) override {
    // RFC 5681 3.1: eq. 4 for ssthresh, then cwnd = LW = 1 SMSS; RFC 3465 2.1 clears the count.
    if (NoteTimeout()) s_.ssthresh = HalfFlight(bytes_in_flight);
    s_.cwnd = s_.mss;
    bytes_acked_ = 0;
  }

 private:
  // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).
  uint32_t HalfFlight(uint32_t bytes_in_flight) const {
    return std::max(bytes_in_flight / 2, 2 * s_.mss);
  }

  uint64_t bytes_acked_ = 0;  // RFC 3465's bytes_acked, in congestion avoidance
};

}  // namespace

std::unique_ptr<CongestionControl> MakeNewReno() {
  return std::make_unique<NewReno>();
}

}  // namespace tapsock::tcp
