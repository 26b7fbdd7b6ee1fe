// The congestion window: the interface every algorithm implements, one file per algorithm as in
// Linux's tcp_cong.c (new_reno.cc is "reno", cubic.cc is "cubic"), and the factory that picks one
// by its TCP_CONGESTION name. Windows count bytes (RFC 3465 appropriate byte counting), so ACKs
// that cover several segments (delayed ACKs, stretch ACKs) grow the window as much as per-segment
// ACKs would, up to L = 2*SMSS per ACK in slow start.
//
// The control block owns the loss-recovery state machine (dup-ACK counting, the RFC 6582 recover
// point, SACK scoreboard, Karn's rule); an algorithm only does window arithmetic. Who calls what:
//   connection established, MSS known    Init(mss, now)
//   path MTU changes the MSS             SetMss(mss)
//   ACK advances snd_una, no recovery    OnAck(acked, rtt_ns, bytes_in_flight, now)
//   3rd dup ACK or SACK loss detection   OnCongestionEvent(bytes_in_flight, now); without SACK then
//                                        InflateForDupAcks(3), and InflateForDupAcks(1) for each
//                                        further dup ACK (RFC 6582 3.2 steps 2-4)
//   partial ACK in recovery              DeflateForPartialAck(acked)        (RFC 6582 3.2 step 5)
//   full ACK: recovery over              OnRecoveryExit(now)                (RFC 6582 3.2 step 6)
//   retransmission timer expires         OnRetransmitTimeout(bytes_in_flight, now), every expiry
//   sending after idle longer than RTO   OnIdleRestart(now)                 (RFC 5681 4.1)
// `bytes_in_flight` is the FlightSize of RFC 5681 (RFC 6675 pipe with SACK) as the ACK found it,
// before removing what the ACK covers. It tells whether the window was in use: a connection that
// is not cwnd-limited does not grow its window (RFC 7661 1, Linux's tcp_is_cwnd_limited).
//
// Not thread-safe: owned by one connection, under the stack lock. Allocated once per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "stack/base/clock.h"

namespace tapsock::tcp {

struct CongestionState {
  uint32_t cwnd = 0;      // bytes we may have in flight
  uint32_t ssthresh = 0;  // bytes; slow start while cwnd < ssthresh
  uint32_t mss = 0;       // SMSS, bytes
};

class CongestionControl {
 public:
  static constexpr uint32_t kInitialWindowSegments = 10;     // RFC 6928, Linux's TCP_INIT_CWND
  static constexpr uint32_t kInfiniteSsthresh = 0x7fffffff;  // Linux's TCP_INFINITE_SSTHRESH
  static constexpr uint32_t kMaxCwnd = kInfiniteSsthresh;
  static constexpr uint32_t kAbcLimitSegments = 2;  // RFC 3465 2.3: L = 2*SMSS in slow start

  virtual ~CongestionControl();

  // The TCP_CONGESTION name: "reno", "cubic".
  virtual const char* name() const = 0;
  // cwnd = 10*mss (RFC 6928 asks for min(10*MSS, max(2*MSS, 14600)); Linux uses 10 segments
  // regardless), ssthresh "infinite" (RFC 5681 3.1 allows it arbitrarily high). Resets all state.
  virtual void Init(uint32_t mss, Instant now) = 0;
  // New data acknowledged outside recovery: `acked` bytes, an RTT sample (0 if none, e.g. under
  // Karn's rule). Slow start below ssthresh, the algorithm's congestion avoidance above it.
  virtual void OnAck(uint32_t acked, int64_t rtt_ns, uint32_t bytes_in_flight, Instant now) = 0;
  // Loss detected by dup ACKs or SACK, once per window (the caller's recover point): ssthresh is
  // reduced and cwnd = ssthresh, ready for RFC 6675 pipe-based recovery or the inflation below.
  virtual void OnCongestionEvent(uint32_t bytes_in_flight, Instant now) = 0;
  // The retransmission timer expired: cwnd = 1 SMSS (RFC 5681 3.1 eq. 4 "LW", Linux 1 MSS) and
  // ssthresh reduced (Reno: max(FlightSize/2, 2*SMSS)). ssthresh is held, not reduced again, if
  // this is another expiry with no new data acknowledged since the last one (RFC 5681 3.1: the
  // same segment timed out again) or if fast recovery already reduced it (Linux's tcp_enter_loss),
  // so the caller calls this on every expiry and leaves the bookkeeping here.
  virtual void OnRetransmitTimeout(uint32_t bytes_in_flight, Instant now) = 0;
  // Recovery finished (RFC 6582 full ACK): cwnd = ssthresh, deflating any inflation. That is the
  // RFC's option 2, as Linux's tcp_end_cwnd_reduction does; pacing or the sender's burst limit
  // (RFC 6582 3.2 step 6 note) stops a line-rate burst when little is in flight. The default
  // serves both algorithms here.
  virtual void OnRecoveryExit(Instant now);
  // Sending again after an idle period longer than the RTO. The default is RFC 5681 4.1's restart
  // window, cwnd = min(cwnd, IW), keeping ssthresh >= 3/4 of the old cwnd as Linux's
  // tcp_cwnd_restart does (RFC 7661 is not implemented). Algorithms with a clock extend it.
  virtual void OnIdleRestart(Instant now);

  // RFC 6582 3.2 window inflation and deflation during NewReno fast recovery (no SACK); the same
  // arithmetic for every algorithm. Each dup ACK means a segment left the network.
  void InflateForDupAcks(uint32_t dup_acks);
  // A partial ACK: deflate by the amount acknowledged, add back one SMSS if it covered at least
  // one, so about ssthresh stays in flight when recovery ends.
  void DeflateForPartialAck(uint32_t acked);

  // cwnd and ssthresh keep their byte counts; cwnd never drops below one segment.
  void SetMss(uint32_t mss);
  const CongestionState& state() const { return s_; }
  uint32_t cwnd() const { return s_.cwnd; }
  uint32_t ssthresh() const { return s_.ssthresh; }
  uint32_t mss() const { return s_.mss; }
  bool InSlowStart() const { return s_.cwnd < s_.ssthresh; }

 protected:
  // Init's common part: IW, infinite ssthresh, the recovery bookkeeping cleared.
  void InitWindow(uint32_t mss);
  // RFC 5681 3.1 eq. 2 with RFC 3465 byte counting: cwnd += min(acked, L*SMSS), not beyond
  // ssthresh. Returns the acked bytes left over for congestion avoidance once ssthresh is reached
  // (Linux's tcp_slow_start).
  uint32_t SlowStart(uint32_t acked);
  void AddToCwnd(uint64_t bytes);
  bool IsCwndLimited(uint32_t bytes_in_flight) const;
  // Bookkeeping the algorithms call from the matching hooks.
  void NoteNewDataAcked() { timed_out_ = false; }
  void NoteRecoveryStart() { in_recovery_ = true; }
  void NoteRecoveryEnd() { in_recovery_ = false; }
  // Called first by OnRetransmitTimeout: whether ssthresh should be recomputed (see above).
  bool NoteTimeout();

  CongestionState s_;

 private:
  bool in_recovery_ = false;  // OnCongestionEvent seen, OnRecoveryExit not yet
  bool timed_out_ = false;    // an RTO, and no new data acknowledged since
};

// The algorithms, each in its own file.
std::unique_ptr<CongestionControl> MakeNewReno();  // new_reno.cc
std::unique_ptr<CongestionControl> MakeCubic();    // cubic.cc

// Linux's default (net.ipv4.tcp_congestion_control).
inline constexpr std::string_view kDefaultCongestionControl = "cubic";

// By TCP_CONGESTION name; nullptr if unknown (setsockopt then fails with ENOENT, as on Linux).
std::unique_ptr<CongestionControl> MakeCongestionControl(std::string_view name);
// The names MakeCongestionControl knows, in the order Linux lists
// net.ipv4.tcp_available_congestion_control (registration order: reno, built in, first).
std::span<const char* const> AvailableCongestionControls();

}  // namespace tapsock::tcp
