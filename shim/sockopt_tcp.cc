// SOL_TCP options on stack stream sockets, with do_tcp_setsockopt's value ranges and
// do_tcp_getsockopt's length rules; TCP_INFO filled from the live control block.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "shim/calls.h"
#include "shim/sockopt_tcp.h"
#include "shim/sockopt_util.h"
#include "stack/transport/tcp/congestion_control.h"

namespace tapsock::shim {

namespace {

constexpr int kMinMss = 88;        // TCP_MIN_MSS
constexpr int kMaxWindow = 32767;  // MAX_TCP_WINDOW: the TCP_MAXSEG ceiling
constexpr int kMaxKeepIdle = 32767, kMaxKeepIntvl = 32767, kMaxKeepCnt = 127, kMaxSynCnt = 127;
constexpr size_t kCaNameMax = 16;  // TCP_CA_NAME_MAX

int SetCongestion(Socket& s, const void* val, socklen_t len) {
  char name[kCaNameMax] = {};
  if (static_cast<int>(len) < 1) return FailWith(EINVAL);
  size_t n = std::min<size_t>(len, kCaNameMax - 1);
  if (BadBuffer(val, n)) return FailWith(EFAULT);
  std::memcpy(name, val, n);
  StackOp op(s.stack());
  Status st = s.tcp().SetCongestionControlLocked(std::string_view(name, strnlen(name, n)));
  return st.ok() ? 0 : Fail(st.error());
}

int GetInfo(Socket& s, void* val, socklen_t* len) {
  if (BadPointer(len)) return FailWith(EFAULT);
  int n = static_cast<int>(*len);
  if (n < 0) return FailWith(EINVAL);
  tcp::TcpInfo i;
  {
    StackOp op(s.stack());
    i = s.tcp().InfoLocked();
  }
  tcp_info ti{};
  ti.tcpi_state = static_cast<uint8_t>(i.state);
  ti.tcpi_ca_state = i.in_recovery ? 3 : i.in_loss ? 4 : 0;  // TCP_CA_Recovery / Loss / Open
  ti.tcpi_retransmits = i.retransmits;
  ti.tcpi_backoff = i.backoff;
  ti.tcpi_options = i.options;
  ti.tcpi_snd_wscale = i.snd_wscale & 0xf;
  ti.tcpi_rcv_wscale = i.rcv_wscale & 0xf;
  ti.tcpi_rto = i.rto_us;
  ti.tcpi_ato = i.ato_us;
  ti.tcpi_snd_mss = i.snd_mss;
  ti.tcpi_rcv_mss = i.rcv_mss;
  ti.tcpi_unacked = i.unacked;
  ti.tcpi_rtt = i.rtt_us;
  ti.tcpi_rttvar = i.rttvar_us;
  ti.tcpi_snd_ssthresh = i.snd_ssthresh;
  ti.tcpi_snd_cwnd = i.snd_cwnd;
  ti.tcpi_advmss = i.advmss;
  ti.tcpi_reordering = 3;
  ti.tcpi_rcv_space = i.rcv_space;
  ti.tcpi_total_retrans = i.total_retrans;
  size_t out = std::min<size_t>(n, sizeof ti);
  if (BadBuffer(val, out)) return FailWith(EFAULT);
  if (out) std::memcpy(val, &ti, out);
  *len = static_cast<socklen_t>(out);
  return 0;
}

}  // namespace

int SetTcpLevel(Socket& s, int name, const void* val, socklen_t len) {
  if (name == TCP_CONGESTION) return SetCongestion(s, val, len);
  int v;
  if (int err = GetInt(val, len, false, &v)) return FailWith(err);
  StackOp op(s.stack());
  tcp::TcpOptions& t = s.tcp().tcp_options();
  switch (name) {
    case TCP_NODELAY:
      t.nodelay = v != 0;
      s.tcp().OutputLocked();  // what Nagle held back may go now
      return 0;
    case TCP_CORK:
      t.cork = v != 0;
      if (!t.cork) s.tcp().OutputLocked();  // uncorking pushes the partial segment
      return 0;
    case TCP_QUICKACK: s.tcp().SetQuickAckLocked(v != 0); return 0;
    case TCP_MAXSEG:
      if (v != 0 && (v < kMinMss || v > kMaxWindow)) return FailWith(EINVAL);
      t.user_mss = v;
      return 0;
    case TCP_KEEPIDLE:
      if (v < 1 || v > kMaxKeepIdle) return FailWith(EINVAL);
      t.keepidle_s = v;
      return 0;
    case TCP_KEEPINTVL:
      if (v < 1 || v > kMaxKeepIntvl) return FailWith(EINVAL);
      t.keepintvl_s = v;
      return 0;
    case TCP_KEEPCNT:
      if (v < 1 || v > kMaxKeepCnt) return FailWith(EINVAL);
      t.keepcnt = v;
      return 0;
    case TCP_SYNCNT:
      if (v < 1 || v > kMaxSynCnt) return FailWith(EINVAL);
      t.syn_retries = v;
      return 0;
    case TCP_USER_TIMEOUT:
      if (v < 0) return FailWith(EINVAL);
      t.user_timeout_ms = v;
      return 0;
    case TCP_DEFER_ACCEPT: case TCP_LINGER2: case TCP_WINDOW_CLAMP: case TCP_FASTOPEN:
    case TCP_NOTSENT_LOWAT: case TCP_THIN_LINEAR_TIMEOUTS:
      return 0;  // accepted; the stack does not act on them yet (docs/compatibility.md)
    default:
      return FailWith(ENOPROTOOPT);
  }
}

int GetTcpLevel(Socket& s, int name, void* val, socklen_t* len) {
  if (name == TCP_INFO) return GetInfo(s, val, len);
  if (name == TCP_CONGESTION) {
    if (BadPointer(len)) return FailWith(EFAULT);
    int n = static_cast<int>(*len);
    if (n < 0) return FailWith(EINVAL);
    char out[kCaNameMax] = {};
    {
      StackOp op(s.stack());
      if (const tcp::CongestionControl* cc = s.tcp().cc()) std::strncpy(out, cc->name(), kCaNameMax - 1);
    }
    size_t k = std::min<size_t>(n, kCaNameMax);
    if (BadBuffer(val, k)) return FailWith(EFAULT);
    if (k) std::memcpy(val, out, k);
    *len = static_cast<socklen_t>(k);
    return 0;
  }
  int v;
  {
    StackOp op(s.stack());
    const tcp::TcpOptions& t = s.tcp().tcp_options();
    switch (name) {
      case TCP_NODELAY: v = t.nodelay; break;
      case TCP_CORK: v = t.cork; break;
      case TCP_QUICKACK: v = t.quickack; break;
      case TCP_MAXSEG: {
        tcp::State st = s.tcp().state();
        bool unconnected = st == tcp::State::kClosed || st == tcp::State::kListen;
        v = (t.user_mss && unconnected) ? t.user_mss : static_cast<int>(s.tcp().mss());
        break;
      }
      case TCP_KEEPIDLE: v = t.keepidle_s; break;
      case TCP_KEEPINTVL: v = t.keepintvl_s; break;
      case TCP_KEEPCNT: v = t.keepcnt; break;
      case TCP_SYNCNT: v = t.syn_retries; break;
      case TCP_USER_TIMEOUT: v = t.user_timeout_ms; break;
      default: return FailWith(ENOPROTOOPT);
    }
  }
  return PutInt(v, val, len);
}

}  // namespace tapsock::shim
