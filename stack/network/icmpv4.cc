// ICMPv4: echo, error delivery to transports, and error generation with rate limiting.
#include "stack/network/icmpv4.h"

#include <algorithm>
#include <cstring>

#include "stack/endpoint.h"
#include "stack/stack.h"
#include "stack/wire/udp.h"

namespace tapsock {

using wire::Icmpv4Repr;
using wire::Ipv4Repr;

void Icmpv4Protocol::ReceiveLocked(Nic& nic, const Ipv4Repr& ip, PacketBuffer* packet) {
  IcmpStats& st = stack_.stats().icmp;
  st.in_msgs++;
  auto icmp = Icmpv4Repr::Parse(packet->bytes());
  if (!icmp) {
    st.in_errors++;
    stack_.pool().Free(packet);
    return;
  }
  switch (icmp->type) {
    case Icmpv4Repr::kEchoRequest: {
      st.in_echos++;
      // Linux ignores broadcast echo (icmp_echo_ignore_broadcasts = 1).
      if (!nic.HasAddress(ip.dst) && !nic.loopback()) break;
      auto route = stack_.RouteV4Locked(ip.src, ip.dst, 0);
      if (!route.ok()) {
        st.out_errors++;
        break;
      }
      // Reply in place: the request's buffer becomes the reply.
      Icmpv4Repr reply{Icmpv4Repr::kEchoReply, 0, icmp->rest};
      reply.Emit(packet->data(), packet->len - Icmpv4Repr::kHeaderLen);
      st.out_msgs++;
      st.out_echo_reps++;
      if (!stack_.ipv4().SendLocked(route.value(), {static_cast<uint8_t>(wire::IpProto::kIcmp), kDefaultTtl, ip.tos}, packet).ok())
        st.out_errors++;
      return;
    }
    case Icmpv4Repr::kEchoReply:
      st.in_echo_reps++;  // ping sockets arrive with a later issue
      break;
    case Icmpv4Repr::kDestUnreachable:
      st.in_dest_unreachs++;
      [[fallthrough]];
    case Icmpv4Repr::kTimeExceeded:
    case Icmpv4Repr::kParamProblem:
      st.in_time_excds += icmp->type == Icmpv4Repr::kTimeExceeded;
      st.in_parm_probs += icmp->type == Icmpv4Repr::kParamProblem;
      DeliverErrorLocked(packet->bytes().subspan(Icmpv4Repr::kHeaderLen), icmp->type, icmp->code);
      break;
    case Icmpv4Repr::kSourceQuench: st.in_src_quenchs++; break;
    case Icmpv4Repr::kRedirect: st.in_redirects++; break;  // a host keeps its routes (RFC 1122 3.2.2.2 allows it)
    case Icmpv4Repr::kTimestamp: st.in_timestamps++; break;  // counted; not answered (Linux answers)
    case Icmpv4Repr::kTimestampReply: st.in_timestamp_reps++; break;
    default:
      break;
  }
  stack_.pool().Free(packet);
}

// RFC 1122 4.1.3.3: UDP passes ICMP errors up; the socket decides (Linux: connected sockets only).
namespace {

struct IcmpError {
  Error error;
  bool hard;  // reported to a connected socket without IP_RECVERR
};

// Linux's icmp_err_convert (net/ipv4/icmp.c), indexed by the Destination Unreachable code;
// "fragmentation needed" is hard for UDP while path MTU discovery is on (__udp4_lib_err).
constexpr IcmpError kUnreachable[] = {
    {Error::kNetworkUnreachable, false}, {Error::kHostUnreachable, false},
    {Error::kProtocolOption, true},      {Error::kConnectionRefused, true},
    {Error::kMessageTooLong, true},      {Error::kNotSupported, false},
    {Error::kNetworkUnreachable, true},  {Error::kHostDown, true},
    {Error::kNoNetwork, true},           {Error::kNetworkUnreachable, true},
    {Error::kHostUnreachable, true},     {Error::kNetworkUnreachable, false},
    {Error::kHostUnreachable, false},    {Error::kHostUnreachable, true},
    {Error::kHostUnreachable, true},     {Error::kHostUnreachable, true},
};

}  // namespace

void Icmpv4Protocol::DeliverErrorLocked(std::span<const uint8_t> quoted, uint8_t type, uint8_t code) {
  IcmpError what;
  switch (type) {
    case Icmpv4Repr::kDestUnreachable:
      if (code >= std::size(kUnreachable)) return;
      what = kUnreachable[code];
      break;
    case Icmpv4Repr::kTimeExceeded: what = {Error::kHostUnreachable, false}; break;
    case Icmpv4Repr::kParamProblem: what = {Error::kProtocolError, true}; break;
    default: return;
  }
  // The quote is the original IP header plus at least 8 bytes of its payload; its total length
  // and checksum describe the original datagram, so read the fields we need directly.
  if (quoted.size() < Ipv4Repr::kMinHeaderLen || (quoted[0] >> 4) != 4) return;
  size_t ihl = (quoted[0] & 0xf) * 4u;
  if (ihl < Ipv4Repr::kMinHeaderLen || quoted.size() < ihl + 8) return;
  if (quoted[9] != static_cast<uint8_t>(wire::IpProto::kUdp)) return;
  Ipv4Addr src{wire::Load32(&quoted[12])}, dst{wire::Load32(&quoted[16])};
  const uint8_t* l4 = quoted.data() + ihl;
  stack_.udp().ErrorLocked(src, wire::Load16(l4), dst, wire::Load16(l4 + 2), what.error, what.hard);
}

bool Icmpv4Protocol::RateLimitAllowsLocked() {
  Instant now = stack_.now();
  tokens_ = std::min<double>(kBurst, tokens_ + double(now - last_refill_) * kPerSecond / kSecond);
  last_refill_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void Icmpv4Protocol::SendErrorLocked(const Nic& in, const Ipv4Repr& ip, const PacketBuffer& packet,
                                     std::span<const uint8_t> offending, uint8_t type, uint8_t code) {
  IcmpStats& st = stack_.stats().icmp;
  if (ip.frag_offset != 0 || ip.src.IsAny() || ip.dst.IsMulticast() || stack_.IsBroadcastLocked(ip.dst) ||
      packet.link_multicast)
    return;
  if (ip.protocol == static_cast<uint8_t>(wire::IpProto::kIcmp)) {
    size_t ihl = ip.ihl_bytes;
    // Never an error about an error: only echo and other queries may provoke one.
    if (offending.size() <= ihl) return;
    uint8_t t = offending[ihl];
    if (t != Icmpv4Repr::kEchoRequest && t != Icmpv4Repr::kEchoReply) return;
  }
  // Errors about our own looped-back packets are exempt, as in Linux's __icmp_send.
  if (!in.loopback() && !RateLimitAllowsLocked()) {
    st.out_rate_limited++;
    return;
  }
  auto route = stack_.RouteV4Locked(ip.src, Ipv4Addr::Any(), 0);
  if (!route.ok()) {
    st.out_errors++;
    return;
  }
  // RFC 1812 4.3.2.3 lets us quote up to 576 bytes in all; Linux does.
  size_t quote = std::min<size_t>(offending.size(), 576 - Ipv4Repr::kMinHeaderLen - Icmpv4Repr::kHeaderLen);
  PacketBuffer* p = stack_.pool().Alloc(static_cast<uint32_t>(Icmpv4Repr::kHeaderLen + quote));
  if (!p) {
    st.out_errors++;
    return;
  }
  p->len = static_cast<uint32_t>(Icmpv4Repr::kHeaderLen + quote);
  std::memcpy(p->data() + Icmpv4Repr::kHeaderLen, offending.data(), quote);
  Icmpv4Repr{type, code, 0}.Emit(p->data(), static_cast<uint32_t>(quote));
  st.out_msgs++;
  if (type == Icmpv4Repr::kDestUnreachable) st.out_dest_unreachs++;
  if (!stack_.ipv4().SendLocked(route.value(), {static_cast<uint8_t>(wire::IpProto::kIcmp), kDefaultTtl, 0}, p).ok())
    st.out_errors++;
}

}  // namespace tapsock
