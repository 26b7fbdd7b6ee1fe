// A stack fixture that talks TCP with it from the wire: crafted segments in, the segments the
// stack sent (header and payload) out. For the segment-exact control-block tests.
#pragma once

#include <gtest/gtest.h>

#include <span>
#include <vector>

#include "stack/wire/tcp.h"
#include "tests/unit/stack_fixture.h"

namespace tapsock::test {

// A segment the stack sent: its header and its payload.
struct TcpOut {
  wire::TcpRepr h;
  Bytes data;
};

class TcpWireFixture : public StackFixture {
 protected:
  // Delivers `h` with `payload` from the peer (kPeerIp) to us (kOurIp).
  void InjectTcp(const wire::TcpRepr& h, std::span<const uint8_t> payload = {}) {
    Bytes seg(h.HeaderLength());
    seg.insert(seg.end(), payload.begin(), payload.end());
    h.Emit(seg.data(), static_cast<uint32_t>(payload.size()), kPeerIp, kOurIp);
    Ipv4Spec ip;
    ip.protocol = static_cast<uint8_t>(wire::IpProto::kTcp);
    ip.src = kPeerIp;
    ip.dst = kOurIp;
    Inject(FrameIpv4(ip, seg));
  }
  // The TCP segments sent since the last call (other frames are dropped from the record).
  std::vector<TcpOut> SentTcp() {
    std::vector<TcpOut> out;
    for (const SentFrame& f : TakeSent()) {
      if (!f.ip || f.ip->protocol != static_cast<uint8_t>(wire::IpProto::kTcp)) continue;
      auto l4 = std::span<const uint8_t>(f.ip_packet).subspan(f.ip->ihl_bytes);
      wire::TcpRepr::ParseError why;
      auto h = wire::TcpRepr::Parse(l4, &why);
      EXPECT_TRUE(h.has_value()) << "the stack sent a malformed TCP segment";
      if (h) out.push_back({*h, Bytes(l4.begin() + h->header_len, l4.end())});
    }
    return out;
  }
};

}  // namespace tapsock::test
