// UDP endpoint: binding rules (Linux's inet_bind/inet6_bind), connect and disconnect
// (ip4_datagram_connect, __udp_disconnect), the send path down to IPv4, and the receive queue.
#include "stack/transport/udp_endpoint.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "stack/base/user_copy.h"
#include "stack/stack.h"
#include "stack/wire/udp.h"

namespace tapsock {

namespace {

constexpr size_t kMaxUdpPayloadV4 = Ipv4Protocol::kMaxPayload - wire::UdpRepr::kHeaderLen;  // 65507

static_assert(sizeof(DatagramMeta) <= sizeof(PacketBuffer::cb), "DatagramMeta must fit in cb");

DatagramMeta& MetaOf(PacketBuffer* p) { return *reinterpret_cast<DatagramMeta*>(p->cb); }

// The accounting size of a queued buffer, like Linux's skb truesize.
size_t TrueSize(const PacketBuffer* p) { return p->capacity + sizeof(PacketBuffer); }

// Copies the datagram into the program's iovecs; false if part of them could not be written.
bool CopyOut(std::span<const iovec> iov, const uint8_t* src, size_t n, size_t* done) {
  *done = 0;
  for (const iovec& v : iov) {
    if (*done == n) break;
    size_t k = std::min(v.iov_len, n - *done);
    if (k && CopyToUser(v.iov_base, src + *done, k) < k) return false;  // an empty iovec may carry a null base
    *done += k;
  }
  return true;
}

}  // namespace

UdpEndpoint::UdpEndpoint(Stack& stack, bool v6) : stack_(stack), v6_(v6) {
  local_addr_.family = v6 ? IpAddr::Family::kV6 : IpAddr::Family::kV4;
  remote_.addr.family = local_addr_.family;
}

UdpEndpoint::~UdpEndpoint() { assert(closed_ && "UdpEndpoint destroyed without CloseLocked"); }

void UdpEndpoint::CloseLocked() {
  if (closed_) return;
  if (bound()) stack_.udp().UnbindLocked(this);
  local_port_ = 0;
  stack_.pool().FreeQueue(rcv_queue_);
  rcv_queued_bytes_ = 0;
  closed_ = true;
  observer_ = nullptr;
}

void UdpEndpoint::NotifyLocked() {
  if (observer_) observer_->OnReadinessChangedLocked();
}

Status UdpEndpoint::BindLocked(const FullAddress& addr) {
  if (closed_ || bound()) return Error::kInvalidArgument;
  const IpAddr& a = addr.addr;
  bool wildcard = a.IsAny();
  bool mapped = false;
  Ipv4Addr v4;
  if (a.is_v4()) {
    v4 = a.v4();
  } else if (a.IsV4Mapped()) {
    if (opts_.v6_only) return Error::kInvalidArgument;
    mapped = true;
    v4 = a.MappedV4();
    wildcard = v4.IsAny();
  }
  if (!a.is_v4() && !mapped && !wildcard) {
    // Native IPv6: ::1 and configured addresses are ours; their traffic arrives with IPv6.
    static constexpr uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    bool ours = std::memcmp(a.bytes.data(), kLoop6, 16) == 0;
    for (const auto& nic : stack_.nics())
      for (const auto& b : nic->v6_addresses()) ours |= b == a.bytes;
    if (!ours) return Error::kAddressNotAvailable;
  } else if (!v4.IsAny() && !v4.IsMulticast() && !stack_.IsLocalAddressLocked(v4) &&
             !stack_.IsBroadcastLocked(v4)) {
    return Error::kAddressNotAvailable;
  }
  IpAddr saved_addr = local_addr_;
  local_addr_ = a;
  wildcard_ = wildcard;
  v4_mapped_ = mapped;
  bound_v4_ = v4;
  auto port = stack_.udp().BindLocked(this, addr.port);
  if (!port.ok()) {
    local_addr_ = saved_addr;
    wildcard_ = true;
    v4_mapped_ = false;
    bound_v4_ = {};
    return port.error();
  }
  local_port_ = port.value();
  addr_locked_ = !wildcard;
  port_locked_ = addr.port != 0;
  return OkStatus();
}

Status UdpEndpoint::AutoBindLocked() {
  if (bound()) return OkStatus();
  auto port = stack_.udp().BindLocked(this, 0);
  if (!port.ok()) return Error::kWouldBlock;  // Linux's inet_autobind gives EAGAIN
  local_port_ = port.value();
  return OkStatus();
}

// An AF_INET6 socket reaches IPv4 through v4-mapped addresses; native IPv6 arrives later.
Result<FullAddress> UdpEndpoint::ToV4Destination(const FullAddress& a) const {
  if (a.addr.is_v4()) return a;
  if (!a.addr.IsV4Mapped() || opts_.v6_only) return Error::kNetworkUnreachable;
  return FullAddress{IpAddr::V4(a.addr.MappedV4()), a.port};
}

Status UdpEndpoint::ConnectLocked(const FullAddress& addr) {
  if (closed_) return Error::kInvalidArgument;
  auto dst = ToV4Destination(addr);
  if (!dst.ok()) return dst.error();
  Ipv4Addr d = dst.value().addr.v4();
  auto route = stack_.RouteV4Locked(d, bound_v4_, opts_.bound_device);
  if (!route.ok()) return route.error();
  if (route.value().broadcast && !opts_.broadcast) return Error::kBroadcastNotPermitted;
  if (Status s = AutoBindLocked(); !s.ok()) return s;
  // Linux fixes the local address at connect time when the socket was bound to a wildcard.
  if (bound_v4_.IsAny() && accepts_v4()) {
    bound_v4_ = route.value().src;
    local_addr_ = v6_ ? IpAddr::V6(MappedBytes(bound_v4_).data()) : IpAddr::V4(bound_v4_);
    wildcard_ = false;
    v4_mapped_ = v6_;
  }
  // The peer is where the route goes: connecting to 0.0.0.0 reads back as 127.0.0.1, as on Linux.
  remote_v4_ = route.value().dst;
  remote_ = {v6_ ? IpAddr::V6(MappedBytes(remote_v4_).data()) : IpAddr::V4(remote_v4_), addr.port};
  connected_ = true;
  return OkStatus();
}

Status UdpEndpoint::DisconnectLocked() {
  connected_ = false;
  remote_ = FullAddress{};
  remote_.addr.family = local_addr_.family;
  remote_v4_ = {};
  // __udp_disconnect: forget what connect chose; keep what bind() asked for.
  if (!addr_locked_) {
    local_addr_ = IpAddr{};
    local_addr_.family = v6_ ? IpAddr::Family::kV6 : IpAddr::Family::kV4;
    wildcard_ = true;
    v4_mapped_ = false;
    bound_v4_ = {};
  }
  if (!port_locked_ && bound()) {
    stack_.udp().UnbindLocked(this);
    local_port_ = 0;
  }
  return OkStatus();
}

Result<size_t> UdpEndpoint::SendLocked(std::span<const iovec> iov, const SendOptions& so) {
  if (closed_) return Error::kInvalidArgument;
  if (sticky_error_ != Error::kOk) return TakeErrorLocked();
  if (snd_shutdown_) return Error::kBrokenPipe;
  size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  FullAddress dst;
  if (so.dst) {
    auto d = ToV4Destination(*so.dst);
    if (!d.ok()) return d.error();
    dst = d.value();
  } else if (connected_) {
    dst = {IpAddr::V4(remote_v4_), remote_.port};
  } else {
    return Error::kDestinationRequired;
  }
  if (dst.port == 0) return Error::kInvalidArgument;
  if (total > kMaxUdpPayloadV4) return Error::kMessageTooLong;
  Ipv4Addr d = dst.addr.v4();
  auto route = stack_.RouteV4Locked(d, bound_v4_, opts_.bound_device);
  if (!route.ok()) {
    stack_.stats().ip.out_no_routes++;
    return route.error();
  }
  if (route.value().broadcast && !opts_.broadcast) return Error::kBroadcastNotPermitted;
  if (Status s = AutoBindLocked(); !s.ok()) return s.error();

  uint32_t length = static_cast<uint32_t>(total + wire::UdpRepr::kHeaderLen);
  PacketBuffer* p = stack_.pool().Alloc(length);
  if (!p) {
    stack_.stats().udp.sndbuf_errors++;
    return Error::kNoBufferSpace;
  }
  p->len = length;
  uint8_t* out = p->data() + wire::UdpRepr::kHeaderLen;
  for (const iovec& v : iov) {
    if (v.iov_len && CopyFromUser(out, v.iov_base, v.iov_len) < v.iov_len) {  // udp_sendmsg: EFAULT, nothing sent
      stack_.pool().Free(p);
      return Error::kBadAddress;
    }
    out += v.iov_len;
  }
  wire::UdpRepr{local_port_, dst.port, static_cast<uint16_t>(length), 0}.EmitV4(
      p->data(), route.value().src, route.value().dst);
  Ipv4SendParams params;
  params.protocol = static_cast<uint8_t>(wire::IpProto::kUdp);
  params.ttl = route.value().dst.IsMulticast() ? static_cast<uint8_t>(opts_.multicast_ttl)
                               : static_cast<uint8_t>(opts_.ttl < 0 ? kDefaultTtl : opts_.ttl);
  params.tos = opts_.tos;
  if (Status s = stack_.ipv4().SendLocked(route.value(), params, p); !s.ok()) return s.error();
  stack_.stats().udp.out_datagrams++;
  return total;
}

Result<RecvResult> UdpEndpoint::RecvLocked(std::span<const iovec> iov, bool peek) {
  // Linux checks the socket error before the queue (__skb_try_recv_datagram).
  if (sticky_error_ != Error::kOk) return TakeErrorLocked();
  PacketBuffer* p = rcv_queue_.front();
  if (!p && rcv_shutdown_) return RecvResult{.eof = true};
  if (!p) return Error::kWouldBlock;
  RecvResult r;
  r.datagram_len = p->len;
  if (!CopyOut(iov, p->data(), p->len, &r.copied)) {
    // udp_recvmsg: a datagram that cannot be copied is dropped and counted (unless peeked).
    if (!peek) {
      stack_.stats().udp.in_errors++;
      rcv_queue_.Pop();
      rcv_queued_bytes_ -= TrueSize(p);
      stack_.pool().Free(p);
      NotifyLocked();
    }
    return Error::kBadAddress;
  }
  r.meta = MetaOf(p);
  r.timestamp_ns = p->rx_realtime_ns;
  if (!peek) {
    rcv_queue_.Pop();
    rcv_queued_bytes_ -= TrueSize(p);
    stack_.pool().Free(p);
    NotifyLocked();
  }
  return r;
}

void UdpEndpoint::DeliverLocked(PacketBuffer* payload, const DatagramMeta& meta) {
  size_t size = TrueSize(payload);
  if (closed_ || (rcv_queued_bytes_ > 0 && rcv_queued_bytes_ + size > static_cast<size_t>(opts_.rcvbuf))) {
    stack_.stats().udp.rcvbuf_errors++;
    stack_.pool().Free(payload);
    return;
  }
  MetaOf(payload) = meta;
  rcv_queue_.Push(payload);
  rcv_queued_bytes_ += size;
  NotifyLocked();
}

void UdpEndpoint::SetErrorLocked(Error e) {
  sticky_error_ = e;
  NotifyLocked();
}

Error UdpEndpoint::TakeErrorLocked() {
  Error e = sticky_error_;
  sticky_error_ = Error::kOk;
  if (e != Error::kOk) NotifyLocked();
  return e;
}

uint32_t UdpEndpoint::ReadinessLocked() const {
  uint32_t mask = kWritable;
  if (!rcv_queue_.empty()) mask |= kReadable;
  if (sticky_error_ != Error::kOk) mask |= kError;
  // datagram_poll: a read shutdown reads as end of file; both shut is a hang-up.
  if (rcv_shutdown_) mask |= kReadable | POLLRDHUP;
  if (rcv_shutdown_ && snd_shutdown_) mask |= POLLHUP;
  return mask;
}

void UdpEndpoint::ShutdownLocked(int how) {
  if (how == SHUT_RD || how == SHUT_RDWR) rcv_shutdown_ = true;
  if (how == SHUT_WR || how == SHUT_RDWR) snd_shutdown_ = true;
  NotifyLocked();
}

FullAddress UdpEndpoint::LocalAddressLocked() const { return {local_addr_, local_port_}; }

Result<FullAddress> UdpEndpoint::PeerAddressLocked() const {
  if (!connected_) return Error::kNotConnected;
  return remote_;
}

size_t UdpEndpoint::NextDatagramSizeLocked() const {
  return rcv_queue_.empty() ? 0 : rcv_queue_.front()->len;
}

int UdpEndpoint::MatchV4(Ipv4Addr src, uint16_t sport, Ipv4Addr dst, uint16_t dport) const {
  if (closed_ || local_port_ != dport || !accepts_v4()) return 0;
  int score = v6_ ? 1 : 2;  // like compute_score, prefer an AF_INET socket
  if (!bound_v4_.IsAny()) {
    if (bound_v4_ != dst) return 0;
    score += 4;
  }
  if (connected_) {
    if (remote_v4_ != src || remote_.port != sport) return 0;
    score += 8;
  }
  return score;
}

}  // namespace tapsock
