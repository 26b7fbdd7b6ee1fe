// Golden TCP segments and helpers shared by the TCP header tests (tcp_test.cc: parse and emit;
// tcp_hostile_test.cc: malformed and random input).
// Golden segments, written by hand in Linux's layout between 198.18.0.1:40000 (the peer) and
// 198.18.0.2:5000 (us); each checksum is recomputed in GoldenChecksumsAreRight from the
// pseudo-header with the slow reference sum:
//   kSyn      the peer's SYN: MSS 1460, SACK_PERM, TS, NOP, WS 7 (Linux's SYN option block)
//   kAck      the peer's handshake ACK: NOP NOP TS
//   kData     PSH|ACK carrying "hello, tapsock\n" (odd length, so the checksum pads)
//   kRst      our RST|ACK refusing a SYN to a closed port: no options
//   kSackAck  our ACK with TS and two SACK blocks: NOP NOP TS, NOP NOP SACK
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>

#include "stack/wire/tcp.h"
#include "tests/unit/frame_builder.h"

namespace tapsock::wire::tcp_test {

using test::Bytes;
using test::kOurIp;
using test::kPeerIp;
using test::NaiveChecksum;
using PE = TcpRepr::ParseError;

inline constexpr uint8_t kTcp = 6;

inline const Bytes kSyn = {
    0x9c, 0x40,              // source port 40000
    0x13, 0x88,              // destination port 5000
    0x6b, 0x8b, 0x45, 0x67,  // sequence number (ISN)
    0x00, 0x00, 0x00, 0x00,  // acknowledgment number: none yet
    0xa0,                    // data offset 10 words (40 bytes)
    0x02,                    // flags: SYN
    0xfa, 0xf0,              // window 64240
    0x1d, 0xdd,              // checksum
    0x00, 0x00,              // urgent pointer
    0x02, 0x04, 0x05, 0xb4,  // MSS 1460
    0x04, 0x02,              // SACK permitted
    0x08, 0x0a,              // timestamps:
    0x00, 0x0f, 0x42, 0x40,  //   TSval 1000000
    0x00, 0x00, 0x00, 0x00,  //   TSecr 0
    0x01,                    // NOP
    0x03, 0x03, 0x07,        // window scale 7
};

inline const Bytes kAck = {
    0x9c, 0x40, 0x13, 0x88,  // ports 40000 -> 5000
    0x6b, 0x8b, 0x45, 0x68,  // sequence number ISN + 1
    0x11, 0x22, 0x33, 0x45,  // acknowledgment: our ISN 0x11223344 + 1
    0x80,                    // data offset 8 words (32 bytes)
    0x10,                    // flags: ACK
    0x01, 0xf6,              // window 502 (<< 7 = 64256)
    0xd0, 0xf2,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01,              // NOP NOP
    0x08, 0x0a,              // timestamps:
    0x00, 0x0f, 0x42, 0x41,  //   TSval 1000001
    0x00, 0x00, 0x30, 0x39,  //   TSecr 12345
};

inline const Bytes kData = {
    0x9c, 0x40, 0x13, 0x88,  // ports 40000 -> 5000
    0x6b, 0x8b, 0x45, 0x68,  // sequence number
    0x11, 0x22, 0x33, 0x45,  // acknowledgment number
    0x80,                    // data offset 8 words (32 bytes)
    0x18,                    // flags: PSH|ACK
    0x01, 0xf6,              // window 502
    0x2a, 0x1d,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01,              // NOP NOP
    0x08, 0x0a,              // timestamps:
    0x00, 0x0f, 0x42, 0x42,  //   TSval 1000002
    0x00, 0x00, 0x30, 0x39,  //   TSecr 12345
    'h',  'e',  'l',  'l',  'o', ',', ' ', 't', 'a', 'p', 's', 'o', 'c', 'k', '\n',
};

inline const Bytes kRst = {
    0x13, 0x88, 0x9c, 0x40,  // ports 5000 -> 40000
    0x00, 0x00, 0x00, 0x00,  // sequence number 0 (the SYN carried no ACK: RFC 9293 3.10.7.1)
    0x6b, 0x8b, 0x45, 0x68,  // acknowledgment: the SYN's ISN + 1
    0x50,                    // data offset 5 words (20 bytes)
    0x14,                    // flags: RST|ACK
    0x00, 0x00,              // window 0
    0xc2, 0xec,              // checksum
    0x00, 0x00,              // urgent pointer
};

inline const Bytes kSackAck = {
    0x13, 0x88, 0x9c, 0x40,  // ports 5000 -> 40000
    0x11, 0x22, 0x33, 0x45,  // sequence number
    0x6b, 0x8b, 0x45, 0x77,  // acknowledgment: after the 15 bytes of kData
    0xd0,                    // data offset 13 words (52 bytes)
    0x10,                    // flags: ACK
    0x01, 0xf6,              // window 502
    0xb6, 0x27,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01,              // NOP NOP
    0x08, 0x0a,              // timestamps:
    0x00, 0x00, 0x30, 0x3e,  //   TSval 12350
    0x00, 0x0f, 0x42, 0x42,  //   TSecr 1000002
    0x01, 0x01,              // NOP NOP
    0x05, 0x12,              // SACK, 2 blocks (2 + 16 bytes)
    0x6b, 0x8b, 0x45, 0x80,  //   left edge 1
    0x6b, 0x8b, 0x45, 0x90,  //   right edge 1
    0x6b, 0x8b, 0x45, 0xa0,  //   left edge 2
    0x6b, 0x8b, 0x45, 0xb0,  //   right edge 2
};

struct Golden {
  const char* name;
  const Bytes* bytes;
  Ipv4Addr src;
  Ipv4Addr dst;
  uint8_t header_len;
};

inline const Golden kGoldens[] = {
    {"SYN", &kSyn, kPeerIp, kOurIp, 40},
    {"ACK with TS", &kAck, kPeerIp, kOurIp, 32},
    {"PSH|ACK with data", &kData, kPeerIp, kOurIp, 32},
    {"RST|ACK", &kRst, kOurIp, kPeerIp, 20},
    {"ACK with TS and SACK", &kSackAck, kOurIp, kPeerIp, 52},
};

// Parses from a heap copy of exactly `bytes`, so any read past the end is a sanitizer error.
inline std::optional<TcpRepr> ParseExact(std::span<const uint8_t> bytes, PE* why) {
  auto copy = std::make_unique<uint8_t[]>(bytes.size() + (bytes.empty() ? 1 : 0));
  std::copy(bytes.begin(), bytes.end(), copy.get());
  return TcpRepr::Parse({copy.get(), bytes.size()}, why);
}

inline std::optional<TcpRepr> Parse(std::span<const uint8_t> bytes) {
  PE why = PE::kNone;
  auto r = ParseExact(bytes, &why);
  EXPECT_EQ(r.has_value(), why == PE::kNone);
  return r;
}

// A 20-byte header (the kAck fields) followed by `options` (a multiple of 4 bytes).
inline Bytes WithOptions(const Bytes& options) {
  Bytes s(20 + options.size());
  std::copy(kAck.begin(), kAck.begin() + 20, s.begin());
  std::copy(options.begin(), options.end(), s.begin() + 20);
  s[12] = static_cast<uint8_t>((s.size() / 4) << 4);
  return s;
}

// Emits `r` with `payload` after it; the checksum is computed by Emit.
inline Bytes EmitWith(const TcpRepr& r, std::span<const uint8_t> payload, Ipv4Addr src, Ipv4Addr dst) {
  Bytes out(r.HeaderLength() + payload.size(), 0xee);
  std::copy(payload.begin(), payload.end(), out.begin() + r.HeaderLength());
  r.Emit(out.data(), static_cast<uint32_t>(payload.size()), src, dst);
  return out;
}

// Only the option bytes Emit writes.
inline Bytes EmittedOptions(const TcpOptions& o) {
  TcpRepr r;
  r.options = o;
  Bytes out(r.HeaderLength(), 0xee);
  r.EmitNoChecksum(out.data());
  EXPECT_EQ(out.size(), 20 + r.OptionsLength());
  EXPECT_EQ(out[12] >> 4, out.size() / 4);
  return Bytes(out.begin() + 20, out.end());
}


}  // namespace tapsock::wire::tcp_test
