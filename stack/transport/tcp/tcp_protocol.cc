// TCP demultiplexing, ports, ISNs and resets.
#include "stack/transport/tcp/tcp_protocol.h"

#include <sys/random.h>

#include <algorithm>

#include "stack/stack.h"

namespace tapsock::tcp {

namespace {

// SipHash-2-4 (Aumasson and Bernstein): the keyed PRF RFC 6528 asks for.
uint64_t SipHash(const uint64_t key[2], const uint64_t* words, size_t n) {
  auto rotl = [](uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
  uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
  auto round = [&] {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  };
  for (size_t i = 0; i < n; ++i) {
    v3 ^= words[i];
    round(), round();
    v0 ^= words[i];
  }
  uint64_t last = uint64_t{n * 8} << 56;
  v3 ^= last;
  round(), round();
  v0 ^= last;
  v2 ^= 0xff;
  round(), round(), round(), round();
  return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace

TcpProtocol::TcpProtocol(Stack& stack) : stack_(stack) {
  if (getrandom(isn_key_, sizeof isn_key_, 0) != sizeof isn_key_) {
    isn_key_[0] = stack.random().Next();
    isn_key_[1] = stack.random().Next();
  }
}

TcpProtocol::~TcpProtocol() {
  for (TcpEndpoint* ep : all_) delete ep;
}

TcpEndpoint* TcpProtocol::NewEndpointLocked(bool v6) {
  auto* ep = new TcpEndpoint(stack_, *this, v6);
  all_.insert(ep);
  return ep;
}

TcpEndpoint* TcpProtocol::NewChildLocked(TcpEndpoint* listener) {
  auto* child = new TcpEndpoint(stack_, *this, listener->v6());
  child->opts_ = listener->opts_;
  child->topts_ = listener->topts_;
  child->listener_ = listener;
  child->user_held_ = false;
  all_.insert(child);
  return child;
}

SeqNum TcpProtocol::IsnLocked(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport) {
  uint64_t words[2] = {(uint64_t{local.v} << 32) | remote.v, (uint64_t{lport} << 16) | rport};
  uint32_t m = static_cast<uint32_t>(stack_.now() / 4000);  // RFC 6528: a 4-microsecond timer
  return SeqNum(m + static_cast<uint32_t>(SipHash(isn_key_, words, 2)));
}

bool TcpProtocol::ConflictsLocked(const TcpEndpoint* ep, uint16_t port) const {
  auto conflicts_with = [ep](const TcpEndpoint* other) {
    if (other == ep) return false;
    bool overlap = ep->local_v4().IsAny() || other->local_v4().IsAny() || ep->local_v4() == other->local_v4();
    if (!overlap) return false;
    if (ep->opts_.reuse_port && other->opts_.reuse_port) return false;
    // SO_REUSEADDR on both lets a port be shared unless one of them listens (inet_csk_bind_conflict);
    // a connection in TIME-WAIT never blocks a socket that asked for SO_REUSEADDR.
    return !(ep->opts_.reuse_addr && other->opts_.reuse_addr && other->state_ != State::kListen);
  };
  if (auto it = bound_.find(port); it != bound_.end()) {
    for (const TcpEndpoint* other : it->second)
      if (conflicts_with(other)) return true;
  }
  if (auto it = inherited_.find(port); it != inherited_.end()) {
    for (const TcpEndpoint* other : it->second)
      if (conflicts_with(other)) return true;
  }
  return false;
}

bool TcpProtocol::ListenConflictLocked(const TcpEndpoint* ep) const {
  auto it = bound_.find(ep->local_port());
  if (it == bound_.end()) return false;
  for (const TcpEndpoint* other : it->second) {
    if (other == ep || other->state_ != State::kListen) continue;
    bool overlap = ep->local_v4().IsAny() || other->local_v4().IsAny() || ep->local_v4() == other->local_v4();
    if (overlap && !(ep->opts_.reuse_port && other->opts_.reuse_port)) return true;
  }
  return false;
}

Result<uint16_t> TcpProtocol::BindLocked(TcpEndpoint* ep, uint16_t port) {
  if (port == 0) {
    constexpr uint32_t kFirst = 32768, kRange = 60999 - kFirst + 1;  // ip_local_port_range
    uint32_t start = stack_.random().Below(kRange);
    for (uint32_t i = 0; i < kRange && port == 0; ++i) {
      auto candidate = static_cast<uint16_t>(kFirst + (start + i) % kRange);
      if (!ConflictsLocked(ep, candidate) && bound_.find(candidate) == bound_.end()) port = candidate;
    }
    if (port == 0) return Error::kAddressInUse;
  } else if (ConflictsLocked(ep, port)) {
    return Error::kAddressInUse;
  }
  bound_[port].push_back(ep);
  return port;
}

void TcpProtocol::InheritPortLocked(TcpEndpoint* child) { inherited_[child->local_port()].insert(child); }

void TcpProtocol::UnbindLocked(TcpEndpoint* ep) {
  if (auto in = inherited_.find(ep->local_port()); in != inherited_.end() && in->second.erase(ep) > 0) {
    if (in->second.empty()) inherited_.erase(in);
    return;
  }
  auto it = bound_.find(ep->local_port());
  if (it == bound_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), ep), v.end());
  if (v.empty()) bound_.erase(it);
}

void TcpProtocol::AddConnectionLocked(TcpEndpoint* ep) { connections_[TupleOf(ep)] = ep; }

void TcpProtocol::RemoveConnectionLocked(TcpEndpoint* ep) {
  auto it = connections_.find(TupleOf(ep));
  if (it != connections_.end() && it->second == ep) connections_.erase(it);
}

TcpEndpoint* TcpProtocol::FindListenerLocked(Ipv4Addr dst, uint16_t dport) const {
  auto it = bound_.find(dport);
  if (it == bound_.end()) return nullptr;
  TcpEndpoint* wildcard = nullptr;
  for (TcpEndpoint* ep : it->second) {
    if (ep->state_ != State::kListen || !ep->accepts_v4()) continue;
    if (ep->local_v4() == dst) return ep;  // a specific address beats a wildcard
    if (ep->local_v4().IsAny() && !wildcard) wildcard = ep;
  }
  return wildcard;
}

void TcpProtocol::ReceiveLocked(Nic& nic, const wire::Ipv4Repr& ip, PacketBuffer* packet) {
  TcpStats& st = stack_.stats().tcp;
  st.in_segs++;
  wire::TcpRepr::ParseError why;
  auto tcp = wire::TcpRepr::Parse(packet->bytes(), &why);
  bool multicast = ip.dst.IsMulticast() || stack_.IsBroadcastLocked(ip.dst) || packet->link_multicast;
  if (!tcp || multicast) {
    st.in_errs++;
    stack_.pool().Free(packet);
    return;
  }
  // Loopback segments never left memory (Linux: CHECKSUM_UNNECESSARY).
  if (!nic.loopback() && !wire::VerifyTcpChecksumV4(packet->bytes(), ip.src, ip.dst)) {
    st.in_csum_errors++;
    st.in_errs++;
    stack_.pool().Free(packet);
    return;
  }
  if (tcp->flags & wire::TcpRepr::kRst) st.in_rsts++;
  packet->Pull(tcp->header_len);
  Segment seg{*tcp, ip.src, ip.dst, packet};
  auto it = connections_.find(Tuple{ip.dst.v, ip.src.v, tcp->dst_port, tcp->src_port});
  if (it != connections_.end()) {
    it->second->InputLocked(seg);
    return;
  }
  if (TcpEndpoint* listener = FindListenerLocked(ip.dst, tcp->dst_port)) {
    listener->ListenInputLocked(seg);
    return;
  }
  if (!seg.has(wire::TcpRepr::kRst)) SendResetForLocked(seg);
  stack_.pool().Free(packet);
}

namespace {
// The MSS values a cookie can carry (Linux's msstab): three bits.
constexpr uint16_t kCookieMss[] = {536, 1300, 1440, 1460, 4312, 8960, 16384, 65495};
constexpr int kCookieMaxAge = 2;  // counters of 64 s: a cookie lives two to three minutes
}  // namespace

uint32_t TcpProtocol::CookieMac(const Segment& seg, uint32_t their_isn, uint32_t counter) const {
  uint64_t words[3] = {(uint64_t{seg.dst.v} << 32) | seg.src.v,
                       (uint64_t{seg.tcp.dst_port} << 16) | seg.tcp.src_port,
                       (uint64_t{their_isn} << 32) | counter};
  return static_cast<uint32_t>(SipHash(isn_key_, words, 3));
}

SeqNum TcpProtocol::CookieIsnLocked(const Segment& syn, uint16_t mss) {
  uint32_t index = 0;
  for (uint32_t i = 0; i < std::size(kCookieMss); ++i)
    if (kCookieMss[i] <= mss) index = i;
  uint32_t counter = static_cast<uint32_t>(stack_.now() / (64 * kSecond));
  // top 5 bits: counter; next 3: MSS index; low 24: MAC (also over the counter).
  uint32_t mac = CookieMac(syn, syn.tcp.seq, counter) & 0xffffff;
  stack_.stats().tcp.syncookies_sent++;
  return SeqNum(((counter & 0x1f) << 27) | (index << 24) | mac);
}

uint16_t TcpProtocol::CheckCookieLocked(const Segment& ack) {
  uint32_t cookie = ack.tcp.ack - 1;
  uint32_t their_isn = ack.tcp.seq - 1;
  uint32_t now = static_cast<uint32_t>(stack_.now() / (64 * kSecond));
  for (int age = 0; age <= kCookieMaxAge; ++age) {
    uint32_t counter = now - static_cast<uint32_t>(age);
    if ((counter & 0x1f) != (cookie >> 27)) continue;
    if ((CookieMac(ack, their_isn, counter) & 0xffffff) == (cookie & 0xffffff)) {
      stack_.stats().tcp.syncookies_recv++;
      return kCookieMss[(cookie >> 24) & 7];
    }
  }
  stack_.stats().tcp.syncookies_failed++;
  return 0;
}

void TcpProtocol::SendResetForLocked(const Segment& seg) {
  wire::TcpRepr r;
  r.src_port = seg.tcp.dst_port;
  r.dst_port = seg.tcp.src_port;
  if (seg.has(wire::TcpRepr::kAck)) {
    r.seq = seg.tcp.ack;
    r.flags = wire::TcpRepr::kRst;
  } else {
    r.seq = 0;
    r.ack = seg.tcp.seq + seg.seg_len();
    r.flags = wire::TcpRepr::kRst | wire::TcpRepr::kAck;
  }
  stack_.stats().tcp.out_rsts++;
  if (StackEventObserver* o = stack_.event_observer()) {
    TcpEvent e;
    e.kind = TcpEvent::Kind::kResetSent;
    e.local = seg.dst;
    e.local_port = seg.tcp.dst_port;
    e.remote = seg.src;
    e.remote_port = seg.tcp.src_port;
    o->OnTcpEventLocked(e);
  }
  SendBareSegmentLocked(seg.dst, seg.src, r);
}

void TcpProtocol::SendBareSegmentLocked(Ipv4Addr from, Ipv4Addr to, const wire::TcpRepr& h, int bound_device) {
  auto route = stack_.RouteV4Locked(to, from, bound_device);
  if (!route.ok()) return;
  PacketBuffer* p = stack_.pool().Alloc(wire::TcpRepr::kMaxHeaderLen);
  if (!p) return;
  h.Emit(p->Prepend(h.HeaderLength()), 0, route.value().src, route.value().dst);
  stack_.stats().tcp.out_segs++;
  (void)stack_.ipv4().SendLocked(route.value(), {static_cast<uint8_t>(wire::IpProto::kTcp), kDefaultTtl, 0}, p);
}

Instant TcpProtocol::NextDeadlineLocked() const {
  Instant next = kNever;
  for (const TcpEndpoint* ep : all_) next = std::min(next, ep->NextDeadline());
  return next;
}

void TcpProtocol::RunTimersLocked() {
  // Timers may close connections: walk a snapshot, then reap.
  std::vector<TcpEndpoint*> due;
  for (TcpEndpoint* ep : all_)
    if (ep->NextDeadline() <= stack_.now()) due.push_back(ep);
  for (TcpEndpoint* ep : due) ep->TimersLocked();
  ReapLocked();
}

void TcpProtocol::ReapLocked() {
  for (auto it = all_.begin(); it != all_.end();) {
    TcpEndpoint* ep = *it;
    if (!ep->Reapable()) {
      ++it;
      continue;
    }
    it = all_.erase(it);
    RemoveConnectionLocked(ep);
    UnbindLocked(ep);
    delete ep;
  }
}

size_t TcpProtocol::ClosingBacklogLocked() const {
  size_t backlog = 0;
  for (const TcpEndpoint* ep : all_) {
    State s = ep->state();
    if (!ep->user_held() && (s == State::kFinWait1 || s == State::kClosing || s == State::kLastAck))
      backlog += ep->UnsentOrUnackedBytesLocked() + 1;
  }
  return backlog;
}

}  // namespace tapsock::tcp
