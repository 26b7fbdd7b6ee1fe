// Test helpers that build the frames a peer would put on the wire, and take apart the frames the
// stack sends, so unit tests read like specifications: "the peer sends this; we answer that".
//
// Builders compose bottom-up with the stack's own wire Emit functions (whose output the wire tests
// pin against golden bytes): Udp()/Icmp()/Arp() make a payload, Ipv4() wraps it, Ethernet() frames
// it. The Frame*() shorthands build a whole frame from the default peer (198.18.0.1,
// 02:00:00:00:00:01) to the stack under test (198.18.0.2, 02:00:00:00:00:02). Raw byte mutation
// (then FixIpv4Checksum) makes malformed frames. ParseSent() turns an outgoing frame into a
// SentFrame whose optional layers are present only when that layer parsed and validated.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "stack/base/result.h"
#include "stack/wire/address.h"
#include "stack/wire/arp.h"
#include "stack/wire/checksum.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/icmpv4.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/udp.h"

namespace tapsock {

// Lets gtest print an Error by name in failure messages.
inline void PrintTo(Error e, std::ostream* os) {
  // clang-format off
  static const char* const kNames[] = {
      "kOk", "kWouldBlock", "kInvalidArgument", "kAddressInUse", "kAddressNotAvailable",
      "kAddressFamilyNotSupported", "kNetworkUnreachable", "kHostUnreachable",
      "kConnectionRefused", "kMessageTooLong", "kNotConnected", "kDestinationRequired",
      "kNoBufferSpace", "kBroadcastNotPermitted", "kNoMemory", "kNotSupported",
      "kProtocolOption", "kAlreadyConnected", "kNetworkDown", "kProtocolError", "kHostDown",
      "kNoNetwork"};
  // clang-format on
  auto i = static_cast<size_t>(e);
  *os << (i < std::size(kNames) ? kNames[i] : "Error(?)");
}

}  // namespace tapsock

namespace tapsock::test {

using Bytes = std::vector<uint8_t>;

inline const MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x02}};
inline const MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x01}};
inline const MacAddr kOtherMac{{0x02, 0, 0, 0, 0, 0x99}};
constexpr Ipv4Addr kOurIp = Ipv4Addr::FromOctets(198, 18, 0, 2);
constexpr Ipv4Addr kPeerIp = Ipv4Addr::FromOctets(198, 18, 0, 1);
constexpr Ipv4Addr kSubnetBroadcast = Ipv4Addr::FromOctets(198, 18, 0, 255);
constexpr int kPrefixLen = 24;

inline Bytes ToBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// A payload of n bytes counting up from `first`, so truncation and offsets show in the data.
inline Bytes Pattern(size_t n, uint8_t first = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}

inline Bytes Concat(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// RFC 1071 done the slow, obvious way (16-bit words, end-around carry after every add, an odd
// byte padded with zero), to check the stack's incremental implementation and golden checksums.
inline uint16_t NaiveChecksum(std::span<const uint8_t> b) {
  uint32_t sum = 0;
  for (size_t i = 0; i < b.size(); i += 2) {
    uint32_t word = uint32_t{b[i]} << 8 | (i + 1 < b.size() ? b[i + 1] : 0);
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum & 0xffff);
}

// The 12-byte IPv4 pseudo-header (RFC 768) as bytes.
inline Bytes PseudoHeader(Ipv4Addr src, Ipv4Addr dst, uint8_t proto, uint16_t len) {
  Bytes p(12);
  wire::Store32(&p[0], src.v);
  wire::Store32(&p[4], dst.v);
  p[8] = 0;
  p[9] = proto;
  wire::Store16(&p[10], len);
  return p;
}

// ---- Builders ----

inline Bytes Ethernet(MacAddr dst, MacAddr src, uint16_t ethertype,
                      std::span<const uint8_t> payload) {
  Bytes f(wire::EthernetRepr::kHeaderLen);
  wire::EthernetRepr{dst, src, ethertype}.Emit(f.data());
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}
inline Bytes Ethernet(MacAddr dst, MacAddr src, wire::EtherType type,
                      std::span<const uint8_t> payload) {
  return Ethernet(dst, src, static_cast<uint16_t>(type), payload);
}

struct Ipv4Spec {
  Ipv4Addr src = kPeerIp;
  Ipv4Addr dst = kOurIp;
  uint8_t protocol = static_cast<uint8_t>(wire::IpProto::kUdp);
  uint8_t ttl = 64;
  uint8_t tos = 0;
  uint16_t id = 0x1234;
  bool dont_fragment = false;
  bool more_fragments = false;
  uint16_t frag_offset = 0;  // bytes, a multiple of 8
  Bytes options;             // appended to the 20-byte header; a multiple of 4 bytes
};

// Recomputes the header checksum of the IPv4 header at the start of `ip` (after raw edits).
inline void FixIpv4Checksum(std::span<uint8_t> ip) {
  size_t ihl = (ip[0] & 0xf) * 4u;
  ip[10] = ip[11] = 0;
  wire::Store16(&ip[10], wire::InternetChecksum(ip.first(std::min(ihl, ip.size()))));
}

inline Bytes Ipv4(const Ipv4Spec& s, std::span<const uint8_t> payload) {
  const size_t hlen = wire::Ipv4Repr::kMinHeaderLen + s.options.size();
  wire::Ipv4Repr r;
  r.tos = s.tos;
  r.total_len = static_cast<uint16_t>(hlen + payload.size());
  r.id = s.id;
  r.dont_fragment = s.dont_fragment;
  r.more_fragments = s.more_fragments;
  r.frag_offset = s.frag_offset;
  r.ttl = s.ttl;
  r.protocol = s.protocol;
  r.src = s.src;
  r.dst = s.dst;
  Bytes p(wire::Ipv4Repr::kMinHeaderLen);
  r.Emit(p.data());
  if (!s.options.empty()) {
    p.insert(p.end(), s.options.begin(), s.options.end());
    p[0] = static_cast<uint8_t>(0x40 | (hlen / 4));
    FixIpv4Checksum(p);
  }
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

// A UDP header + payload with a correct checksum over the pseudo-header for src -> dst.
inline Bytes Udp(Ipv4Addr src, Ipv4Addr dst, uint16_t sport, uint16_t dport,
                 std::span<const uint8_t> payload) {
  Bytes d(wire::UdpRepr::kHeaderLen + payload.size());
  std::copy(payload.begin(), payload.end(), d.begin() + wire::UdpRepr::kHeaderLen);
  wire::UdpRepr{sport, dport, static_cast<uint16_t>(d.size()), 0}.EmitV4(d.data(), src, dst);
  return d;
}

// An ICMP message with a correct checksum.
inline Bytes Icmp(uint8_t type, uint8_t code, uint32_t rest, std::span<const uint8_t> body) {
  Bytes m(wire::Icmpv4Repr::kHeaderLen + body.size());
  std::copy(body.begin(), body.end(), m.begin() + wire::Icmpv4Repr::kHeaderLen);
  wire::Icmpv4Repr{type, code, rest}.Emit(m.data(), static_cast<uint32_t>(body.size()));
  return m;
}

inline Bytes Arp(uint16_t op, MacAddr sender_mac, Ipv4Addr sender_ip, MacAddr target_mac,
                 Ipv4Addr target_ip) {
  Bytes a(wire::ArpRepr::kLen);
  wire::ArpRepr{op, sender_mac, sender_ip, target_mac, target_ip}.Emit(a.data());
  return a;
}

// ---- Whole frames from the peer (or as `ip` says) to us ----

inline Bytes FrameIpv4(const Ipv4Spec& ip, std::span<const uint8_t> l4, MacAddr eth_dst = kOurMac) {
  return Ethernet(eth_dst, kPeerMac, wire::EtherType::kIpv4, Ipv4(ip, l4));
}

inline Bytes FrameUdp(uint16_t sport, uint16_t dport, std::span<const uint8_t> payload,
                      Ipv4Spec ip = {}, MacAddr eth_dst = kOurMac) {
  ip.protocol = static_cast<uint8_t>(wire::IpProto::kUdp);
  return FrameIpv4(ip, Udp(ip.src, ip.dst, sport, dport, payload), eth_dst);
}

inline Bytes FrameIcmp(uint8_t type, uint8_t code, uint32_t rest, std::span<const uint8_t> body,
                       Ipv4Spec ip = {}, MacAddr eth_dst = kOurMac) {
  ip.protocol = static_cast<uint8_t>(wire::IpProto::kIcmp);
  return FrameIpv4(ip, Icmp(type, code, rest, body), eth_dst);
}

// "Who has 198.18.0.2? Tell 198.18.0.1", broadcast, as the peer would ask.
inline Bytes FrameArpRequestFromPeer(Ipv4Addr target = kOurIp) {
  return Ethernet(MacAddr::Broadcast(), kPeerMac, wire::EtherType::kArp,
                  Arp(wire::ArpRepr::kRequest, kPeerMac, kPeerIp, MacAddr{}, target));
}

// "198.18.0.1 is at 02:00:00:00:00:01", unicast to us, answering our request.
inline Bytes FrameArpReplyFromPeer(MacAddr peer_mac = kPeerMac, Ipv4Addr peer_ip = kPeerIp) {
  return Ethernet(kOurMac, peer_mac, wire::EtherType::kArp,
                  Arp(wire::ArpRepr::kReply, peer_mac, peer_ip, kOurMac, kOurIp));
}

// ---- A parsed view of a frame the stack sent ----

struct SentFrame {
  Bytes raw;
  wire::EthernetRepr eth;
  std::optional<wire::ArpRepr> arp;
  std::optional<wire::Ipv4Repr> ip;  // present when the header validated (incl. checksum)
  Bytes ip_packet;                   // header + payload, total_len bytes
  std::optional<wire::UdpRepr> udp;
  bool udp_checksum_ok = false;
  std::optional<wire::Icmpv4Repr> icmp;  // present when the ICMP checksum verified
  Bytes payload;                         // UDP payload, or the ICMP body after its 8 bytes

  bool IsArp(uint16_t op) const { return arp && arp->op == op; }
  bool IsUdp() const { return udp.has_value(); }
  bool IsIcmp(uint8_t type, uint8_t code) const {
    return icmp && icmp->type == type && icmp->code == code;
  }
};

inline SentFrame ParseSent(std::span<const uint8_t> frame) {
  SentFrame s;
  s.raw.assign(frame.begin(), frame.end());
  auto eth = wire::EthernetRepr::Parse(frame);
  if (!eth) return s;
  s.eth = *eth;
  auto l3 = frame.subspan(wire::EthernetRepr::kHeaderLen);
  if (eth->ethertype == static_cast<uint16_t>(wire::EtherType::kArp)) {
    s.arp = wire::ArpRepr::Parse(l3);
    return s;
  }
  if (eth->ethertype != static_cast<uint16_t>(wire::EtherType::kIpv4)) return s;
  wire::Ipv4Repr::ParseError why;
  s.ip = wire::Ipv4Repr::Parse(l3, &why);
  if (!s.ip) return s;
  s.ip_packet.assign(l3.begin(), l3.begin() + s.ip->total_len);
  auto l4 = std::span<const uint8_t>(s.ip_packet).subspan(s.ip->ihl_bytes);
  if (s.ip->protocol == static_cast<uint8_t>(wire::IpProto::kUdp)) {
    s.udp = wire::UdpRepr::Parse(l4);
    if (s.udp) {
      auto dgram = l4.first(s.udp->length);
      s.udp_checksum_ok = wire::VerifyUdpChecksumV4(dgram, s.ip->src, s.ip->dst);
      s.payload.assign(dgram.begin() + wire::UdpRepr::kHeaderLen, dgram.end());
    }
  } else if (s.ip->protocol == static_cast<uint8_t>(wire::IpProto::kIcmp)) {
    s.icmp = wire::Icmpv4Repr::Parse(l4);
    if (s.icmp) s.payload.assign(l4.begin() + wire::Icmpv4Repr::kHeaderLen, l4.end());
  }
  return s;
}

}  // namespace tapsock::test
