// The fixture the network and transport unit tests share: a Stack with one in-memory Ethernet NIC
// "tap0" (02:00:00:00:00:02, 198.18.0.2/24) facing a peer 198.18.0.1 (02:00:00:00:00:01), on a
// manual clock. The fixture holds the stack lock for the whole test, so test bodies call *Locked
// methods directly; every helper ends its operation with FlushLocked() as the shim does, which
// delivers looped-back packets and hands queued frames to the MemoryLink. Endpoints made with
// NewUdp() are closed before the stack goes away.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "stack/link/memory_link.h"
#include "stack/stack.h"
#include "stack/transport/udp_endpoint.h"
#include "tests/unit/frame_builder.h"

namespace tapsock::test {

// Where the manual clock starts: far from zero, so "zero" timestamps never look valid.
constexpr Instant kStartTime = 1000 * kSecond;

struct Received {
  Bytes data;
  RecvResult result;
};

inline FullAddress V4(Ipv4Addr a, uint16_t port) {
  return {IpAddr::V4(a), port};
}

class StackFixture : public ::testing::Test {
 protected:
  StackFixture() {
    nic_ = stack_.AddNicLocked("tap0", &link_);
    stack_.AddAddressLocked(*nic_, {kOurIp, kPrefixLen});
    stack_.SetNowLocked(kStartTime);
  }
  ~StackFixture() override {
    for (auto& ep : endpoints_) ep->CloseLocked();
  }
  // Every test doubles as a leak check: once the endpoints are closed, the only buffers still out
  // of the pool are IP packets waiting in ARP queues.
  void TearDown() override {
    for (auto& ep : endpoints_) ep->CloseLocked();
    size_t waiting = 0;
    for (const auto& nic : stack_.nics())
      for (const auto& e : nic->arp().entries()) waiting += e.pending.size();
    EXPECT_EQ(stack_.pool().in_use(), waiting) << "packet buffers leaked";
  }

  UdpEndpoint& NewUdp(bool v6 = false) {
    endpoints_.push_back(std::make_unique<UdpEndpoint>(stack_, v6));
    return *endpoints_.back();
  }
  // A UDP endpoint bound to addr:port (asserting success).
  UdpEndpoint& BoundUdp(Ipv4Addr addr, uint16_t port) {
    UdpEndpoint& ep = NewUdp();
    Status s = ep.BindLocked(V4(addr, port));
    EXPECT_TRUE(s.ok()) << "bind failed with error " << static_cast<int>(s.error());
    return ep;
  }

  // A frame arrives from the wire.
  void Inject(std::span<const uint8_t> frame) {
    // MemoryLink memcpy()s from frame.data(), which must not be null even for an empty frame.
    static const uint8_t kNothing = 0;
    if (frame.empty()) frame = {&kNothing, 0};
    link_.InjectLocked(frame);
    stack_.FlushLocked();
  }
  // Everything the stack sent since the last call, parsed.
  std::vector<SentFrame> TakeSent() {
    std::vector<SentFrame> out;
    while (!link_.sent().empty()) out.push_back(ParseSent(link_.PopSent()));
    return out;
  }
  size_t SentCount() { return link_.sent().size(); }

  // The peer asks for our address, so our cache learns it; the reply is discarded.
  void LearnPeer() {
    Inject(FrameArpRequestFromPeer());
    link_.sent().clear();
  }

  // Moves the manual clock and fires whatever timers became due.
  void Advance(Instant d) {
    stack_.SetNowLocked(stack_.now() + d);
    stack_.RunTimersLocked();
    stack_.FlushLocked();
  }

  Result<size_t> SendTo(UdpEndpoint& ep, Ipv4Addr dst, uint16_t port,
                        std::span<const uint8_t> payload) {
    FullAddress to = V4(dst, port);
    return SendTo(ep, to, payload);
  }
  // An empty payload is sent from a non-null buffer: the null case has its own test.
  static iovec IovecOf(std::span<const uint8_t> payload) {
    static uint8_t nothing = 0;
    return {payload.empty() ? &nothing : const_cast<uint8_t*>(payload.data()), payload.size()};
  }
  Result<size_t> SendTo(UdpEndpoint& ep, const FullAddress& to, std::span<const uint8_t> payload) {
    iovec iov = IovecOf(payload);
    SendOptions so;
    so.dst = &to;
    auto r = ep.SendLocked({&iov, 1}, so);
    stack_.FlushLocked();
    return r;
  }
  // Sends to the connected peer.
  Result<size_t> Send(UdpEndpoint& ep, std::span<const uint8_t> payload) {
    iovec iov = IovecOf(payload);
    auto r = ep.SendLocked({&iov, 1}, SendOptions{});
    stack_.FlushLocked();
    return r;
  }
  Result<Received> Recv(UdpEndpoint& ep, bool peek = false) {
    Bytes buf(70000);
    iovec iov{buf.data(), buf.size()};
    auto r = ep.RecvLocked({&iov, 1}, peek);
    if (!r.ok()) return r.error();
    buf.resize(r.value().copied);
    return Received{std::move(buf), r.value()};
  }
  // The next datagram's bytes; a failed receive is a test failure and gives an empty result.
  Bytes RecvData(UdpEndpoint& ep, bool peek = false) {
    auto r = Recv(ep, peek);
    EXPECT_TRUE(r.ok()) << "receive failed with error " << static_cast<int>(r.error());
    return r.ok() ? r.value().data : Bytes{};
  }

  Stack stack_;
  MemoryLink link_{stack_.pool(), kOurMac};
  MutexLock lock_{stack_.mu()};
  Nic* nic_ = nullptr;
  std::vector<std::unique_ptr<UdpEndpoint>> endpoints_;
};

}  // namespace tapsock::test
