// SEGMENT ARRIVES (RFC 9293 3.10.7), step by step, with RFC 5961's defences against blind resets
// and injections, RFC 7323's PAWS, and Linux's choices where the RFCs leave room.
#include <algorithm>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/transport/tcp/tcp_protocol.h"

namespace tapsock::tcp {

using wire::TcpRepr;

namespace {
constexpr Instant kCookieWindow = 120 * kSecond;  // Linux's TCP_SYNCOOKIE_VALID
}  // namespace

int64_t TcpEndpoint::stack_now_ms() const { return stack_.now() / kMillisecond; }

// RFC 9293 3.10.7.2: a segment for a listening socket.
void TcpEndpoint::ListenInputLocked(Segment& seg) {
  TcpStats& st = stack_.stats().tcp;
  PacketBuffer* payload = seg.payload;
  if (seg.has(TcpRepr::kRst)) {  // first: ignore a reset
    stack_.pool().Free(payload);
    return;
  }
  if (seg.has(TcpRepr::kAck) && !seg.has(TcpRepr::kSyn)) {  // second: an ACK gets a reset...
    // ...unless it returns a cookie: only looked for after a recent overflow, as Linux does
    // (tcp_synq_no_recent_overflow), so a stray ACK is not a failed cookie.
    bool recent = cookies_sent_at_ != kNever && stack_.now() - cookies_sent_at_ < kCookieWindow;
    if (uint16_t mss = recent ? proto_.CheckCookieLocked(seg) : 0) {
      if (TcpEndpoint* child = MakeChildLocked(seg, SeqNum(seg.tcp.ack - 1), SeqNum(seg.tcp.seq - 1))) {
        child->mss_ = std::min<uint32_t>(mss, child->adv_mss_);
        child->rcv_wscale_ = 0;  // the cookie SYN-ACK offered no scaling...
        child->rcv_adv_ = child->rcv_nxt_ + 65535u;  // ...and this window
        child->cc_->Init(child->mss_, stack_.now());
        child->snd_wnd_ = child->max_snd_wnd_ = seg.tcp.window;  // no window scaling without the SYN
        child->snd_una_ = child->snd_sml_ = child->iss_ + 1u;
        child->snd_nxt_ = child->snd_max_ = child->snd_una_;
        child->BecomeEstablishedLocked(seg);
        accept_queue_.push_back(child);
        NotifyLocked();
        child->InputLocked(seg);  // any data the ACK carries
        return;
      }
    }
    proto_.SendResetForLocked(seg);
    stack_.pool().Free(payload);
    return;
  }
  if (!seg.has(TcpRepr::kSyn) || seg.has(TcpRepr::kAck)) {
    stack_.pool().Free(payload);
    return;
  }
  stack_.pool().Free(payload);
  // Third: a SYN. A full accept queue drops it (the peer retries), as Linux does.
  if (accept_queue_.size() > static_cast<size_t>(backlog_)) {
    st.listen_overflows++;
    st.listen_drops++;
    return;
  }
  if (syn_queue_ >= std::max(backlog_, 128)) {
    // The SYN queue is full (a flood, or a slow peer): answer with a cookie and keep no state.
    cookies_sent_at_ = stack_.now();
    SendCookieSynAckLocked(seg);
    return;
  }
  TcpEndpoint* child = MakeChildLocked(seg, proto_.IsnLocked(seg.dst, local_port_, seg.src, seg.tcp.src_port),
                                       SeqNum(seg.tcp.seq));
  if (!child) return;
  child->ParseSynOptionsLocked(seg.tcp.options);
  child->snd_wnd_ = seg.tcp.window;  // never scaled in a SYN (RFC 7323 2.2)
  child->SetStateLocked(State::kSynReceived);
  child->SendSegmentLocked(child->iss_, 0, TcpRepr::kSyn | TcpRepr::kAck);
  child->snd_nxt_ = child->snd_max_ = child->iss_ + 1u;
  child->ArmRetransmitLocked();
  ++syn_queue_;
  st.passive_opens++;
}

TcpEndpoint* TcpEndpoint::MakeChildLocked(const Segment& seg, SeqNum iss, SeqNum irs) {
  auto route = stack_.RouteV4Locked(seg.src, seg.dst, opts_.bound_device);
  if (!route.ok()) return nullptr;
  TcpEndpoint* child = proto_.NewChildLocked(this);
  child->route_ = route.value();
  child->local_v4_ = seg.dst;
  child->local_port_ = local_port_;
  child->local_addr_ = v6_ ? IpAddr::V6(MappedBytes(seg.dst).data()) : IpAddr::V4(seg.dst);
  child->remote_v4_ = seg.src;
  child->remote_port_ = seg.tcp.src_port;
  proto_.InheritPortLocked(child);
  proto_.AddConnectionLocked(child);
  child->InitConnectionLocked();
  child->irs_ = irs;
  child->rcv_nxt_ = child->rcv_adv_ = irs + 1u;
  child->snd_wl1_ = irs;
  child->iss_ = iss;
  child->snd_una_ = child->snd_sml_ = iss;
  return child;
}

void TcpEndpoint::SendCookieSynAckLocked(const Segment& syn) {
  auto route = stack_.RouteV4Locked(syn.src, syn.dst, opts_.bound_device);
  if (!route.ok()) return;
  uint32_t mtu = route.value().nic->mtu();
  uint16_t our_mss = static_cast<uint16_t>(std::min<uint32_t>(mtu - 40, 65495));
  uint16_t mss = static_cast<uint16_t>(std::min<uint32_t>(syn.tcp.options.mss.value_or(536), our_mss));
  TcpRepr h;
  h.src_port = syn.tcp.dst_port;
  h.dst_port = syn.tcp.src_port;
  h.seq = proto_.CookieIsnLocked(syn, mss).value();
  h.ack = syn.tcp.seq + 1;
  h.flags = TcpRepr::kSyn | TcpRepr::kAck;
  h.window = 65535;
  h.options.mss = our_mss;  // no window scale, SACK or timestamps: a cookie cannot remember them
  proto_.SendBareSegmentLocked(syn.dst, syn.src, h, opts_.bound_device);
}

void TcpEndpoint::ParseSynOptionsLocked(const wire::TcpOptions& o) {
  // RFC 9293 3.7.1: no MSS option means 536; Linux floors what a peer may ask for at 88.
  uint32_t peer_mss = o.mss ? std::max<uint32_t>(*o.mss, 88) : 536;
  ws_ok_ = o.window_scale.has_value();
  snd_wscale_ = ws_ok_ ? *o.window_scale : 0;
  if (!ws_ok_) rcv_wscale_ = 0;  // scaling needs both sides (RFC 7323 2.2)
  ts_ok_ = o.timestamps.has_value();
  if (ts_ok_) ts_recent_ = o.timestamps->first;
  sack_ok_ = o.sack_permitted;
  // Linux's mss_cache: what one segment carries after the options every segment has.
  mss_ = std::min<uint32_t>(peer_mss, adv_mss_) - (ts_ok_ ? 12 : 0);
  cc_->Init(mss_, stack_.now());
}

void TcpEndpoint::BecomeEstablishedLocked(const Segment& seg) {
  syn_acked_ = true;
  scoreboard_.Reset(snd_una_.value());
  snd_wl1_ = SeqNum(seg.tcp.seq);
  snd_wl2_ = SeqNum(seg.tcp.ack);
  SetStateLocked(State::kEstablished);
  keepalive_at_ = kNever;
  if (topts_.keepalive) ArmLocked(keepalive_at_, stack_.now() + int64_t{topts_.keepidle_s} * kSecond);
}

// RFC 9293 3.10.7.3: SYN-SENT.
void TcpEndpoint::SynSentInputLocked(Segment& seg) {
  const TcpRepr& h = seg.tcp;
  SeqNum ack(h.ack);
  bool ack_ok = seg.has(TcpRepr::kAck) && ack > iss_ && ack <= snd_max_;
  if (seg.has(TcpRepr::kAck) && !ack_ok) {  // first: an ACK for something we never sent
    if (!seg.has(TcpRepr::kRst)) proto_.SendResetForLocked(seg);
    return;
  }
  if (seg.has(TcpRepr::kRst)) {  // second: refused
    if (!ack_ok) return;
    stack_.stats().tcp.attempt_fails++;
    EmitEventLocked(TcpEvent::Kind::kResetReceived, state_);
    AbortLocked(Error::kConnectionRefused, false);
    return;
  }
  if (!seg.has(TcpRepr::kSyn)) return;  // fourth: only a SYN moves us on
  irs_ = SeqNum(h.seq);
  rcv_nxt_ = rcv_adv_ = irs_ + 1u;
  ParseSynOptionsLocked(h.options);
  snd_wnd_ = max_snd_wnd_ = h.window;  // unscaled in a SYN
  if (!ack_ok) {  // simultaneous open (RFC 9293 figure 7)
    SetStateLocked(State::kSynReceived);
    SendSegmentLocked(iss_, 0, TcpRepr::kSyn | TcpRepr::kAck);
    return;
  }
  snd_una_ = ack;
  if (retransmits_ == 0) rtt_.Sample(stack_.now() - rtt_start_);  // Karn: only a clean SYN
  retransmits_ = 0;
  rto_at_ = kNever;
  BecomeEstablishedLocked(seg);
  SendAckLocked();
}

// RFC 9293 3.10.7.4 first: is the segment in the window? Linux's tcp_sequence is the test.
bool TcpEndpoint::CheckSequenceLocked(Segment& seg) {
  SeqNum seq(seg.tcp.seq);
  SeqNum end = seq + seg.seg_len();
  uint32_t wnd = static_cast<uint32_t>(std::max<int32_t>(0, rcv_adv_ - rcv_nxt_));
  if (end < rcv_nxt_ || seq > rcv_nxt_ + wnd) return false;
  if (seg.seg_len() == 0 && end == rcv_nxt_ - 1u) return false;  // a keepalive probe
  return true;
}

void TcpEndpoint::SendChallengeAckLocked() {
  // RFC 5961 7: a per-socket limit (CVE-2016-5696 made the global one a side channel).
  Instant now = stack_.now();
  if (now - challenge_window_start_ > kSecond) challenge_window_start_ = now, challenge_acks_ = 0;
  if (++challenge_acks_ > 100) return;
  stack_.stats().tcp.challenge_acks++;
  SendAckLocked();
}

void TcpEndpoint::InputLocked(Segment& seg) {
  PacketBuffer* payload = seg.payload;
  const TcpRepr& h = seg.tcp;
  last_recv_ = stack_.now();
  keepalive_probes_ = 0;
  ++segs_in_;
  if (topts_.keepalive && keepalive_at_ != kNever)
    ArmLocked(keepalive_at_, last_recv_ + int64_t{topts_.keepidle_s} * kSecond);

  if (state_ == State::kSynSent) {
    SynSentInputLocked(seg);
    stack_.pool().Free(payload);
    return;
  }
  if (state_ == State::kClosed || state_ == State::kListen) {
    stack_.pool().Free(payload);
    return;
  }
  // PAWS (RFC 7323 5.3): an old timestamp marks an old duplicate.
  if (ts_ok_ && h.options.timestamps && !seg.has(TcpRepr::kRst) &&
      static_cast<int32_t>(h.options.timestamps->first - ts_recent_) < 0) {
    stack_.stats().tcp.paws_rejected++;
    SendAckLocked();
    stack_.pool().Free(payload);
    return;
  }
  // First: the sequence number.
  if (!CheckSequenceLocked(seg)) {
    if (!seg.has(TcpRepr::kRst)) SendAckLocked();
    stack_.pool().Free(payload);
    return;
  }
  if (ts_ok_ && h.options.timestamps && SeqNum(h.seq) <= rcv_nxt_) ts_recent_ = h.options.timestamps->first;
  // Second: RST.
  if (seg.has(TcpRepr::kRst)) {
    stack_.pool().Free(payload);
    ResetArrivedLocked(seg);
    return;
  }
  // Fourth: a SYN in a synchronised state gets a challenge ACK (RFC 5961 4.2), except the peer's
  // SYN-ACK that completes a simultaneous open (RFC 9293 figure 8; tcp_validate_incoming lets it
  // pass): a socket connected to its own address receives its own.
  const bool simultaneous_open_done = state_ == State::kSynReceived && !listener_ && seg.has(TcpRepr::kAck) &&
                                      SeqNum(h.seq) == irs_ && SeqNum(h.ack) == snd_nxt_;
  if (seg.has(TcpRepr::kSyn) && !simultaneous_open_done) {
    if (state_ == State::kSynReceived && SeqNum(h.seq) == irs_) {
      SendSegmentLocked(iss_, 0, TcpRepr::kSyn | TcpRepr::kAck);  // their SYN again: our SYN-ACK again
    } else {
      SendChallengeAckLocked();
    }
    stack_.pool().Free(payload);
    return;
  }
  // Fifth: the ACK.
  if (!seg.has(TcpRepr::kAck) || !ProcessAckLocked(seg)) {
    stack_.pool().Free(payload);
    return;
  }
  if (state_ == State::kTimeWait) {  // a retransmitted FIN: ACK it and restart 2MSL
    if (seg.has(TcpRepr::kFin)) {
      SendAckLocked();
      ArmLocked(timewait_at_, stack_.now() + 60 * kSecond);
    }
    stack_.pool().Free(payload);
    return;
  }
  // Sixth: the urgent pointer (tcp_urgent.cc).
  if (seg.has(TcpRepr::kUrg)) CheckUrgentPointerLocked(seg);
  // Seventh: the text.
  bool fin = seg.has(TcpRepr::kFin);
  SeqNum fin_at = SeqNum(h.seq) + payload->len;
  ProcessDataLocked(seg);  // consumes the payload
  FetchUrgentByteLocked();
  // Eighth: FIN, once everything before it has arrived.
  if (fin && CanReceive(state_)) {
    if (fin_at == rcv_nxt_) {
      ProcessFinLocked(seg);
    } else if (fin_at > rcv_nxt_) {  // beyond a hole: keep it, and show the hole at once
      peer_fin_pending_ = true;
      peer_fin_seq_ = fin_at;
      ScheduleAckLocked(true);
    }
  } else if (fin) {
    ScheduleAckLocked(true);  // their FIN again (our ACK was lost)
  }
  OutputLocked();
}

// A reset in a synchronised state (RFC 5961 3.2): only an exact match resets; one elsewhere in the
// window draws a challenge ACK.
void TcpEndpoint::ResetArrivedLocked(const Segment& seg) {
  if (SeqNum(seg.tcp.seq) != rcv_nxt_) {
    SendChallengeAckLocked();
    return;
  }
  if (state_ == State::kSynReceived && listener_) {  // back to LISTEN: forget the child
    AbortLocked(Error::kOk, false);
    return;
  }
  EmitEventLocked(TcpEvent::Kind::kResetReceived, state_);  // EstabResets is counted by SetStateLocked
  // tcp_reset's errors: EPIPE in CLOSE-WAIT (we had their FIN), ECONNRESET otherwise.
  Error e = Error::kConnectionReset;
  if (state_ == State::kClosing || state_ == State::kLastAck || state_ == State::kTimeWait) e = Error::kOk;
  else if (state_ == State::kSynReceived) e = Error::kConnectionRefused;
  else if (state_ == State::kCloseWait) e = Error::kBrokenPipe;
  AbortLocked(e, false);
}

// Fifth step, for states past SYN-SENT. False: stop processing the segment.
bool TcpEndpoint::ProcessAckLocked(Segment& seg) {
  const TcpRepr& h = seg.tcp;
  SeqNum ack(h.ack);
  if (state_ == State::kSynReceived) {
    if (ack <= snd_una_ || ack > snd_max_) {
      proto_.SendResetForLocked(seg);
      return false;
    }
    snd_wnd_ = max_snd_wnd_ = static_cast<uint32_t>(h.window) << snd_wscale_;
    BecomeEstablishedLocked(seg);
    if (TcpEndpoint* l = listener_) {
      --l->syn_queue_;
      l->accept_queue_.push_back(this);
      l->NotifyLocked();
    }
  }
  if (ack > snd_max_) {  // RFC 5961 5.2: acknowledges what was never sent
    SendChallengeAckLocked();
    return false;
  }
  if (ack < snd_una_ - std::max<uint32_t>(max_snd_wnd_, 65535)) {  // RFC 5961 5.2: far too old
    SendChallengeAckLocked();
    return false;
  }
  uint32_t window = static_cast<uint32_t>(h.window) << snd_wscale_;
  if (sack_ok_ && h.options.sack_count > 0) {
    scoreboard_.Update(Max(ack, snd_una_).value(), snd_max_.value(),
                       std::span(h.options.sack_blocks.data(), std::min<size_t>(h.options.sack_count, 4)));
  }
  if (ack > snd_una_) {
    if (!OnNewAckLocked(seg, ack)) return false;
  } else if (ack == snd_una_ && seg.payload->len == 0 && snd_una_ != snd_max_ && !seg.has(TcpRepr::kFin) &&
             (window == snd_wnd_ || (sack_ok_ && h.options.sack_count > 0))) {
    OnDuplicateAckLocked();
  }
  // The send window (RFC 9293 3.10.7.4, fifth step): only from a segment newer than the last.
  SeqNum seq(h.seq);
  if (snd_wl1_ < seq || (snd_wl1_ == seq && snd_wl2_ <= ack)) {
    snd_wnd_ = window;
    max_snd_wnd_ = std::max(max_snd_wnd_, window);
    snd_wl1_ = seq;
    snd_wl2_ = ack;
    if (snd_wnd_ > 0) persist_at_ = kNever;
  }
  return true;
}

// An ACK that moves snd_una: frees send space, samples the RTT, drives congestion control and
// recovery, and finishes a close whose FIN it acknowledges. False: the connection is gone.
bool TcpEndpoint::OnNewAckLocked(const Segment& seg, SeqNum ack) {
  const TcpRepr& h = seg.tcp;
  uint32_t acked = static_cast<uint32_t>(ack - snd_una_);
  uint32_t data = acked;
  if (!syn_acked_) syn_acked_ = true, --data;
  bool fin_acked = fin_pending_ && !fin_acked_ && ack > DataEnd();
  if (fin_acked) fin_acked_ = true, --data;
  snd_buf_.Consume(std::min<size_t>(data, snd_buf_.size()));
  bytes_acked_ += data;
  if (snd_urg_ && snd_up_ <= ack) snd_urg_ = false;  // the urgent pointer is acknowledged
  snd_una_ = ack;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  if (sack_ok_) scoreboard_.AdvanceUna(snd_una_.value());
  // RTT (RFC 6298 + RFC 7323 4.1): from the echoed timestamp, else one timed segment (Karn).
  int64_t rtt = 0;
  if (ts_ok_ && h.options.timestamps && h.options.timestamps->second != 0) {
    rtt = int64_t{static_cast<int32_t>(TsNow() - h.options.timestamps->second)} * kMillisecond;
    if (rtt <= 0) rtt = kMillisecond / 2;
  } else if (rtt_timing_ && ack > rtt_seq_) {
    rtt = stack_.now() - rtt_start_;
    rtt_timing_ = false;
  }
  if (rtt > 0) rtt_.Sample(rtt);
  retransmits_ = 0;
  if (probe_out_ && ack >= tlp_end_) probe_out_ = false;  // the probe's episode is over
  // The flight as this ACK found it: the window grows only when it was in use.
  uint32_t in_flight = static_cast<uint32_t>(snd_max_ - snd_una_) + acked;
  if (in_loss_ && ack >= recover_) in_loss_ = false;  // the flight of the timeout is all acknowledged
  if (in_recovery_ && ack >= recover_) {  // RFC 6582: a full ACK ends recovery
    in_recovery_ = false;
    cc_->OnRecoveryExit(stack_.now());
  } else if (in_recovery_ && sack_ok_) {  // RFC 6675: refill the pipe from the scoreboard
    SackRetransmitLocked();
  } else if (in_recovery_) {  // a partial ACK: the next hole is lost too (RFC 6582 3.2 step 5)
    cc_->DeflateForPartialAck(acked);
    RetransmitFirstLocked();
  } else {
    cc_->OnAck(acked, rtt, in_flight, stack_.now());
    // RFC 6675 5 (2): the scoreboard may show loss before three duplicate ACKs do. Not for the
    // loss a timeout is already repairing: going back re-sends the holes, and fast recovery's pipe
    // would count the flight above the highest SACK block as in flight and stall the sender.
    if (!in_loss_ && sack_ok_ && snd_una_ != snd_max_ && scoreboard_.IsLost(snd_una_.value(), mss_))
      EnterRecoveryLocked();
  }
  dupacks_ = 0;
  if (snd_una_ == snd_max_) rto_at_ = kNever;
  else ArmRetransmitLocked();
  NotifyLocked();  // send space opened
  if (fin_acked) {
    switch (state_) {
      case State::kFinWait1:
        SetStateLocked(State::kFinWait2);
        if (!user_held_) ArmLocked(timewait_at_, stack_.now() + 60 * kSecond);  // tcp_fin_timeout
        break;
      case State::kClosing:
        EnterTimeWaitLocked();
        break;
      case State::kLastAck:
        SetStateLocked(State::kClosed);
        return false;
      default: break;
    }
  }
  return true;
}

// A duplicate ACK (RFC 5681 2): three of them mean a lost segment. One that carries SACK
// blocks counts whatever its window (RFC 6675's DupAck): an autotuning receiver such as Linux
// moves its window on nearly every out-of-order segment.
void TcpEndpoint::OnDuplicateAckLocked() {
  ++dupacks_;
  bool lost = dupacks_ >= 3 || (sack_ok_ && scoreboard_.IsLost(snd_una_.value(), mss_));
  if (!in_recovery_ && !in_loss_ && lost) {  // RFC 6582 4.1: not for the timeout's own loss
    EnterRecoveryLocked();
  } else if (in_recovery_ && sack_ok_) {
    SackRetransmitLocked();
  } else if (in_recovery_) {
    cc_->InflateForDupAcks(1);  // each further duplicate means a segment has left the network
  }
}

void TcpEndpoint::ProcessDataLocked(Segment& seg) {
  PacketBuffer* p = seg.payload;
  SeqNum seq(seg.tcp.seq);
  if (p->len == 0 || !CanReceive(state_)) {
    stack_.pool().Free(p);
    return;
  }
  // Data for a socket the application closed: it can never be read, so reset (tcp_rcv_state_process).
  if (!user_held_ && !listener_) {
    stack_.pool().Free(p);
    AbortLocked(Error::kOk, true);
    return;
  }
  if (seq < rcv_nxt_) {  // the front was received before
    uint32_t old = static_cast<uint32_t>(rcv_nxt_ - seq);
    if (old >= p->len) {
      stack_.pool().Free(p);
      ScheduleAckLocked(true);  // a duplicate: tell the sender at once
      return;
    }
    p->Pull(old);
    seq = rcv_nxt_;
  }
  // Linux's tcp_measure_rcv_mss: a full-sized segment tells what share of a buffer is payload.
  if (p->len >= adv_mss_ / 2u && p->capacity > 0)
    rcv_ratio_ = std::clamp<uint32_t>(static_cast<uint32_t>((uint64_t{p->len} << 8) / p->capacity), 1, 256);
  uint32_t room = static_cast<uint32_t>(std::max<int32_t>(0, (rcv_adv_ - seq)));
  if (p->len > room) p->Trim(room);  // beyond the window we offered
  if (p->len == 0) {
    stack_.pool().Free(p);
    ScheduleAckLocked(true);
    return;
  }
  if (seq != rcv_nxt_) {  // out of order: keep it, and ACK at once so the sender sees the hole
    stack_.stats().tcp.ofo_queue++;
    const uint64_t pruned = ooo_->pruned();
    if (!ooo_->Insert(seq.value(), p)) stack_.stats().tcp.ofo_drops++;
    stack_.stats().tcp.ofo_pruned += ooo_->pruned() - pruned;
    ScheduleAckLocked(true);
    return;
  }
  rcv_nxt_ += p->len;
  rcv_bytes_ += p->len;
  bytes_received_ += p->len;
  rcv_queue_.Push(p);
  bool had_holes = !ooo_->empty();
  if (had_holes) {
    SeqNum before = rcv_nxt_;
    PacketQueue ready;
    rcv_nxt_ = SeqNum(ooo_->PopInOrder(rcv_nxt_.value(), ready));
    rcv_bytes_ += static_cast<uint32_t>(rcv_nxt_ - before);
    while (PacketBuffer* q = ready.Pop()) rcv_queue_.Push(q);
  }
  if (peer_fin_pending_ && peer_fin_seq_ == rcv_nxt_) {
    peer_fin_pending_ = false;
    ProcessFinLocked(seg);
  }
  ScheduleAckLocked(had_holes);
  NotifyLocked();
}

void TcpEndpoint::ProcessFinLocked(Segment&) {
  if (fin_received_) return;
  fin_received_ = true;
  rcv_nxt_ += 1u;
  sk_shutdown_ |= kRcvShutdown;
  switch (state_) {
    case State::kSynReceived:
    case State::kEstablished: SetStateLocked(State::kCloseWait); break;
    case State::kFinWait1:
      if (fin_acked_) EnterTimeWaitLocked();
      else SetStateLocked(State::kClosing);
      break;
    case State::kFinWait2: EnterTimeWaitLocked(); break;
    default: break;
  }
  ScheduleAckLocked(true);
  NotifyLocked();
}

}  // namespace tapsock::tcp
