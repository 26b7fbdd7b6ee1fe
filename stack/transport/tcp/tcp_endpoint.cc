// The TCP socket API: what the shim's calls do to a connection (RFC 9293 3.10.1-3.10.6, with
// Linux's errno choices).
#include "stack/transport/tcp/tcp_endpoint.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "stack/base/user_copy.h"
#include "stack/stack.h"
#include "stack/transport/tcp/tcp_protocol.h"

namespace tapsock::tcp {

const char* StateName(State s) {
  switch (s) {
    case State::kEstablished: return "ESTABLISHED";
    case State::kSynSent: return "SYN-SENT";
    case State::kSynReceived: return "SYN-RECEIVED";
    case State::kFinWait1: return "FIN-WAIT-1";
    case State::kFinWait2: return "FIN-WAIT-2";
    case State::kTimeWait: return "TIME-WAIT";
    case State::kClosed: return "CLOSED";
    case State::kCloseWait: return "CLOSE-WAIT";
    case State::kLastAck: return "LAST-ACK";
    case State::kListen: return "LISTEN";
    case State::kClosing: return "CLOSING";
  }
  return "?";
}

TcpEndpoint::TcpEndpoint(Stack& stack, TcpProtocol& proto, bool v6)
    : stack_(stack), proto_(proto), v6_(v6), id_(proto.NewConnectionIdLocked()) {
  local_addr_.family = v6 ? IpAddr::Family::kV6 : IpAddr::Family::kV4;
  opts_.sndbuf = kDefaultSndBuf;
  opts_.rcvbuf = kDefaultRcvBuf;
  cc_ = MakeCongestionControl("cubic");  // Linux's default
}

TcpEndpoint::~TcpEndpoint() { stack_.pool().FreeQueue(rcv_queue_); }

void TcpEndpoint::NotifyLocked() {
  if (observer_) observer_->OnReadinessChangedLocked();
}

void TcpEndpoint::EmitEventLocked(TcpEvent::Kind kind, State to) {
  StackEventObserver* o = stack_.event_observer();
  if (!o) return;
  TcpEvent e;
  e.kind = kind;
  e.conn_id = id_;
  e.local = local_v4_;
  e.local_port = local_port_;
  e.remote = remote_v4_;
  e.remote_port = remote_port_;
  e.from_state = static_cast<uint8_t>(state_);
  e.to_state = static_cast<uint8_t>(to);
  e.retransmits = retransmits_;
  e.rto_us = static_cast<uint64_t>(rtt_.Rto() / 1000);
  o->OnTcpEventLocked(e);
}

void TcpEndpoint::SetStateLocked(State s) {
  if (s == state_) return;
  TcpStats& st = stack_.stats().tcp;
  if (state_ == State::kEstablished || state_ == State::kCloseWait) st.curr_estab--;
  if (s == State::kEstablished || s == State::kCloseWait) st.curr_estab++;
  // Linux's tcp_set_state: EstabResets counts every ESTABLISHED or CLOSE-WAIT connection that
  // goes straight to CLOSED (a reset either way, a timeout), not only resets received.
  if (s == State::kClosed && (state_ == State::kEstablished || state_ == State::kCloseWait)) st.estab_resets++;
  EmitEventLocked(TcpEvent::Kind::kStateChange, s);
  state_ = s;
  if (s == State::kEstablished) ever_connected_ = true;
  if (s == State::kClosed) {
    rto_at_ = delack_at_ = persist_at_ = keepalive_at_ = timewait_at_ = kNever;
    proto_.RemoveConnectionLocked(this);
  }
  NotifyLocked();
}

void TcpEndpoint::SetErrorLocked(Error e) {
  sticky_error_ = e;
  NotifyLocked();
}

Error TcpEndpoint::TakeErrorLocked() {
  Error e = sticky_error_;
  sticky_error_ = Error::kOk;
  if (e != Error::kOk) NotifyLocked();
  return e;
}

Status TcpEndpoint::BindLocked(const FullAddress& addr) {
  if (state_ != State::kClosed || bound()) return Error::kInvalidArgument;
  Ipv4Addr v4;
  if (addr.addr.is_v4()) {
    v4 = addr.addr.v4();
  } else if (addr.addr.IsV4Mapped()) {
    if (opts_.v6_only) return Error::kInvalidArgument;
    v4 = addr.addr.MappedV4();
  } else if (!addr.addr.IsAny()) {
    return Error::kAddressNotAvailable;  // native IPv6 arrives with the IPv6 layer
  }
  if (!v4.IsAny() && !stack_.IsLocalAddressLocked(v4)) return Error::kAddressNotAvailable;
  local_v4_ = v4;
  auto port = proto_.BindLocked(this, addr.port);
  if (!port.ok()) {
    local_v4_ = {};
    return port.error();
  }
  local_port_ = port.value();
  local_addr_ = addr.addr;
  addr_locked_ = !v4.IsAny();
  return OkStatus();
}

Status TcpEndpoint::AutoBindLocked() {
  if (bound()) return OkStatus();
  auto port = proto_.BindLocked(this, 0);
  if (!port.ok()) return Error::kAddressNotAvailable;  // Linux: EADDRNOTAVAIL when ports run out
  local_port_ = port.value();
  return OkStatus();
}

Status TcpEndpoint::ListenLocked(int backlog) {
  if (state_ != State::kClosed && state_ != State::kListen) return Error::kInvalidArgument;
  if (Status s = AutoBindLocked(); !s.ok()) return s;
  // SO_REUSEADDR shares a bound port, never a listening one (inet_csk_get_port / bind conflict).
  if (state_ == State::kClosed && proto_.ListenConflictLocked(this)) return Error::kAddressInUse;
  // __sys_listen clamps to net.core.somaxconn; a negative backlog is a huge unsigned one.
  constexpr int kSomaxconn = 4096;
  backlog_ = (backlog < 0 || backlog > kSomaxconn) ? kSomaxconn : backlog;
  SetStateLocked(State::kListen);
  return OkStatus();
}

void TcpEndpoint::InitConnectionLocked() {
  // Our MSS: the route's MTU less the headers (RFC 9293 3.7.1), or TCP_MAXSEG if smaller.
  uint32_t mtu = route_.nic ? route_.nic->mtu() : 1500;
  uint32_t mss = mtu - 40;
  if (topts_.user_mss > 0) mss = std::min<uint32_t>(mss, topts_.user_mss);
  adv_mss_ = static_cast<uint16_t>(std::min<uint32_t>(mss, 65495));
  mss_ = std::min<uint32_t>(adv_mss_, 536);
  // The smallest window scale that can advertise the whole receive buffer (RFC 7323 2.3).
  rcv_wscale_ = 0;
  while (rcv_wscale_ < 14 && (RcvLimit() >> rcv_wscale_) > 65535) ++rcv_wscale_;
  ts_offset_ = static_cast<uint32_t>(stack_.random().Next());
  if (!ooo_) ooo_ = std::make_unique<ReassemblyQueue>(stack_.pool(), RcvLimit());
  last_recv_ = stack_.now();
  snd_urg_ = false;  // no urgent data from an earlier attempt
  urg_ = Urgent::kNone;
}

Status TcpEndpoint::ConnectLocked(const FullAddress& addr) {
  if (state_ == State::kSynSent || state_ == State::kSynReceived) return Error::kAlreadyInProgress;
  if (connect_pending_) {  // __inet_stream_connect, SS_CONNECTING: report the outcome once
    connect_pending_ = false;
    if (state_ != State::kClosed) return OkStatus();
    sk_shutdown_ = 0;  // the failed attempt is disconnected: a fresh socket again
    Error e = TakeErrorLocked();
    return e != Error::kOk ? e : Error::kConnectionAborted;
  }
  if (state_ != State::kClosed) return Error::kAlreadyConnected;  // EISCONN, a listener included
  Ipv4Addr dst;
  if (addr.addr.is_v4()) dst = addr.addr.v4();
  else if (addr.addr.IsV4Mapped() && !opts_.v6_only) dst = addr.addr.MappedV4();
  else return Error::kNetworkUnreachable;
  auto route = stack_.RouteV4Locked(dst, local_v4_, opts_.bound_device);
  if (!route.ok()) return route.error();
  if (route.value().broadcast || route.value().dst.IsMulticast()) return Error::kNetworkUnreachable;
  route_ = route.value();
  if (local_v4_.IsAny()) local_v4_ = route_.src;
  if (Status s = AutoBindLocked(); !s.ok()) return s;
  remote_v4_ = route_.dst;
  remote_port_ = addr.port;
  proto_.AddConnectionLocked(this);
  InitConnectionLocked();
  iss_ = proto_.IsnLocked(local_v4_, local_port_, remote_v4_, remote_port_);
  snd_una_ = snd_sml_ = iss_;
  snd_nxt_ = snd_max_ = iss_;
  sk_shutdown_ = 0;
  stack_.stats().tcp.active_opens++;
  SetStateLocked(State::kSynSent);
  rtt_start_ = stack_.now();  // the SYN's round trip is the first sample (if not retransmitted)
  SendSegmentLocked(iss_, 0, wire::TcpRepr::kSyn);
  snd_nxt_ = snd_max_ = iss_ + 1u;
  ArmRetransmitLocked();
  connect_pending_ = true;
  return Error::kInProgress;
}

Result<TcpEndpoint*> TcpEndpoint::AcceptLocked() {
  if (state_ != State::kListen) return Error::kInvalidArgument;
  if (accept_queue_.empty()) return Error::kWouldBlock;
  TcpEndpoint* child = accept_queue_.front();
  accept_queue_.pop_front();
  child->listener_ = nullptr;
  child->user_held_ = true;
  NotifyLocked();
  return child;
}

Result<size_t> TcpEndpoint::SendLocked(std::span<const iovec> iov, bool more, bool oob) {
  if (sticky_error_ != Error::kOk) return TakeErrorLocked();
  if (sk_shutdown_ & kSendShutdown) return Error::kBrokenPipe;
  if (state_ == State::kSynSent || state_ == State::kSynReceived) return Error::kWouldBlock;
  if (!CanSend(state_)) return Error::kBrokenPipe;  // sk_stream_wait_connect: never connected
  size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  if (total == 0) return size_t{0};
  bool fault = false;
  size_t taken = snd_buf_.Append(iov, 0, SndLimit(), &fault);
  if (fault) {
    // tcp_sendmsg copies into page fragments of 32 KiB and a fault loses the fragment it was
    // filling: keep whole fragments' worth, and EFAULT when none (a short buffer over a hole).
    size_t keep = taken / kSendCopyChunk * kSendCopyChunk;
    snd_buf_.DropTail(taken - keep);
    taken = keep;
    if (taken == 0) return Error::kBadAddress;
  }
  if (taken == 0) return Error::kWouldBlock;
  more_ = more;  // MSG_MORE holds a partial segment back until a send without it
  if (oob) {  // tcp_mark_urg: urgent mode until the peer acknowledges the pointer
    snd_up_ = DataEnd();
    snd_urg_ = true;
  }
  OutputLocked();
  return taken;
}

Result<size_t> TcpEndpoint::RecvLocked(std::span<const iovec> iov, bool peek) {
  if (state_ == State::kListen) return Error::kNotConnected;
  size_t want = 0;
  for (const iovec& v : iov) want += v.iov_len;
  size_t urg_skip, limit;
  UrgentReadLimitsLocked(&urg_skip, &limit);
  if (urg_skip > 0 && !peek) {  // stepped over even when nothing follows it
    ConsumeReceivedLocked(urg_skip);
    limit -= urg_skip;
    urg_skip = 0;
  }
  want = std::min(want, limit - urg_skip);
  if (limit == urg_skip) {
    if (fin_received_) return size_t{0};  // tcp_recvmsg: after the peer's FIN, EOF comes first
    if (sticky_error_ != Error::kOk) return TakeErrorLocked();
    if (sk_shutdown_ & kRcvShutdown) return size_t{0};
    if (state_ == State::kClosed) return ever_connected_ ? Result<size_t>(size_t{0}) : Error::kNotConnected;
    return Error::kWouldBlock;
  }
  // Copy across queued buffers into the caller's iovecs, as tcp_recvmsg coalesces.
  size_t copied = 0, vi = 0, voff = 0;
  bool fault = false;
  size_t skip = rcv_front_consumed_ + urg_skip;
  for (PacketBuffer* p = rcv_queue_.front(); p && copied < want; p = p->next) {
    size_t off = skip;
    skip = 0;
    while (off < p->len && copied < want) {
      while (vi < iov.size() && voff == iov[vi].iov_len) ++vi, voff = 0;
      if (vi == iov.size()) break;
      size_t n = std::min({p->len - off, iov[vi].iov_len - voff, want - copied});
      if (CopyToUser(static_cast<uint8_t*>(iov[vi].iov_base) + voff, p->data() + off, n) < n) {
        // tcp_recvmsg: the segment being copied stays queued; what came before counts, and
        // nothing before it is EFAULT.
        fault = true;
        break;
      }
      off += n;
      voff += n;
      copied += n;
    }
    if (fault) break;
  }
  if (fault && copied == 0) return Error::kBadAddress;
  if (peek) return copied;
  uint32_t before = static_cast<uint32_t>(rcv_adv_ - rcv_nxt_);
  ConsumeReceivedLocked(copied);
  // Window update (RFC 9293 3.8.6.2.2, receiver-side SWS avoidance): once the window has opened
  // by min(a segment, half the buffer).
  uint32_t step = std::min<uint32_t>(adv_mss_, static_cast<uint32_t>(RcvSpace() / 2));
  if (IsSynchronized(state_) && RecvWindowLocked() >= before + std::max<uint32_t>(step, 1)) SendAckLocked();
  NotifyLocked();
  return copied;
}

void TcpEndpoint::ConsumeReceivedLocked(size_t n) {
  rcv_bytes_ -= n;
  while (n > 0) {
    PacketBuffer* p = rcv_queue_.front();
    size_t avail = p->len - rcv_front_consumed_;
    if (n < avail) {
      rcv_front_consumed_ += n;
      break;
    }
    n -= avail;
    rcv_front_consumed_ = 0;
    stack_.pool().Free(rcv_queue_.Pop());
  }
  if (urg_ != Urgent::kNone && CopiedSeq() > rcv_up_) urg_ = Urgent::kNone;  // read past the mark
}

Status TcpEndpoint::ShutdownLocked(int how) {
  if (how < SHUT_RD || how > SHUT_RDWR) return Error::kInvalidArgument;
  switch (state_) {
    case State::kClosed:
    case State::kTimeWait: return Error::kNotConnected;  // to the application TIME-WAIT is CLOSED
    case State::kListen:
      if (how == SHUT_WR) return OkStatus();  // a listener has nothing to send
      [[fallthrough]];
    case State::kSynSent:
      DisconnectLocked();  // inet_shutdown disconnects a listener or a connect in progress
      return OkStatus();
    default: break;
  }
  if (how != SHUT_WR) sk_shutdown_ |= kRcvShutdown;
  if (how != SHUT_RD && !(sk_shutdown_ & kSendShutdown)) {
    sk_shutdown_ |= kSendShutdown;
    fin_pending_ = true;
    if (state_ == State::kEstablished || state_ == State::kSynReceived) SetStateLocked(State::kFinWait1);
    else if (state_ == State::kCloseWait) SetStateLocked(State::kLastAck);
    OutputLocked();
  }
  NotifyLocked();
  return OkStatus();
}

void TcpEndpoint::DisconnectLocked() {
  if (state_ == State::kListen) {  // its queued connections are reset, as on close
    for (TcpEndpoint* child : accept_queue_) child->AbortLocked(Error::kOk, true), child->listener_ = nullptr;
    accept_queue_.clear();
    for (TcpEndpoint* ep : proto_.endpoints())
      if (ep->listener_ == this) ep->AbortLocked(Error::kOk, true), ep->listener_ = nullptr;
  }
  connect_pending_ = false;
  snd_buf_.Clear();
  SetStateLocked(State::kClosed);
  sk_shutdown_ = 0;
  NotifyLocked();
}

void TcpEndpoint::CloseLocked() {
  user_held_ = false;
  observer_ = nullptr;
  switch (state_) {
    case State::kListen:
    case State::kClosed:
    case State::kSynSent:
      // Nothing left to say to a peer: the port is free at once, as tcp_close frees it (the
      // object waits for the next reaping, which may be a while when no timer is due).
      DisconnectLocked();
      proto_.UnbindLocked(this);
      return;
    default: break;
  }
  // RFC 2525 2.17 and Linux: closing with unread data, or with SO_LINGER zero, resets.
  if (rcv_bytes_ > 0 || (topts_.linger && topts_.linger_s == 0)) {
    // tcp_close counts unread data first, as Linux's TCPAbortOnClose, then SO_LINGER 0 (OnData).
    if (rcv_bytes_ > 0) stack_.stats().tcp.abort_on_close++;
    else stack_.stats().tcp.abort_on_data++;
    AbortLocked(Error::kOk, true);
    return;
  }
  if (!(sk_shutdown_ & kSendShutdown)) (void)ShutdownLocked(SHUT_WR);
  sk_shutdown_ |= kRcvShutdown;
}

uint32_t TcpEndpoint::ReadinessLocked() const {
  uint32_t mask = 0;
  if (state_ == State::kListen) return accept_queue_.empty() ? 0 : kReadable;
  if (sticky_error_ != Error::kOk) mask |= POLLERR;
  // tcp_poll: HUP when both directions are shut or the socket is closed.
  if (sk_shutdown_ == (kRcvShutdown | kSendShutdown) || state_ == State::kClosed) mask |= POLLHUP;
  if (sk_shutdown_ & kRcvShutdown) mask |= kReadable | POLLRDHUP;
  if (state_ == State::kSynSent || state_ == State::kSynReceived) return mask;
  // At the mark, an urgent byte taken out of band is not something to read.
  if (rcv_bytes_ > (AtUrgentMarkLocked() && !topts_.oobinline ? 1u : 0u)) mask |= kReadable;
  if (urg_ == Urgent::kValid) mask |= POLLPRI;
  if (sk_shutdown_ & kSendShutdown) {
    mask |= POLLOUT | POLLWRNORM;
  } else {
    // sk_stream_is_writeable: free space at least half of what is queued.
    size_t queued = snd_buf_.size(), limit = SndLimit();
    if (limit > queued && limit - queued >= queued / 2) mask |= POLLOUT | POLLWRNORM;
  }
  return mask;
}

FullAddress TcpEndpoint::LocalAddressLocked() const {
  if (!v6_) return {IpAddr::V4(local_v4_), local_port_};
  // An AF_INET6 socket on a wildcard shows ::, otherwise the v4-mapped form of its address.
  if (local_v4_.IsAny() && !local_addr_.IsV4Mapped()) {
    IpAddr any;
    any.family = IpAddr::Family::kV6;
    return {any, local_port_};
  }
  return {IpAddr::V6(MappedBytes(local_v4_).data()), local_port_};
}

Result<FullAddress> TcpEndpoint::PeerAddressLocked() const {
  if (state_ == State::kClosed || state_ == State::kListen || state_ == State::kSynSent) return Error::kNotConnected;
  IpAddr a = v6_ ? IpAddr::V6(MappedBytes(remote_v4_).data()) : IpAddr::V4(remote_v4_);
  return FullAddress{a, remote_port_};
}

size_t TcpEndpoint::UnsentBytesLocked() const {
  uint32_t in_flight = static_cast<uint32_t>(snd_nxt_ - snd_una_);
  return snd_buf_.size() > in_flight ? snd_buf_.size() - in_flight : 0;
}

uint32_t TcpEndpoint::rcv_space() const { return static_cast<uint32_t>(RcvSpace() - std::min(RcvSpace(), rcv_bytes_)); }

TcpInfo TcpEndpoint::InfoLocked() const {
  TcpInfo i;
  i.state = state_ == State::kTimeWait ? State::kClosed : state_;  // a TIME-WAIT socket reads as CLOSE
  i.retransmits = static_cast<uint8_t>(std::min<uint32_t>(retransmits_, 255));
  i.backoff = static_cast<uint8_t>(rtt_.backoffs());
  i.options = (ts_ok_ ? 1 : 0) | (sack_ok_ ? 2 : 0) | (ws_ok_ ? 4 : 0);  // TCPI_OPT_*
  i.snd_wscale = snd_wscale_;
  i.rcv_wscale = rcv_wscale_;
  i.in_recovery = in_recovery_;
  i.in_loss = in_loss_;
  i.rto_us = static_cast<uint32_t>(rtt_.Rto() / 1000);
  i.ato_us = 40000;
  i.snd_mss = mss_;
  i.rcv_mss = adv_mss_;
  i.advmss = adv_mss_;
  i.unacked = mss_ ? static_cast<uint32_t>((static_cast<uint32_t>(snd_max_ - snd_una_) + mss_ - 1) / mss_) : 0;
  i.rtt_us = static_cast<uint32_t>(rtt_.srtt() / 1000);
  i.rttvar_us = static_cast<uint32_t>(rtt_.rttvar() / 1000);
  i.snd_ssthresh = cc_ && mss_ ? cc_->ssthresh() / mss_ : 0;
  i.snd_cwnd = cc_ && mss_ ? cc_->cwnd() / mss_ : 0;
  i.rcv_space = rcv_space();
  i.total_retrans = total_retrans_;
  i.snd_wnd = snd_wnd_;
  i.bytes_acked = bytes_acked_;
  i.bytes_received = bytes_received_;
  i.segs_out = segs_out_;
  i.segs_in = segs_in_;
  return i;
}

Status TcpEndpoint::SetCongestionControlLocked(std::string_view name) {
  auto cc = MakeCongestionControl(name);
  if (!cc) return Error::kNotFound;
  if (IsSynchronized(state_)) cc->Init(mss_, stack_.now());
  cc_ = std::move(cc);
  return OkStatus();
}

}  // namespace tapsock::tcp
