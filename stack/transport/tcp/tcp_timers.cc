// TCP's timers: retransmission with exponential backoff (RFC 6298), delayed ACK, zero-window
// probes (RFC 9293 3.8.6.1), keepalive (RFC 1122 4.2.3.6), FIN-WAIT-2 and TIME-WAIT.
#include <algorithm>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/transport/tcp/tcp_protocol.h"

namespace tapsock::tcp {

using wire::TcpRepr;

namespace {
constexpr uint32_t kMaxRetries = 15;           // net.ipv4.tcp_retries2
constexpr Instant kTimeWait = 60 * kSecond;    // Linux's TCP_TIMEWAIT_LEN (2MSL)
constexpr Instant kWorstCaseDelAck = 200 * kMillisecond;  // RFC 8985 WCDelAckT, Linux's TCP_DELACK_MAX
constexpr Instant kProbeSlack = 2 * kMillisecond;  // Linux adds TCP_TIMEOUT_MIN (2 jiffies) to 2*SRTT
}  // namespace

Instant TcpEndpoint::NextDeadline() const {
  return std::min({rto_at_, delack_at_, persist_at_, keepalive_at_, timewait_at_});
}

void TcpEndpoint::ArmLocked(Instant& timer, Instant at) {
  timer = at;
  proto_.NoteArmedLocked(at);
}

bool TcpEndpoint::MayProbeLocked() const {
  // RFC 8985 7.2: an open connection with SACK and an RTT sample, no probe out. Unlike the RFC,
  // also in SACK recovery, where without RACK's reordering timer a lost retransmission or the
  // loss of the one ACK a peer coalesced its answer into would otherwise cost a full RTO.
  return sack_ok_ && !probe_out_ && retransmits_ == 0 && rtt_.srtt() > 0 &&
         (state_ == State::kEstablished || state_ == State::kCloseWait);
}

void TcpEndpoint::ArmRetransmitLocked() {
  Instant rto = rtt_.Rto();
  probe_armed_ = MayProbeLocked();
  if (!probe_armed_) {
    ArmLocked(rto_at_, stack_.now() + rto);
    return;
  }
  // A lone segment's ACK may be delayed by the peer: wait that out before probing.
  bool lone = static_cast<uint32_t>(snd_max_ - snd_una_) <= mss_;
  Instant pto = 2 * rtt_.srtt() + (lone ? kWorstCaseDelAck : kProbeSlack);
  ArmLocked(rto_at_, stack_.now() + std::min(pto, rto));
}

// The probe timeout (RFC 8985 7.3): one new segment if the windows let it out, else the last one
// sent again, so that the peer's ACK (with SACK blocks) shows whether the tail was lost. Then the
// RTO proper.
void TcpEndpoint::OnLossProbeLocked() {
  stack_.stats().tcp.loss_probes++;
  probe_out_ = true;
  probe_allowance_ = mss_;
  uint64_t sent_before = segs_out_;
  OutputLocked();
  probe_allowance_ = 0;
  if (segs_out_ == sent_before) {
    SeqNum data_end = DataEnd();
    SeqNum sent_end = Min(data_end, snd_max_);
    uint32_t len = std::min<uint32_t>(mss_, snd_una_ < sent_end ? static_cast<uint32_t>(sent_end - snd_una_) : 0);
    uint8_t flags = TcpRepr::kAck;
    if (fin_pending_ && !fin_acked_ && snd_max_ > data_end) flags |= TcpRepr::kFin;
    rtt_timing_ = false;  // Karn
    stack_.stats().tcp.retrans_segs++;
    ++total_retrans_;
    SendSegmentLocked(sent_end - len, len, flags);
  }
  tlp_end_ = snd_nxt_;
  probe_armed_ = false;
  ArmLocked(rto_at_, stack_.now() + rtt_.Rto());
}

void TcpEndpoint::TimersLocked() {
  Instant now = stack_.now();
  if (timewait_at_ <= now) {  // TIME-WAIT over, or an orphan stuck in FIN-WAIT-2
    timewait_at_ = kNever;
    SetStateLocked(State::kClosed);
    return;
  }
  if (delack_at_ <= now) {
    delack_at_ = kNever;
    if (ack_pending_) SendAckLocked();
  }
  if (rto_at_ <= now) {
    rto_at_ = kNever;
    if (probe_armed_) OnLossProbeLocked();
    else OnRetransmitTimeoutLocked();
  }
  if (persist_at_ <= now) OnPersistLocked();
  if (keepalive_at_ <= now) OnKeepaliveLocked();
}

void TcpEndpoint::OnRetransmitTimeoutLocked() {
  TcpStats& st = stack_.stats().tcp;
  st.timeouts++;
  ++retransmits_;
  rtt_.Backoff();
  rtt_timing_ = false;
  EmitEventLocked(TcpEvent::Kind::kRetransmitTimeout, state_);
  if (state_ == State::kSynSent || state_ == State::kSynReceived) {
    if (retransmits_ > static_cast<uint32_t>(topts_.syn_retries)) {
      if (state_ == State::kSynSent) st.attempt_fails++;
      st.abort_on_timeout++;
      AbortLocked(state_ == State::kSynSent ? Error::kTimedOut : Error::kOk, false);
      return;
    }
    uint8_t flags = TcpRepr::kSyn | (state_ == State::kSynReceived ? TcpRepr::kAck : 0);
    SendSegmentLocked(iss_, 0, flags);
    st.retrans_segs++;
    ArmRetransmitLocked();
    return;
  }
  if (snd_una_ == snd_max_) return;
  if (retransmits_ > kMaxRetries) {
    st.abort_on_timeout++;
    AbortLocked(Error::kTimedOut, false);
    return;
  }
  // RFC 5681 3.1 and 6298 5.4-5.6: collapse the window, back off, resend from the first hole.
  cc_->OnRetransmitTimeout(static_cast<uint32_t>(snd_max_ - snd_una_), stack_.now());
  in_recovery_ = false;
  in_loss_ = true;
  recover_ = snd_max_;
  probe_out_ = false;
  scoreboard_.Reset(snd_una_.value());  // RFC 6675 5.1: start over from the cumulative ACK
  dupacks_ = 0;
  // Go back: what follows the first segment is sent again as the window reopens.
  snd_nxt_ = snd_una_ + RetransmitFirstLocked();
  ArmRetransmitLocked();
}

void TcpEndpoint::OnPersistLocked() {
  persist_at_ = kNever;
  if (snd_wnd_ != 0 || UnsentBytesLocked() == 0 || !IsSynchronized(state_)) return;
  // A probe the receiver must answer: an ACK from one below snd_una (Linux's tcp_xmit_probe_skb).
  // In urgent mode one at snd_una goes first: it is in the window, so its urgent pointer counts
  // (tcp_write_wakeup).
  if (snd_urg_ && snd_up_ > snd_una_ && snd_up_ <= snd_una_ + 0xFFFFu) {
    stack_.stats().tcp.zero_window_probes++;
    SendSegmentLocked(snd_una_, 0, TcpRepr::kAck);
  }
  stack_.stats().tcp.zero_window_probes++;
  SendSegmentLocked(snd_una_ - 1u, 0, TcpRepr::kAck);
  rtt_.Backoff();
  ArmLocked(persist_at_, stack_.now() + rtt_.Rto());
}

void TcpEndpoint::OnKeepaliveLocked() {
  keepalive_at_ = kNever;
  if (!topts_.keepalive || (state_ != State::kEstablished && state_ != State::kCloseWait)) return;
  Instant idle = stack_.now() - last_recv_;
  Instant idle_limit = int64_t{topts_.keepidle_s} * kSecond;
  if (idle < idle_limit && keepalive_probes_ == 0) {
    ArmLocked(keepalive_at_, last_recv_ + idle_limit);
    return;
  }
  if (keepalive_probes_ >= topts_.keepcnt) {
    stack_.stats().tcp.abort_on_timeout++;
    AbortLocked(Error::kTimedOut, true);
    return;
  }
  ++keepalive_probes_;
  stack_.stats().tcp.keepalive_probes++;
  SendSegmentLocked(snd_una_ - 1u, 0, TcpRepr::kAck);
  ArmLocked(keepalive_at_, stack_.now() + int64_t{topts_.keepintvl_s} * kSecond);
}

void TcpEndpoint::EnterTimeWaitLocked() {
  SetStateLocked(State::kTimeWait);
  ArmLocked(rto_at_, persist_at_ = keepalive_at_ = kNever);
  ArmLocked(timewait_at_, stack_.now() + kTimeWait);
}

void TcpEndpoint::AbortLocked(Error e, bool send_rst) {
  if (send_rst && state_ != State::kClosed && state_ != State::kListen && state_ != State::kSynSent) {
    stack_.stats().tcp.out_rsts++;
    SendResetLocked();
  }
  if (state_ == State::kSynReceived && listener_) {
    --listener_->syn_queue_;
    listener_ = nullptr;  // nobody will accept it now
  }
  if (e != Error::kOk) sticky_error_ = e;
  sk_shutdown_ = kRcvShutdown | kSendShutdown;
  snd_buf_.Clear();
  if (!user_held_) {  // nobody can read it any more (tcp_close purges the receive queue)
    stack_.pool().FreeQueue(rcv_queue_);
    rcv_bytes_ = rcv_front_consumed_ = 0;
  }
  if (ooo_) ooo_->Clear();
  SetStateLocked(State::kClosed);
}

}  // namespace tapsock::tcp
