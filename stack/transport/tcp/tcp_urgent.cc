// Urgent data on the receive side, as Linux implements it (tcp_check_urg, tcp_urg, tcp_recvmsg,
// tcp_recv_urg, tcp_inq, tcp_ioctl's SIOCATMARK). The urgent pointer points just past the urgent
// byte (RFC 6093's reading of RFC 793). The receiver keeps one urgent byte at a time; the byte
// stays in the receive queue, where reads step over it unless SO_OOBINLINE is set, and a copy of
// it waits for recv(MSG_OOB). The send side (urgent mode, the pointer on each segment before it,
// Nagle off meanwhile) is in tcp_output.cc.
#include "stack/transport/tcp/tcp_endpoint.h"

namespace tapsock::tcp {

// RFC 9293 3.10.7.4, sixth step, with Linux's choices (tcp_check_urg).
void TcpEndpoint::CheckUrgentPointerLocked(const Segment& seg) {
  uint32_t ptr = seg.tcp.urgent;
  if (ptr > 0) --ptr;  // net.ipv4.tcp_stdurg off: the pointer is one past the urgent byte
  SeqNum up = SeqNum(seg.tcp.seq) + ptr;
  SeqNum copied = CopiedSeq();
  if (copied > up) return;  // read past already
  if (up < rcv_nxt_) return;  // never replay a pointer into data already received
  if (urg_ != Urgent::kNone && up <= rcv_up_) return;  // the same pointer again, or an older one
  if (observer_) observer_->OnUrgentDataLocked();  // SIGURG for the F_SETOWN owner
  // A new pointer replaces the old one, whose byte becomes ordinary data again, except when the
  // reader stands on it: then it is stepped over, or it would be read as data now.
  if (urg_ != Urgent::kNone && rcv_up_ == copied && !topts_.oobinline && rcv_bytes_ > 0)
    ConsumeReceivedLocked(1);
  urg_ = Urgent::kNotYet;
  rcv_up_ = up;
}

// The announced byte, once it is in the receive queue. (Linux's tcp_urg copies it out of the
// segment that carries it, even one that arrives out of order; here it is taken when the data
// before it is in, from the queue where it stays.)
void TcpEndpoint::FetchUrgentByteLocked() {
  if (urg_ != Urgent::kNotYet || rcv_up_ < CopiedSeq()) return;
  size_t off = static_cast<uint32_t>(rcv_up_ - CopiedSeq());
  if (off >= rcv_bytes_) return;
  off += rcv_front_consumed_;
  for (PacketBuffer* p = rcv_queue_.front(); p; p = p->next) {
    if (off < p->len) {
      urg_byte_ = p->data()[off];
      urg_ = Urgent::kValid;
      NotifyLocked();  // POLLPRI
      return;
    }
    off -= p->len;
  }
}

void TcpEndpoint::UrgentReadLimitsLocked(size_t* skip, size_t* limit) const {
  *skip = 0;
  *limit = rcv_bytes_;
  SeqNum copied = CopiedSeq();
  if (urg_ == Urgent::kNone || rcv_up_ < copied) return;
  size_t off = static_cast<uint32_t>(rcv_up_ - copied);
  if (off >= rcv_bytes_) return;  // not arrived yet
  if (off > 0) *limit = off;  // tcp_recvmsg stops before the mark...
  else if (!topts_.oobinline) *skip = 1;  // ...and, starting at it, steps over the urgent byte
}

Result<size_t> TcpEndpoint::RecvUrgentLocked(uint8_t* byte, bool peek) {
  if (state_ == State::kListen) return Error::kNotConnected;
  // "No URG data to read": none, inline, or already read. EINVAL ("Yes this is right !").
  if (topts_.oobinline || urg_ == Urgent::kNone || urg_ == Urgent::kRead) return Error::kInvalidArgument;
  if (state_ == State::kClosed && !fin_received_) return Error::kNotConnected;
  if (urg_ == Urgent::kValid) {
    *byte = urg_byte_;
    if (!peek) {
      urg_ = Urgent::kRead;
      NotifyLocked();  // no more POLLPRI
    }
    return size_t{1};
  }
  if (state_ == State::kClosed || (sk_shutdown_ & kRcvShutdown)) return size_t{0};
  return Error::kWouldBlock;  // announced, not arrived; BSD and Linux never block here
}

bool TcpEndpoint::AtUrgentMarkLocked() const { return urg_ != Urgent::kNone && rcv_up_ == CopiedSeq(); }

size_t TcpEndpoint::InqLocked() const {
  if (state_ == State::kSynSent || state_ == State::kSynReceived) return 0;
  SeqNum copied = CopiedSeq();
  if (topts_.oobinline || urg_ == Urgent::kNone || rcv_up_ < copied || rcv_up_ >= rcv_nxt_) return rcv_bytes_;
  return static_cast<uint32_t>(rcv_up_ - copied);
}

}  // namespace tapsock::tcp
