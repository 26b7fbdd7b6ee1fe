// What to send now: new data under the peer's window and the congestion window, Nagle (RFC 896)
// and TCP_CORK/MSG_MORE, FIN after the data, and ACKs, delayed (RFC 1122 4.2.3.2) or not.
#include <algorithm>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_endpoint.h"
#include "stack/transport/tcp/tcp_protocol.h"

namespace tapsock::tcp {

using wire::TcpRepr;

namespace {
constexpr Instant kDelayedAck = 40 * kMillisecond;  // Linux's TCP_DELACK_MIN
}

uint32_t TcpEndpoint::RecvWindowLocked() {
  size_t held = rcv_bytes_ + (ooo_ ? TrueToPayload(ooo_->bytes()) : 0);
  size_t free = RcvSpace() > held ? RcvSpace() - held : 0;
  uint32_t wnd = static_cast<uint32_t>(std::min<size_t>(free, size_t{65535} << rcv_wscale_));
  wnd &= ~((1u << rcv_wscale_) - 1);  // what the scaled field can say
  // Receiver silly-window avoidance (RFC 9293 3.8.6.2.2, Linux's __tcp_select_window): no new
  // window smaller than a segment while the buffer is more than half full, or a slow reader
  // would have the sender trickle slivers.
  if (wnd < std::min<uint32_t>(adv_mss_, static_cast<uint32_t>(RcvSpace() / 2))) wnd = 0;
  // Never move the right edge back (RFC 9293 3.8.6). What is left of the last offer need not be
  // a multiple of the scale unit: round it up, or the scaled field would pull the edge back by up
  // to a unit and the peer's bytes up to the old edge would be dropped (Linux's tcp_select_window).
  uint32_t offered = static_cast<uint32_t>(std::max<int32_t>(0, rcv_adv_ - rcv_nxt_));
  if (offered > wnd) {
    uint32_t unit = 1u << rcv_wscale_;
    return (offered + unit - 1) & ~(unit - 1);
  }
  return wnd;
}

void TcpEndpoint::SendSegmentLocked(SeqNum seq, uint32_t len, uint8_t flags) {
  TcpRepr h;
  h.src_port = local_port_;
  h.dst_port = remote_port_;
  h.seq = seq.value();
  h.flags = flags;
  bool syn = flags & TcpRepr::kSyn;
  if (flags & TcpRepr::kAck) h.ack = rcv_nxt_.value();
  // Urgent mode (__tcp_transmit_skb): every segment that starts before the urgent pointer carries
  // it, relative to its own sequence number; one too far ahead to say says 0xFFFF, "later".
  if (snd_urg_ && seq < snd_up_) {
    if (snd_up_ < seq + 0x10000u) {
      h.urgent = static_cast<uint16_t>(snd_up_ - seq);
      h.flags |= TcpRepr::kUrg;
    } else if (seq + 0xFFFFu > snd_nxt_) {
      h.urgent = 0xFFFF;
      h.flags |= TcpRepr::kUrg;
    }
  }
  uint32_t wnd = RecvWindowLocked();
  if (syn) {
    h.window = static_cast<uint16_t>(std::min<uint32_t>(wnd, 65535));  // never scaled in a SYN
    bool active = !(flags & TcpRepr::kAck);
    h.options.mss = adv_mss_;
    if (active || ws_ok_) h.options.window_scale = rcv_wscale_;
    h.options.sack_permitted = active || sack_ok_;
    if (active || ts_ok_) h.options.timestamps = std::make_pair(TsNow(), active ? 0u : ts_recent_);
  } else {
    h.window = static_cast<uint16_t>(std::min<uint32_t>(wnd >> rcv_wscale_, 65535));
    if (ts_ok_) h.options.timestamps = std::make_pair(TsNow(), ts_recent_);
    if (sack_ok_ && ooo_ && !ooo_->empty())
      h.options.sack_count = static_cast<uint8_t>(ooo_->SackBlocks(h.options.sack_blocks.data(), 4));
  }
  if (flags & TcpRepr::kAck) {
    rcv_adv_ = rcv_nxt_ + (syn ? uint32_t{h.window} : (uint32_t{h.window} << rcv_wscale_));
    ack_pending_ = false;
    unacked_segments_ = 0;
    delack_at_ = kNever;
    if (quickacks_ > 0) --quickacks_;
  }
  PacketBuffer* p = stack_.pool().Alloc(len + TcpRepr::kMaxHeaderLen);
  if (!p) {
    stack_.stats().link.tx_dropped++;  // a lost segment: the retransmission timer recovers it
    return;
  }
  p->len = len;
  if (len > 0) snd_buf_.CopyOut(static_cast<uint32_t>(seq - DataStart()), len, p->data());
  h.Emit(p->Prepend(h.HeaderLength()), len, route_.src, route_.dst);
  stack_.stats().tcp.out_segs++;
  ++segs_out_;
  Ipv4SendParams params{static_cast<uint8_t>(wire::IpProto::kTcp),
                        static_cast<uint8_t>(opts_.ttl < 0 ? kDefaultTtl : opts_.ttl), opts_.tos};
  (void)stack_.ipv4().SendLocked(route_, params, p);
}

void TcpEndpoint::SendResetLocked() {
  EmitEventLocked(TcpEvent::Kind::kResetSent, state_);
  SendSegmentLocked(snd_nxt_, 0, TcpRepr::kRst | TcpRepr::kAck);
}

bool TcpEndpoint::NagleAllowsLocked(uint32_t len, uint32_t avail) const {
  if (len >= mss_) return true;
  if (snd_urg_) return true;  // tcp_nagle_test: never hold urgent data back, corked or not
  bool last = len == avail;
  if (topts_.cork || more_) return fin_pending_ && last;  // only full segments, or the end
  if (topts_.nodelay) return true;
  // RFC 896 with Minshall's refinement, as Linux's tcp_nagle_check: a small segment waits only
  // while an earlier small segment is unacknowledged.
  return snd_sml_ <= snd_una_ || (fin_pending_ && last);
}

void TcpEndpoint::ScheduleAckLocked(bool immediate) {
  ack_pending_ = true;
  ++unacked_segments_;
  if (immediate || quickacks_ > 0 || unacked_segments_ >= 2) {
    ArmLocked(delack_at_, stack_.now());  // OutputLocked sends it, on a data segment if there is one
  } else if (delack_at_ == kNever) {
    ArmLocked(delack_at_, stack_.now() + kDelayedAck);
  }
}

void TcpEndpoint::OutputLocked() {
  bool sending_state = state_ == State::kEstablished || state_ == State::kCloseWait ||
                       state_ == State::kFinWait1 || state_ == State::kClosing || state_ == State::kLastAck;
  // What counts against cwnd: in SACK recovery the pipe (RFC 6675 NextSeg rule 3: new data goes
  // out while pipe < cwnd), otherwise everything in flight but, going back after a timeout, what
  // the peer has SACKed since.
  uint32_t cwnd_used = in_recovery_ && sack_ok_
                           ? scoreboard_.Pipe(snd_una_.value(), snd_max_.value(), Max(high_rxt_, snd_una_).value(), mss_)
                           : static_cast<uint32_t>(snd_nxt_ - snd_una_) -
                                 (in_loss_ ? scoreboard_.SackedIn(snd_una_.value(), snd_nxt_.value()) : 0);
  // Limited transmit (RFC 3042): each of the first two duplicate ACKs lets one new segment out, so
  // that a small window still brings the third.
  uint32_t cwnd = cc_->cwnd() + (in_recovery_ ? 0 : std::min(dupacks_, 2) * mss_) + probe_allowance_;
  while (sending_state) {
    // Going back after a timeout (Linux's Loss state): skip what the peer has SACKed since.
    uint32_t seg_max = mss_;  // up to the next SACKed range, going back
    if (in_loss_ && snd_nxt_ < snd_max_) {
      snd_nxt_ = Min(SeqNum(scoreboard_.SkipSacked(snd_nxt_.value())), snd_max_);
      seg_max = scoreboard_.UnsackedRun(snd_nxt_.value(), mss_);
    }
    SeqNum data_end = DataEnd();
    uint32_t avail = snd_nxt_ < data_end ? static_cast<uint32_t>(data_end - snd_nxt_) : 0;
    uint32_t in_flight = static_cast<uint32_t>(snd_nxt_ - snd_una_);
    int64_t wnd_room = int64_t{snd_wnd_} - in_flight;
    int64_t cwnd_room = int64_t{cwnd} - cwnd_used;
    uint32_t room = static_cast<uint32_t>(std::max<int64_t>(0, std::min(wnd_room, cwnd_room)));
    uint32_t len = std::min({avail, seg_max, room});
    // Sender silly-window avoidance (RFC 9293 3.8.6.2.1): while ACKs are due, a window with room
    // for less than the segment we have waits for them rather than splitting off a sliver.
    if (len < std::min(avail, seg_max) && in_flight > 0) len = 0;
    bool fin_now = fin_pending_ && !fin_acked_ && snd_nxt_ + len == data_end;
    if (len == 0 && !fin_now) {
      // Zero window with data waiting and nothing in flight: probe it (RFC 9293 3.8.6.1).
      if (avail > 0 && snd_wnd_ == 0 && in_flight == 0 && persist_at_ == kNever)
        ArmLocked(persist_at_, stack_.now() + rtt_.Rto());
      break;
    }
    if (len > 0 && !NagleAllowsLocked(len, avail)) break;
    uint8_t flags = TcpRepr::kAck;
    if (len == avail && len > 0) flags |= TcpRepr::kPsh;
    if (fin_now) flags |= TcpRepr::kFin;
    if (len > 0 && snd_nxt_ < snd_max_) {  // going back over what a timeout declared lost
      stack_.stats().tcp.retrans_segs++;
      stack_.stats().tcp.slow_start_retrans++;
      ++total_retrans_;
    }
    if (!rtt_timing_ && !ts_ok_ && len > 0 && snd_nxt_ >= snd_max_) {  // Karn: new data only
      rtt_timing_ = true;
      rtt_seq_ = snd_nxt_;
      rtt_start_ = stack_.now();
    }
    SendSegmentLocked(snd_nxt_, len, flags);
    snd_nxt_ += len + (fin_now ? 1u : 0u);
    cwnd_used += len;
    if (len < mss_) snd_sml_ = snd_nxt_;
    snd_max_ = Max(snd_max_, snd_nxt_);
    // New data re-arms a pending probe (RFC 8985 7.2); the RTO proper keeps its deadline.
    if (rto_at_ == kNever || probe_armed_) ArmRetransmitLocked();
    if (fin_now) break;
  }
  if (ack_pending_ && delack_at_ <= stack_.now() && IsSynchronized(state_)) SendAckLocked();
}

void TcpEndpoint::EnterRecoveryLocked() {
  in_recovery_ = true;
  recover_ = snd_max_;
  high_rxt_ = snd_una_;
  rxt_horizon_ = snd_nxt_;
  cc_->OnCongestionEvent(static_cast<uint32_t>(snd_max_ - snd_una_), stack_.now());
  stack_.stats().tcp.fast_retrans++;
  if (sack_ok_) {  // RFC 6675 5 (4.3): the first segment goes at once, then NextSeg fills the pipe
    stack_.stats().tcp.sack_recoveries++;
    high_rxt_ = snd_una_ + RetransmitFirstLocked();
    SackRetransmitLocked();
    return;
  }
  stack_.stats().tcp.reno_recoveries++;
  cc_->InflateForDupAcks(3);  // RFC 6582 3.2 steps 2-4
  RetransmitFirstLocked();
}

void TcpEndpoint::DetectLostRetransmitsLocked() {
  if (!in_recovery_ || !sack_ok_ || high_rxt_ <= snd_una_) return;
  if (SeqNum(scoreboard_.highest_sacked()) <= rxt_horizon_) return;
  stack_.stats().tcp.lost_retransmits++;
  high_rxt_ = snd_una_;  // NextSeg offers the unSACKed holes again; the pipe no longer counts them
}

void TcpEndpoint::SackRetransmitLocked() {
  DetectLostRetransmitsLocked();
  uint32_t pipe = scoreboard_.Pipe(snd_una_.value(), snd_max_.value(), Max(high_rxt_, snd_una_).value(), mss_);
  SeqNum data_end = DataEnd();
  // Bounded by the window's worth of segments, whatever the scoreboard says.
  for (int budget = 64; budget > 0 && pipe < cc_->cwnd(); --budget) {
    uint32_t seq, len;
    if (!scoreboard_.NextLostSegment(Max(high_rxt_, snd_una_).value(), snd_max_.value(), mss_, &seq, &len))
      break;
    SeqNum from(seq);
    uint8_t flags = TcpRepr::kAck;
    uint32_t data = len;
    if (from + len > data_end) {  // the range reaches our FIN, which takes no payload byte
      data = from < data_end ? static_cast<uint32_t>(data_end - from) : 0;
      if (fin_pending_ && !fin_acked_) flags |= TcpRepr::kFin;
    }
    rtt_timing_ = false;  // Karn
    stack_.stats().tcp.retrans_segs++;
    ++total_retrans_;
    SendSegmentLocked(from, data, flags);
    high_rxt_ = from + len;
    rxt_horizon_ = snd_nxt_;
    pipe += len;
  }
  if (rto_at_ == kNever) ArmRetransmitLocked();
}

uint32_t TcpEndpoint::RetransmitFirstLocked() {
  // Only what was sent before: bytes queued since then are new data for OutputLocked, and an ACK
  // for bytes beyond snd_max would be refused as acknowledging what was never sent.
  SeqNum data_end = DataEnd();
  SeqNum sent_end = Min(data_end, snd_max_);
  uint32_t len = std::min<uint32_t>(mss_, snd_una_ < sent_end ? static_cast<uint32_t>(sent_end - snd_una_) : 0);
  uint8_t flags = TcpRepr::kAck;
  bool fin = fin_pending_ && !fin_acked_ && snd_una_ + len == data_end && snd_max_ > data_end;
  if (fin) flags |= TcpRepr::kFin;
  rtt_timing_ = false;  // Karn: never time a retransmitted segment
  stack_.stats().tcp.retrans_segs++;
  ++total_retrans_;
  SendSegmentLocked(snd_una_, len, flags);
  return len + (fin ? 1 : 0);
}

}  // namespace tapsock::tcp
