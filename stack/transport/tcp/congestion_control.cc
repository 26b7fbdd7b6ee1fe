// What every congestion control algorithm shares: slow start with byte counting, the fast
// recovery window arithmetic of RFC 6582, the restart window, the RTO bookkeeping that decides
// whether ssthresh is recomputed, and the registry of algorithms by name (Linux's tcp_cong.c).
#include "stack/transport/tcp/congestion_control.h"

#include <algorithm>
#include <cassert>

namespace tapsock::tcp {

CongestionControl::~CongestionControl() = default;

void CongestionControl::OnRecoveryExit(Instant /*now*/) {
  NoteRecoveryEnd();
  s_.cwnd = s_.ssthresh;
}

void CongestionControl::OnIdleRestart(Instant /*now*/) {
  const uint32_t restart_window = kInitialWindowSegments * s_.mss;
  if (s_.cwnd <= restart_window) return;
  s_.ssthresh = std::max(s_.ssthresh, s_.cwnd / 4 * 3);
  s_.cwnd = restart_window;
}

void CongestionControl::InflateForDupAcks(uint32_t dup_acks) {
  AddToCwnd(static_cast<uint64_t>(dup_acks) * s_.mss);
}

void CongestionControl::DeflateForPartialAck(uint32_t acked) {
  // RFC 6582 3.2 step 5. Deflation cannot take cwnd below one segment: the retransmission the
  // partial ACK triggers must still be allowed out.
  uint64_t cwnd = s_.cwnd > acked ? s_.cwnd - acked : 0;
  if (acked >= s_.mss) cwnd += s_.mss;
  s_.cwnd = static_cast<uint32_t>(std::clamp<uint64_t>(cwnd, s_.mss, kMaxCwnd));
}

void CongestionControl::SetMss(uint32_t mss) {
  assert(mss > 0 && "SMSS must be positive");
  s_.mss = mss;
  s_.cwnd = std::max(s_.cwnd, mss);
}

void CongestionControl::InitWindow(uint32_t mss) {
  assert(mss > 0 && "SMSS must be positive");
  s_.mss = mss;
  s_.cwnd = kInitialWindowSegments * mss;
  s_.ssthresh = kInfiniteSsthresh;
  in_recovery_ = false;
  timed_out_ = false;
}

uint32_t CongestionControl::SlowStart(uint32_t acked) {
  const uint32_t increase = std::min(acked, kAbcLimitSegments * s_.mss);
  const uint32_t room = s_.ssthresh - s_.cwnd;  // InSlowStart(): cwnd < ssthresh
  if (increase < room) {
    s_.cwnd += increase;
    return 0;
  }
  s_.cwnd = s_.ssthresh;
  return acked - room;
}

void CongestionControl::AddToCwnd(uint64_t bytes) {
  s_.cwnd = static_cast<uint32_t>(std::min<uint64_t>(s_.cwnd + bytes, kMaxCwnd));
}

bool CongestionControl::IsCwndLimited(uint32_t bytes_in_flight) const {
  // Linux's tcp_is_cwnd_limited: in slow start, growing is fine while the window is no more than
  // twice what is in flight; in congestion avoidance the window must have been full, leaving no
  // room for another segment.
  if (InSlowStart()) return s_.cwnd < 2ull * bytes_in_flight;
  return static_cast<uint64_t>(bytes_in_flight) + s_.mss > s_.cwnd;
}

bool CongestionControl::NoteTimeout() {
  const bool recompute = !in_recovery_ && !timed_out_;
  in_recovery_ = false;  // an RTO ends fast recovery (Linux: Recovery -> Loss)
  timed_out_ = true;
  return recompute;
}

namespace {

constexpr const char* kNames[] = {"reno", "cubic"};

}  // namespace

std::unique_ptr<CongestionControl> MakeCongestionControl(std::string_view name) {
  if (name == "reno") return MakeNewReno();
  if (name == "cubic") return MakeCubic();
  return nullptr;
}

std::span<const char* const> AvailableCongestionControls() {
  return kNames;
}

}  // namespace tapsock::tcp
