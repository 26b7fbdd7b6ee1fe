// A TCP connection or listener: the transmission control block (RFC 9293 3.3.1, fields keep their
// RFC names) and the socket API the shim calls. The work is split by concern, as Linux and gVisor
// split theirs:
//   tcp_endpoint.cc   socket API: bind, listen, accept, connect, send, recv, shutdown, close
//   tcp_input.cc      SEGMENT ARRIVES, step by step (RFC 9293 3.10.7)
//   tcp_output.cc     what to send now: data under the windows, Nagle and cork, ACKs, SYN, FIN, RST
//   tcp_timers.cc     retransmission (RFC 6298), delayed ACK, persist, keepalive, TIME-WAIT
//   tcp_protocol.cc   demultiplexing, listeners and their SYN queue, ports, ISNs (RFC 6528)
// Not thread-safe: every method requires the stack lock.
#pragma once

#include <sys/uio.h>

#include <deque>
#include <memory>
#include <span>

#include "stack/base/clock.h"
#include "stack/base/result.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/endpoint.h"
#include "stack/network/route_table.h"
#include "stack/registration.h"
#include "stack/transport/tcp/congestion_control.h"
#include "stack/transport/tcp/reassembly_queue.h"
#include "stack/transport/tcp/rtt_estimator.h"
#include "stack/transport/tcp/sack_scoreboard.h"
#include "stack/transport/tcp/send_buffer.h"
#include "stack/transport/tcp/seqnum.h"
#include "stack/transport/tcp/tcp_state.h"
#include "stack/wire/tcp.h"

namespace tapsock {
class Stack;
}

namespace tapsock::tcp {

class TcpProtocol;

// Socket options that shape TCP's behaviour (SOL_TCP and the TCP side of SOL_SOCKET).
struct TcpOptions {
  bool nodelay = false;     // TCP_NODELAY
  bool cork = false;        // TCP_CORK
  bool quickack = true;     // TCP_QUICKACK as getsockopt reads it (Linux: not in pingpong mode)
  bool keepalive = false;   // SO_KEEPALIVE
  int keepidle_s = 7200;    // TCP_KEEPIDLE
  int keepintvl_s = 75;     // TCP_KEEPINTVL
  int keepcnt = 9;          // TCP_KEEPCNT
  int user_mss = 0;         // TCP_MAXSEG before connect (0: from the route)
  bool linger = false;      // SO_LINGER
  int linger_s = 0;
  bool oobinline = false;   // SO_OOBINLINE
  int syn_retries = 6;      // TCP_SYNCNT (net.ipv4.tcp_syn_retries)
  int user_timeout_ms = 0;  // TCP_USER_TIMEOUT (stored; the RTO give-up uses tcp_retries2)
  // SO_SNDBUF/SO_RCVBUF set by the program turn off buffer autotuning, as in Linux.
  bool sndbuf_locked = false;
  bool rcvbuf_locked = false;
};

// Linux's net.ipv4.tcp_wmem / tcp_rmem: default and autotuning ceiling.
constexpr int kDefaultSndBuf = 16384;
constexpr int kDefaultRcvBuf = 131072;
// What Linux's tcp_sendmsg copies at a time (a page fragment): a fault loses the one in progress.
constexpr size_t kSendCopyChunk = 32768;
constexpr size_t kMaxAutoSndBuf = 4u << 20;
constexpr size_t kMaxAutoRcvBuf = 6u << 20;

// What TCP_INFO reports, from the live control block.
struct TcpInfo {
  State state = State::kClosed;
  uint8_t retransmits = 0, backoff = 0, options = 0, snd_wscale = 0, rcv_wscale = 0;
  bool in_recovery = false;
  bool in_loss = false;
  uint32_t rto_us = 0, ato_us = 0, snd_mss = 0, rcv_mss = 0, unacked = 0, rtt_us = 0, rttvar_us = 0;
  uint32_t snd_ssthresh = 0, snd_cwnd = 0, advmss = 0, rcv_space = 0, total_retrans = 0, snd_wnd = 0;
  uint64_t bytes_acked = 0, bytes_received = 0, segs_out = 0, segs_in = 0;
};

// An incoming segment, parsed and validated by TcpProtocol.
struct Segment {
  wire::TcpRepr tcp;
  Ipv4Addr src, dst;
  PacketBuffer* payload;  // head at the first data byte; owned by whoever consumes it
  uint32_t data_len() const { return payload->len; }
  // SEG.LEN: data plus one for each of SYN and FIN.
  uint32_t seg_len() const {
    return payload->len + ((tcp.flags & wire::TcpRepr::kSyn) ? 1 : 0) + ((tcp.flags & wire::TcpRepr::kFin) ? 1 : 0);
  }
  bool has(uint8_t flag) const { return tcp.flags & flag; }
};

class TcpEndpoint {
 public:
  TcpEndpoint(Stack& stack, TcpProtocol& proto, bool v6);
  ~TcpEndpoint();
  TcpEndpoint(const TcpEndpoint&) = delete;
  TcpEndpoint& operator=(const TcpEndpoint&) = delete;

  // ---- Socket API (tcp_endpoint.cc) ----
  void SetObserver(EndpointObserver* o) { observer_ = o; }
  bool v6() const { return v6_; }
  EndpointOptions& options() { return opts_; }
  TcpOptions& tcp_options() { return topts_; }
  Status BindLocked(const FullAddress& addr);
  Status ListenLocked(int backlog);
  // Starts the handshake: kInProgress (EINPROGRESS) unless it failed at once.
  Status ConnectLocked(const FullAddress& addr);
  // A connection from the accept queue, or kWouldBlock.
  Result<TcpEndpoint*> AcceptLocked();
  // `oob` (MSG_OOB): the last byte taken is urgent (tcp_mark_urg).
  Result<size_t> SendLocked(std::span<const iovec> iov, bool more, bool oob = false);
  // Copies into iov; `peek` leaves the data; returns 0 at end of stream.
  // Stops at the urgent mark once something was copied; one that starts there skips an urgent
  // byte taken out of band (tcp_urgent.cc).
  Result<size_t> RecvLocked(std::span<const iovec> iov, bool peek);
  // recv(MSG_OOB), never blocking (tcp_recv_urg): 1 and the urgent byte in *byte, or 0 at end of
  // stream; kInvalidArgument when there is none to read (or SO_OOBINLINE), kWouldBlock when the
  // urgent pointer arrived before its byte. `peek` leaves the byte unread.
  Result<size_t> RecvUrgentLocked(uint8_t* byte, bool peek);
  // SIOCATMARK: the next byte a read would reach is the urgent mark.
  bool AtUrgentMarkLocked() const;
  // FIONREAD (tcp_inq): queued bytes, but only up to an urgent byte taken out of band.
  size_t InqLocked() const;
  Status ShutdownLocked(int how);  // SHUT_RD, SHUT_WR, SHUT_RDWR
  // The application let go: graceful FIN, or RST when data is unread or SO_LINGER is 0. The
  // protocol owns the endpoint from now on and deletes it when the connection is done.
  void CloseLocked();
  uint32_t ReadinessLocked() const;
  FullAddress LocalAddressLocked() const;
  Result<FullAddress> PeerAddressLocked() const;
  Error TakeErrorLocked();
  bool HasErrorLocked() const { return sticky_error_ != Error::kOk; }
  size_t ReadableBytesLocked() const { return rcv_bytes_; }
  size_t UnsentOrUnackedBytesLocked() const { return snd_buf_.size(); }
  size_t UnsentBytesLocked() const;
  State state() const { return state_; }
  void SetStateLocked(State s);
  // A small number unique within the stack, fixed at creation ("c17" in logs and `tapsock stat`):
  // immutable, so it may be read without the lock by whoever keeps the endpoint alive.
  uint64_t id() const { return id_; }
  // The application holds it (false after close(), and for a child until accept()).
  bool user_held() const { return user_held_; }
  size_t accept_queue_length() const { return accept_queue_.size(); }
  bool listening() const { return state_ == State::kListen; }
  int backlog() const { return backlog_; }
  // TCP_INFO-style figures.
  const RttEstimator& rtt() const { return rtt_; }
  const CongestionControl* cc() const { return cc_.get(); }
  Status SetCongestionControlLocked(std::string_view name);
  // TCP_QUICKACK: 1 acknowledges every segment for a while (Linux's quick-ack mode), 0 delays.
  void SetQuickAckLocked(bool on) {
    topts_.quickack = on;
    quickacks_ = on ? std::max(quickacks_, 16) : 0;
  }
  uint32_t mss() const { return mss_; }
  uint32_t total_retransmits() const { return total_retrans_; }
  uint32_t snd_wnd() const { return snd_wnd_; }
  uint32_t rcv_space() const;
  TcpInfo InfoLocked() const;

  // ---- Protocol side (tcp_input.cc, tcp_output.cc, tcp_timers.cc) ----
  // Consumes seg.payload.
  void InputLocked(Segment& seg);
  // A SYN for this listener: makes the child in SYN-RECEIVED (or drops when the queue is full).
  void ListenInputLocked(Segment& seg);
  void OutputLocked();
  Instant NextDeadline() const;
  void TimersLocked();
  // Connection 4-tuple (IPv4 view).
  Ipv4Addr local_v4() const { return local_v4_; }
  uint16_t local_port() const { return local_port_; }
  Ipv4Addr remote_v4() const { return remote_v4_; }
  uint16_t remote_port() const { return remote_port_; }
  bool bound() const { return local_port_ != 0; }
  bool accepts_v4() const { return !v6_ || !opts_.v6_only; }
  // The protocol may delete it: closed, the application let go, no listener queue holds it.
  bool Reapable() const { return state_ == State::kClosed && !user_held_ && listener_ == nullptr; }

 private:
  friend class TcpProtocol;
  void NotifyLocked();
  // Tells the stack's event observer, if any (TcpEvent): for logs, never on the per-segment path.
  // The event's from_state is the current state; to_state is `to` (a state change's new state).
  void EmitEventLocked(TcpEvent::Kind kind, State to);
  void SetErrorLocked(Error e);
  Status AutoBindLocked();
  void InitConnectionLocked();  // MSS, windows, congestion control: before the first SYN
  // tcp_input.cc
  void SynSentInputLocked(Segment& seg);
  bool CheckSequenceLocked(Segment& seg);
  void ResetArrivedLocked(const Segment& seg);
  bool ProcessAckLocked(Segment& seg);
  void ProcessDataLocked(Segment& seg);
  // tcp_urgent.cc: the sixth step (tcp_check_urg) and the urgent byte once it is in order.
  void CheckUrgentPointerLocked(const Segment& seg);
  void FetchUrgentByteLocked();
  // How far a read may go: it skips `*skip` bytes (an urgent byte taken out of band, at the
  // front) and covers at most `*limit` bytes from the front (stopping before the mark).
  void UrgentReadLimitsLocked(size_t* skip, size_t* limit) const;
  // The first unread byte (Linux's copied_seq).
  SeqNum CopiedSeq() const {
    return rcv_nxt_ - static_cast<uint32_t>(rcv_bytes_) - (fin_received_ ? 1u : 0u);
  }
  // Frees `n` read bytes from the front of the receive queue.
  void ConsumeReceivedLocked(size_t n);
  void ProcessFinLocked(Segment& seg);
  void ParseSynOptionsLocked(const wire::TcpOptions& o);
  // A child of this listener for the connection `seg` belongs to, registered, not yet in a queue.
  TcpEndpoint* MakeChildLocked(const Segment& seg, SeqNum iss, SeqNum irs);
  void SendCookieSynAckLocked(const Segment& syn);
  void OnAckedLocked(uint32_t acked, Instant rtt_sample_from);
  void SendChallengeAckLocked();
  // tcp_output.cc
  void SendSegmentLocked(SeqNum seq, uint32_t len, uint8_t flags);
  void SendAckLocked() { SendSegmentLocked(snd_nxt_, 0, wire::TcpRepr::kAck); }
  void SendResetLocked();
  bool NagleAllowsLocked(uint32_t len, uint32_t avail) const;
  uint32_t RecvWindowLocked();
  void ScheduleAckLocked(bool immediate);
  // Resends the segment at snd_una; returns the sequence space it covered.
  uint32_t RetransmitFirstLocked();
  // Fast recovery (RFC 6582, or RFC 6675 when SACK is on) begins.
  void EnterRecoveryLocked();
  // RFC 6675 5 (NextSeg rule 1): resends the holes the scoreboard deems lost while the pipe
  // leaves room in the congestion window.
  bool OnNewAckLocked(const Segment& seg, SeqNum ack);
  void OnDuplicateAckLocked();
  void SackRetransmitLocked();
  // A retransmission is lost once data sent after it is SACKed: resend the holes again rather
  // than wait for the RTO (Linux's tcp_mark_lost_retrans, RACK's rule in RFC 8985 without timing).
  void DetectLostRetransmitsLocked();
  // tcp_timers.cc
  // Arms rto_at_: with a tail loss probe's timeout (RFC 8985 7) when one may be sent, else the RTO.
  void ArmRetransmitLocked();
  bool MayProbeLocked() const;
  void OnLossProbeLocked();
  // Sets a timer field (rto_at_, delack_at_ ...) and tells the protocol, which may wake the loop.
  void ArmLocked(Instant& timer, Instant at);
  void OnRetransmitTimeoutLocked();
  void OnKeepaliveLocked();
  void EnterTimeWaitLocked();
  void OnPersistLocked();
  // First byte of application data in sequence space, and the sequence number after the last.
  SeqNum DataStart() const { return syn_acked_ ? snd_una_ : iss_ + 1u; }
  SeqNum DataEnd() const { return DataStart() + snd_buf_.size(); }
  uint32_t TsNow() const { return static_cast<uint32_t>(stack_now_ms()) + ts_offset_; }
  int64_t stack_now_ms() const;
  void BecomeEstablishedLocked(const Segment& seg);
  void AbortLocked(Error e, bool send_rst);
  // tcp_disconnect: back to a fresh CLOSED socket (a listener stopped by shutdown, a connect
  // abandoned), keeping the binding.
  void DisconnectLocked();

  Stack& stack_;
  TcpProtocol& proto_;
  const bool v6_;
  const uint64_t id_;
  EndpointOptions opts_;
  TcpOptions topts_;
  EndpointObserver* observer_ = nullptr;
  State state_ = State::kClosed;
  Error sticky_error_ = Error::kOk;
  bool user_held_ = true;  // the application has it (false for a child until accept, and after close)
  // Linux's sk_shutdown: RCV_SHUTDOWN after SHUT_RD or the peer's FIN, SEND_SHUTDOWN after
  // SHUT_WR; both after a reset. Poll and the calls read these, not the state.
  static constexpr uint8_t kRcvShutdown = 1, kSendShutdown = 2;
  uint8_t sk_shutdown_ = 0;
  bool ever_connected_ = false;
  // A connect() returned EINPROGRESS and its outcome has not been reported by connect() yet
  // (Linux's SS_CONNECTING): the next connect() reports it once.
  bool connect_pending_ = false;
  size_t SndLimit() const { return topts_.sndbuf_locked ? opts_.sndbuf : kMaxAutoSndBuf; }
  size_t RcvLimit() const { return topts_.rcvbuf_locked ? opts_.rcvbuf : kMaxAutoRcvBuf; }
  // The payload the receive buffer holds when full: RcvLimit() counts buffer capacity (Linux's
  // truesize), so the window offers that times the payload share of the buffers that arrive
  // (tcp_win_from_space with the measured scaling_ratio), never more than the queues can keep.
  size_t RcvSpace() const { return RcvLimit() * rcv_ratio_ >> 8; }
  size_t TrueToPayload(size_t truesize) const { return truesize * rcv_ratio_ >> 8; }

  // Addressing (IPv4 view; AF_INET6 sockets see v4-mapped forms).
  IpAddr local_addr_;
  Ipv4Addr local_v4_;
  uint16_t local_port_ = 0;
  bool addr_locked_ = false;
  Ipv4Addr remote_v4_;
  uint16_t remote_port_ = 0;
  RouteResult route_;

  // Listener.
  int backlog_ = 0;
  std::deque<TcpEndpoint*> accept_queue_;  // established children
  int syn_queue_ = 0;                      // children in SYN-RECEIVED
  Instant cookies_sent_at_ = kNever;       // the last SYN-queue overflow answered with a cookie
  TcpEndpoint* listener_ = nullptr;         // for a child not yet accepted

  // Send sequence space (RFC 9293 3.3.1).
  SeqNum iss_, snd_una_, snd_nxt_, snd_max_, snd_wl1_, snd_wl2_;
  uint32_t snd_wnd_ = 0;
  uint32_t max_snd_wnd_ = 0;
  uint8_t snd_wscale_ = 0;
  SendBuffer snd_buf_;  // bytes from snd_una (excluding SYN and FIN)
  bool fin_pending_ = false;  // the application shut down writing; FIN goes after the data
  bool fin_acked_ = false;    // the FIN sits at DataEnd(): sent once snd_nxt passes it
  bool syn_acked_ = false;    // our SYN is acknowledged: snd_una is the first data byte
  bool more_ = false;         // the last send had MSG_MORE
  SeqNum snd_sml_;            // end of the last small segment sent (Minshall's Nagle)
  bool peer_fin_pending_ = false;  // a FIN arrived out of order, at peer_fin_seq_
  SeqNum peer_fin_seq_;
  Instant challenge_window_start_ = 0;  // RFC 5961 challenge ACK rate limit (per socket)
  int challenge_acks_ = 0;
  // Receive sequence space.
  SeqNum irs_, rcv_nxt_, rcv_adv_;  // rcv_adv: right edge of the window last advertised
  uint8_t rcv_wscale_ = 0;
  // Payload per buffer capacity, in 1/256ths, of the last full-sized segment received (Linux's
  // scaling_ratio, which starts at one half).
  uint32_t rcv_ratio_ = 128;
  PacketQueue rcv_queue_;  // in-order payload, oldest first
  size_t rcv_bytes_ = 0;
  size_t rcv_front_consumed_ = 0;  // bytes already read from rcv_queue_.front()
  bool fin_received_ = false;
  // Urgent data, Linux's model (RFC 6093): the pointer points just past the urgent byte.
  bool snd_urg_ = false;  // urgent mode (tcp_urg_mode): snd_up is not acknowledged yet
  SeqNum snd_up_;         // one past our last urgent byte
  enum class Urgent : uint8_t { kNone, kNotYet, kValid, kRead };  // Linux's urg_data states
  Urgent urg_ = Urgent::kNone;  // the peer's urgent byte: announced, arrived, read out of band
  uint8_t urg_byte_ = 0;
  SeqNum rcv_up_;  // the peer's urgent byte (urg_seq); it stays in rcv_queue_ even when taken out
  std::unique_ptr<ReassemblyQueue> ooo_;

  // Negotiated options.
  uint32_t mss_ = 536;      // what we send per segment (RFC 9293 3.7.1 default)
  uint16_t adv_mss_ = 536;  // what we announced
  bool ts_ok_ = false, sack_ok_ = false, ws_ok_ = false;
  uint32_t ts_recent_ = 0;
  uint32_t ts_offset_ = 0;  // random per connection (RFC 7323 5.4)

  // Loss recovery and congestion control.
  RttEstimator rtt_;
  std::unique_ptr<CongestionControl> cc_;
  int dupacks_ = 0;
  bool in_recovery_ = false;
  // After a retransmission timeout, until the cumulative ACK passes recover_ (Linux's Loss state,
  // RFC 6582 4.1): the sender goes back over the flight in slow start, skipping what the peer
  // SACKs, and duplicate ACKs for this loss do not start fast recovery.
  bool in_loss_ = false;
  SeqNum recover_;  // snd_max when fast recovery or the Loss state began
  SackScoreboard scoreboard_;  // what the peer's SACK blocks say it holds (RFC 6675)
  SeqNum high_rxt_;            // one past the highest byte retransmitted in this recovery
  SeqNum rxt_horizon_;         // snd_nxt when the latest retransmission left (lost-retransmit check)
  bool probe_armed_ = false;   // rto_at_ holds a tail loss probe's deadline, not the RTO's
  bool probe_out_ = false;     // a probe was sent and the ACK of tlp_end_ has not come back
  SeqNum tlp_end_;
  uint32_t probe_allowance_ = 0;  // bytes a probe may send beyond cwnd
  SeqNum rtt_seq_;  // Karn: time one segment when timestamps are off
  Instant rtt_start_ = 0;
  bool rtt_timing_ = false;
  uint32_t retransmits_ = 0;  // consecutive timeouts
  uint32_t total_retrans_ = 0;
  uint64_t bytes_acked_ = 0, bytes_received_ = 0, segs_out_ = 0, segs_in_ = 0;

  // Acknowledgement state.
  int unacked_segments_ = 0;  // received since our last ACK
  bool ack_pending_ = false;
  int quickacks_ = 16;       // ACK every segment at the start (Linux's quickack mode)

  // Timers (kNever when off).
  Instant rto_at_ = kNever, delack_at_ = kNever, persist_at_ = kNever, keepalive_at_ = kNever,
          timewait_at_ = kNever;
  int keepalive_probes_ = 0;
  Instant last_recv_ = 0;
};

}  // namespace tapsock::tcp
