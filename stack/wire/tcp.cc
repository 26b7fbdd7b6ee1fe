// TCP header parsing and emission. The option walk follows RFC 9293 3.2 and Linux's
// tcp_parse_options: EOL ends the list, NOP is one byte, everything else is kind, length, body,
// with the length checked against the header before the body is read. Emission follows Linux's
// tcp_options_write, whose 4-byte groups keep every option word-aligned without EOL padding.
#include "stack/wire/tcp.h"

#include <algorithm>
#include <cassert>

namespace tapsock::wire {
namespace {

constexpr uint8_t Kind(TcpOptionKind k) {
  return static_cast<uint8_t>(k);
}

// Option lengths as RFC 9293, RFC 7323 and RFC 2018 fix them.
constexpr uint8_t kMssLen = 4;
constexpr uint8_t kWindowScaleLen = 3;
constexpr uint8_t kSackPermittedLen = 2;
constexpr uint8_t kTimestampsLen = 10;
constexpr uint8_t kSackBaseLen = 2;
constexpr uint8_t kSackBlockLen = 8;

// Emitted group sizes (Linux tcp_output.c): each starts on a word and fills it with NOPs.
constexpr uint32_t kMssGroup = 4;          // MSS
constexpr uint32_t kTimestampsGroup = 12;  // NOP NOP TS, or SACK_PERM TS
constexpr uint32_t kSackPermGroup = 4;     // NOP NOP SACK_PERM (only without timestamps)
constexpr uint32_t kWindowScaleGroup = 4;  // NOP WS
constexpr uint32_t kSackGroupBase = 4;     // NOP NOP SACK len, then 8 bytes a block

// Reads the options in [p, end) into `o`; false on an illegal option length.
bool ParseOptions(const uint8_t* p, const uint8_t* end, TcpOptions& o) {
  while (p < end) {
    const uint8_t kind = p[0];
    if (kind == Kind(TcpOptionKind::kEol)) break;  // the rest of the header is padding
    if (kind == Kind(TcpOptionKind::kNop)) {
      ++p;
      continue;
    }
    // A length below 2 would stall the walk; one past the header would read beyond it. Either way
    // the next option cannot be found (RFC 9293 MUST-7).
    if (end - p < 2) return false;
    const uint8_t len = p[1];
    if (len < 2 || len > end - p) return false;
    const uint8_t* body = p + 2;
    // A known option with the wrong length is ignored and the walk goes on (Linux); unknown ones
    // are skipped by their length (RFC 9293 MUST-6).
    switch (kind) {
      case Kind(TcpOptionKind::kMss):
        if (len == kMssLen) o.mss = Load16(body);
        break;
      case Kind(TcpOptionKind::kWindowScale):
        // RFC 7323 2.3: a shift above 14 is logged and used as 14.
        if (len == kWindowScaleLen) o.window_scale = std::min(body[0], TcpOptions::kMaxWindowScale);
        break;
      case Kind(TcpOptionKind::kSackPermitted):
        if (len == kSackPermittedLen) o.sack_permitted = true;
        break;
      case Kind(TcpOptionKind::kTimestamps):
        if (len == kTimestampsLen) o.timestamps = std::pair(Load32(body), Load32(body + 4));
        break;
      case Kind(TcpOptionKind::kSack): {
        const uint32_t blocks = (len - kSackBaseLen) / kSackBlockLen;
        if ((len - kSackBaseLen) % kSackBlockLen != 0 || blocks == 0 ||
            blocks > TcpOptions::kMaxSackBlocks) {
          break;
        }
        o.sack_count = static_cast<uint8_t>(blocks);
        for (uint32_t i = 0; i < blocks; ++i) {
          const uint8_t* b = body + i * kSackBlockLen;
          o.sack_blocks[i] = {Load32(b), Load32(b + 4)};
        }
        break;
      }
      default:
        break;
    }
    p += len;
  }
  return true;
}

uint8_t* Put4(uint8_t* out, uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
  return out + 4;
}

}  // namespace

std::optional<TcpRepr> TcpRepr::Parse(std::span<const uint8_t> segment, ParseError* why) {
  auto fail = [why](ParseError e) {
    *why = e;
    return std::nullopt;
  };
  if (segment.size() < kMinHeaderLen) return fail(ParseError::kTruncated);
  const uint32_t header_len = (segment[kDataOffsetOffset] >> 4) * 4u;
  if (header_len < kMinHeaderLen || header_len > segment.size()) {
    return fail(ParseError::kDataOffset);
  }
  TcpRepr r;
  r.src_port = Load16(&segment[kSrcPortOffset]);
  r.dst_port = Load16(&segment[kDstPortOffset]);
  r.seq = Load32(&segment[kSeqOffset]);
  r.ack = Load32(&segment[kAckOffset]);
  // The reserved bits (and RFC 3540's retired NS bit) are ignored on receive (RFC 9293 3.1).
  r.flags = segment[kFlagsOffset];
  r.window = Load16(&segment[kWindowOffset]);
  r.urgent = Load16(&segment[kUrgentOffset]);
  r.header_len = static_cast<uint8_t>(header_len);
  if (!ParseOptions(segment.data() + kMinHeaderLen, segment.data() + header_len, r.options)) {
    return fail(ParseError::kOptionLength);
  }
  *why = ParseError::kNone;
  return r;
}

uint8_t TcpRepr::EmittedSackBlocks() const {
  const uint32_t wanted = std::min(options.sack_count, TcpOptions::kMaxSackBlocks);
  if (wanted == 0) return 0;
  uint32_t used = (options.mss ? kMssGroup : 0) + (options.window_scale ? kWindowScaleGroup : 0);
  if (options.timestamps) {
    used += kTimestampsGroup;
  } else if (options.sack_permitted) {
    used += kSackPermGroup;
  }
  if (used + kSackGroupBase + kSackBlockLen > kMaxOptionsLen) return 0;
  const uint32_t fit = (kMaxOptionsLen - used - kSackGroupBase) / kSackBlockLen;
  return static_cast<uint8_t>(std::min(wanted, fit));
}

uint32_t TcpRepr::OptionsLength() const {
  uint32_t n = 0;
  if (options.mss) n += kMssGroup;
  if (options.timestamps) {
    n += kTimestampsGroup;  // carries SACK_PERM in its first two bytes when set
  } else if (options.sack_permitted) {
    n += kSackPermGroup;
  }
  if (options.window_scale) n += kWindowScaleGroup;
  if (const uint8_t blocks = EmittedSackBlocks()) n += kSackGroupBase + blocks * kSackBlockLen;
  assert(n <= kMaxOptionsLen && n % 4 == 0 && "TCP options must fit the data offset");
  return n;
}

void TcpRepr::EmitNoChecksum(uint8_t* out) const {
  const uint32_t hlen = HeaderLength();
  Store16(out + kSrcPortOffset, src_port);
  Store16(out + kDstPortOffset, dst_port);
  Store32(out + kSeqOffset, seq);
  Store32(out + kAckOffset, ack);
  out[kDataOffsetOffset] = static_cast<uint8_t>((hlen / 4) << 4);
  out[kFlagsOffset] = flags;
  Store16(out + kWindowOffset, window);
  Store16(out + kChecksumOffset, 0);
  Store16(out + kUrgentOffset, urgent);

  // Linux's order (tcp_options_write): MSS, timestamps (absorbing SACK_PERM), SACK_PERM alone,
  // window scale, SACK blocks. A Linux SYN is therefore MSS, SACK_PERM, TS, NOP, WS.
  constexpr uint8_t kNop = Kind(TcpOptionKind::kNop);
  uint8_t* p = out + kMinHeaderLen;
  if (options.mss) {
    p = Put4(p, Kind(TcpOptionKind::kMss), kMssLen, static_cast<uint8_t>(*options.mss >> 8),
             static_cast<uint8_t>(*options.mss));
  }
  if (options.timestamps) {
    if (options.sack_permitted) {
      p = Put4(p, Kind(TcpOptionKind::kSackPermitted), kSackPermittedLen,
               Kind(TcpOptionKind::kTimestamps), kTimestampsLen);
    } else {
      p = Put4(p, kNop, kNop, Kind(TcpOptionKind::kTimestamps), kTimestampsLen);
    }
    Store32(p, options.timestamps->first);
    Store32(p + 4, options.timestamps->second);
    p += 8;
  } else if (options.sack_permitted) {
    p = Put4(p, kNop, kNop, Kind(TcpOptionKind::kSackPermitted), kSackPermittedLen);
  }
  if (options.window_scale) {
    p = Put4(p, kNop, Kind(TcpOptionKind::kWindowScale), kWindowScaleLen, *options.window_scale);
  }
  if (const uint8_t blocks = EmittedSackBlocks()) {
    p = Put4(p, kNop, kNop, Kind(TcpOptionKind::kSack),
             static_cast<uint8_t>(kSackBaseLen + blocks * kSackBlockLen));
    for (uint8_t i = 0; i < blocks; ++i) {
      Store32(p, options.sack_blocks[i].first);
      Store32(p + 4, options.sack_blocks[i].second);
      p += 8;
    }
  }
  assert(p == out + hlen && "OptionsLength() and the emitted options disagree");
}

void TcpRepr::Emit(uint8_t* out, uint32_t payload_len, Ipv4Addr src, Ipv4Addr dst) const {
  EmitNoChecksum(out);
  const uint16_t sum = TcpChecksumV4({out, HeaderLength() + payload_len}, src, dst);
  Store16(out + kChecksumOffset, sum);
}

}  // namespace tapsock::wire
