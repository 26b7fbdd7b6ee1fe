// Tests for ARP (stack/network/arp.cc and arp_cache.cc, RFC 826 with RFC 1122 2.3.2 timers):
// answering requests for our address, learning only by the merge rule, resolving next hops with
// one request and a bounded queue of waiting packets, retransmitting up to kMaxRequests, reporting
// EHOSTUNREACH (a soft error: only to IP_RECVERR sockets) for datagrams that could not leave,
// expiring entries, and
// dropping malformed or spoofed-broadcast packets. The stack runs on StackFixture's MemoryLink
// with a manual clock; a UdpEndpoint provides the IP packets that need resolving.
#include <gtest/gtest.h>

#include <vector>

#include "stack/network/arp_cache.h"
#include "tests/unit/stack_fixture.h"

namespace tapsock::test {
namespace {

using wire::ArpRepr;

class ArpTest : public StackFixture {
 protected:
  // A UDP endpoint bound to 198.18.0.2:4000 whose datagrams need the peer resolved.
  UdpEndpoint& Sender() { return BoundUdp(kOurIp, 4000); }
  const ArpStats& st() { return stack_.stats().arp; }
  ArpCache::Entry* Entry(Ipv4Addr ip) { return nic_->arp().Find(ip); }

  void ExpectRequestFor(const SentFrame& f, Ipv4Addr target) {
    EXPECT_EQ(f.eth.dst, MacAddr::Broadcast());
    EXPECT_EQ(f.eth.src, kOurMac);
    EXPECT_EQ(f.eth.ethertype, 0x0806);
    ASSERT_TRUE(f.IsArp(ArpRepr::kRequest));
    EXPECT_EQ(f.arp->sender_mac, kOurMac);
    EXPECT_EQ(f.arp->sender_ip, kOurIp);
    EXPECT_EQ(f.arp->target_mac, MacAddr{});
    EXPECT_EQ(f.arp->target_ip, target);
  }
};

TEST_F(ArpTest, RequestForOurAddressGetsAReply) {
  Inject(FrameArpRequestFromPeer());
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  const SentFrame& f = sent[0];
  EXPECT_EQ(f.eth.dst, kPeerMac) << "the reply is unicast to the asker";
  EXPECT_EQ(f.eth.src, kOurMac);
  ASSERT_TRUE(f.IsArp(ArpRepr::kReply));
  EXPECT_EQ(f.arp->sender_mac, kOurMac);
  EXPECT_EQ(f.arp->sender_ip, kOurIp);
  EXPECT_EQ(f.arp->target_mac, kPeerMac);
  EXPECT_EQ(f.arp->target_ip, kPeerIp);
  EXPECT_EQ(st().requests_received, 1u);
  EXPECT_EQ(st().replies_sent, 1u);
  ASSERT_NE(Entry(kPeerIp), nullptr) << "the asker is learned (RFC 826 merge, we are the target)";
  EXPECT_EQ(Entry(kPeerIp)->mac, kPeerMac);
  EXPECT_EQ(Entry(kPeerIp)->state, ArpCache::State::kReachable);
}

TEST_F(ArpTest, PaddedMinimumSizeRequestGetsAReply) {
  Bytes frame = FrameArpRequestFromPeer();
  frame.resize(60, 0);
  Inject(frame);
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].IsArp(ArpRepr::kReply));
}

TEST_F(ArpTest, RequestForAnotherAddressGetsNoReplyAndTeachesNothing) {
  Inject(FrameArpRequestFromPeer(Ipv4Addr::FromOctets(198, 18, 0, 77)));
  EXPECT_EQ(SentCount(), 0u);
  EXPECT_EQ(st().requests_received, 1u);
  EXPECT_EQ(Entry(kPeerIp), nullptr) << "not the target: a new sender is not learned";
}

TEST_F(ArpTest, KnownSenderIsRefreshedEvenWhenNotTheTarget) {
  LearnPeer();
  // The peer's NIC was replaced; it asks for someone else and we overhear it.
  Inject(Ethernet(
      MacAddr::Broadcast(), kOtherMac, wire::EtherType::kArp,
      Arp(ArpRepr::kRequest, kOtherMac, kPeerIp, MacAddr{}, Ipv4Addr::FromOctets(198, 18, 0, 77))));
  EXPECT_EQ(SentCount(), 0u);
  ASSERT_NE(Entry(kPeerIp), nullptr);
  EXPECT_EQ(Entry(kPeerIp)->mac, kOtherMac);
}

TEST_F(ArpTest, DatagramToUnknownNeighbourWaitsForTheReplyThenLeaves) {
  UdpEndpoint& ep = Sender();
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("ping")).ok());
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u) << "exactly one request, the datagram waits";
  ExpectRequestFor(sent[0], kPeerIp);
  EXPECT_EQ(st().requests_sent, 1u);
  ASSERT_NE(Entry(kPeerIp), nullptr);
  EXPECT_EQ(Entry(kPeerIp)->state, ArpCache::State::kIncomplete);
  EXPECT_EQ(Entry(kPeerIp)->pending.size(), 1u);

  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("again")).ok());
  EXPECT_EQ(SentCount(), 0u) << "no second request while one is outstanding";

  Inject(FrameArpReplyFromPeer());
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& f : sent) {
    EXPECT_EQ(f.eth.dst, kPeerMac);
    EXPECT_EQ(f.eth.src, kOurMac);
    ASSERT_TRUE(f.IsUdp());
    EXPECT_EQ(f.ip->dst, kPeerIp);
  }
  EXPECT_EQ(sent[0].payload, ToBytes("ping")) << "queued packets leave in order";
  EXPECT_EQ(sent[1].payload, ToBytes("again"));
  EXPECT_EQ(st().replies_received, 1u);
  EXPECT_EQ(Entry(kPeerIp)->state, ArpCache::State::kReachable);

  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("direct")).ok());
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u) << "a reachable neighbour needs no request";
  EXPECT_EQ(sent[0].payload, ToBytes("direct"));
}

TEST_F(ArpTest, PendingQueueIsBoundedAndDropsTheOldest) {
  UdpEndpoint& ep = Sender();
  const size_t kSent = ArpCache::kMaxPending + 3;
  for (size_t i = 0; i < kSent; ++i) ASSERT_TRUE(SendTo(ep, kPeerIp, 7, Pattern(1, i)).ok());
  EXPECT_EQ(TakeSent().size(), 1u);
  EXPECT_EQ(st().queue_drops, 3u);
  EXPECT_EQ(Entry(kPeerIp)->pending.size(), ArpCache::kMaxPending);

  Inject(FrameArpReplyFromPeer());
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), ArpCache::kMaxPending);
  for (size_t i = 0; i < sent.size(); ++i)
    EXPECT_EQ(sent[i].payload, Pattern(1, static_cast<uint8_t>(i + 3))) << "the newest survive";
}

// A failed resolution is a soft error (Linux sends itself an ICMP host unreachable from
// ipv4_link_failure): only a socket with IP_RECVERR hears of it, connected or not.
TEST_F(ArpTest, RequestsAreRetransmittedThenARecverrSenderLearnsHostUnreachable) {
  UdpEndpoint& ep = Sender();
  ep.options().recv_err = true;
  ASSERT_TRUE(ep.ConnectLocked(V4(kPeerIp, 7)).ok());
  ASSERT_TRUE(Send(ep, ToBytes("lost")).ok());
  ASSERT_EQ(TakeSent().size(), 1u);
  EXPECT_EQ(stack_.NextDeadlineLocked(), kStartTime + ArpCache::kRetransmitTime);

  Advance(ArpCache::kRetransmitTime - 1);
  EXPECT_EQ(SentCount(), 0u) << "not due yet";
  for (int i = 2; i <= ArpCache::kMaxRequests; ++i) {
    Advance(i == 2 ? 1 : ArpCache::kRetransmitTime);
    auto sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u) << "request " << i;
    ExpectRequestFor(sent[0], kPeerIp);
  }
  EXPECT_EQ(st().requests_sent, static_cast<uint64_t>(ArpCache::kMaxRequests));
  EXPECT_EQ(st().resolution_failures, 0u);
  auto r = Recv(ep);
  EXPECT_EQ(r.error(), Error::kWouldBlock) << "still resolving";

  Advance(ArpCache::kRetransmitTime);
  EXPECT_EQ(SentCount(), 0u) << "no request beyond kMaxRequests";
  EXPECT_EQ(Entry(kPeerIp), nullptr);
  EXPECT_EQ(st().resolution_failures, 1u);
  EXPECT_EQ(stack_.NextDeadlineLocked(), kNever);
  EXPECT_TRUE(ep.ReadinessLocked() & kError);
  EXPECT_EQ(Recv(ep).error(), Error::kHostUnreachable);
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock) << "the error is reported once";
}

TEST_F(ArpTest, ResolutionFailureDoesNotBotherASenderWithoutRecverr) {
  UdpEndpoint& ep = Sender();
  ASSERT_TRUE(ep.ConnectLocked(V4(kPeerIp, 7)).ok());
  ASSERT_TRUE(Send(ep, ToBytes("lost")).ok());
  for (int i = 0; i < ArpCache::kMaxRequests; ++i) Advance(ArpCache::kRetransmitTime);
  EXPECT_EQ(st().resolution_failures, 1u);
  EXPECT_FALSE(ep.ReadinessLocked() & kError);
  EXPECT_EQ(Recv(ep).error(), Error::kWouldBlock);
}

TEST_F(ArpTest, EveryNeighbourFailingAtTheSameTickIsRemoved) {
  // The timer walk removes entries by swapping the last one in: none may be skipped.
  UdpEndpoint& ep = NewUdp();
  for (uint8_t host = 10; host < 15; ++host)
    ASSERT_TRUE(SendTo(ep, Ipv4Addr::FromOctets(198, 18, 0, host), 7, ToBytes("x")).ok());
  LearnPeer();  // a reachable entry among them, not due for a minute
  for (int i = 0; i < ArpCache::kMaxRequests; ++i) Advance(ArpCache::kRetransmitTime);
  EXPECT_EQ(st().resolution_failures, 5u);
  ASSERT_EQ(nic_->arp().entries().size(), 1u);
  EXPECT_EQ(nic_->arp().entries()[0].ip, kPeerIp);
}

TEST_F(ArpTest, ProbeFromAnAddresslessHostIsAnsweredButNotLearned) {
  // RFC 5227 probe: sender IP 0.0.0.0. We defend our address but cache nothing for 0.0.0.0.
  Inject(Ethernet(MacAddr::Broadcast(), kPeerMac, wire::EtherType::kArp,
                  Arp(ArpRepr::kRequest, kPeerMac, Ipv4Addr::Any(), MacAddr{}, kOurIp)));
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].IsArp(ArpRepr::kReply));
  EXPECT_EQ(sent[0].arp->target_mac, kPeerMac);
  EXPECT_EQ(sent[0].arp->sender_ip, kOurIp);
  EXPECT_TRUE(nic_->arp().entries().empty());
}

TEST_F(ArpTest, ReachableEntryExpiresAfterReachableTime) {
  LearnPeer();
  EXPECT_EQ(stack_.NextDeadlineLocked(), kStartTime + ArpCache::kReachableTime);
  Advance(ArpCache::kReachableTime - 1);
  ASSERT_NE(Entry(kPeerIp), nullptr);
  UdpEndpoint& ep = Sender();
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("x")).ok());
  EXPECT_TRUE(TakeSent().at(0).IsUdp());

  Advance(1);
  EXPECT_EQ(Entry(kPeerIp), nullptr);
  EXPECT_EQ(st().resolution_failures, 0u) << "expiry is not a failure";
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("y")).ok());
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectRequestFor(sent[0], kPeerIp);
}

TEST_F(ArpTest, AnnounceSendsAGratuitousRequestPerAddress) {
  const Ipv4Addr kSecond = Ipv4Addr::FromOctets(198, 18, 1, 2);
  stack_.AddAddressLocked(*nic_, {kSecond, 24});
  stack_.arp().AnnounceLocked(*nic_);
  stack_.FlushLocked();
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 2u);
  const Ipv4Addr kAddrs[] = {kOurIp, kSecond};
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(sent[i].eth.dst, MacAddr::Broadcast());
    ASSERT_TRUE(sent[i].IsArp(ArpRepr::kRequest));
    EXPECT_EQ(sent[i].arp->sender_mac, kOurMac);
    EXPECT_EQ(sent[i].arp->sender_ip, kAddrs[i]) << "RFC 5227: sender and target are both ours";
    EXPECT_EQ(sent[i].arp->target_ip, kAddrs[i]);
    EXPECT_EQ(sent[i].arp->target_mac, MacAddr{});
  }
}

class RecordingTimerObserver : public TimerObserver {
 public:
  bool OnDeadlineChangedLocked(Instant deadline) override {
    deadlines.push_back(deadline);
    return true;
  }
  std::vector<Instant> deadlines;
};

TEST_F(ArpTest, TimerObserverHearsWhenTheNextDeadlineMovesEarlier) {
  RecordingTimerObserver observer;
  stack_.SetTimerObserver(&observer);
  UdpEndpoint& ep = Sender();
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("a")).ok());
  EXPECT_EQ(observer.deadlines, std::vector<Instant>{kStartTime + ArpCache::kRetransmitTime});
  ASSERT_TRUE(SendTo(ep, kPeerIp, 7, ToBytes("b")).ok());
  EXPECT_EQ(observer.deadlines.size(), 1u) << "the deadline did not move";
  Advance(ArpCache::kRetransmitTime);  // retransmits, then re-arms for the next one
  EXPECT_EQ(observer.deadlines.back(), kStartTime + 2 * ArpCache::kRetransmitTime);
  stack_.SetTimerObserver(nullptr);
}

struct BadArp {
  const char* name;
  size_t offset;  // into the ARP message
  Bytes value;
  size_t truncate_to = 0;  // ARP bytes kept, 0: all
};

TEST_F(ArpTest, MalformedPacketsAreCountedAndIgnored) {
  const BadArp kCases[] = {
      {"htype 6", 0, {0x00, 0x06}},   {"ptype IPv6", 2, {0x86, 0xdd}}, {"hlen 8", 4, {0x08}},
      {"plen 16", 5, {0x10}},         {"op 0", 6, {0x00, 0x00}},       {"op 3", 6, {0x00, 0x03}},
      {"truncated to 27", 0, {}, 27}, {"truncated to 8", 0, {}, 8},    {"empty", 0, {}, 0xffff},
  };
  uint64_t malformed = 0;
  for (const auto& c : kCases) {
    Bytes arp = Arp(ArpRepr::kRequest, kPeerMac, kPeerIp, MacAddr{}, kOurIp);
    std::copy(c.value.begin(), c.value.end(), arp.begin() + c.offset);
    if (c.truncate_to == 0xffff)
      arp.clear();
    else if (c.truncate_to)
      arp.resize(c.truncate_to);
    Inject(Ethernet(MacAddr::Broadcast(), kPeerMac, wire::EtherType::kArp, arp));
    EXPECT_EQ(st().malformed, ++malformed) << c.name;
    EXPECT_EQ(SentCount(), 0u) << c.name;
    EXPECT_EQ(Entry(kPeerIp), nullptr) << c.name;
  }
  EXPECT_EQ(st().requests_received, 0u);
  EXPECT_EQ(st().replies_sent, 0u);
}

TEST_F(ArpTest, BroadcastOrMulticastSenderIsIgnored) {
  const MacAddr kBadSenders[] = {MacAddr::Broadcast(), MacAddr{{0x01, 0x00, 0x5e, 0, 0, 1}},
                                 MacAddr{{0x33, 0x33, 0, 0, 0, 1}}};
  for (const MacAddr& mac : kBadSenders) {
    Inject(Ethernet(MacAddr::Broadcast(), kPeerMac, wire::EtherType::kArp,
                    Arp(ArpRepr::kRequest, mac, kPeerIp, MacAddr{}, kOurIp)));
    EXPECT_EQ(SentCount(), 0u) << mac.ToString();
    EXPECT_EQ(Entry(kPeerIp), nullptr)
        << "a broadcast MAC must never be cached: " << mac.ToString();
  }
  EXPECT_EQ(st().malformed, 3u);
}

TEST_F(ArpTest, UnsolicitedReplyForUnknownSenderIsNotLearnedUnlessAddressedToUs) {
  const Ipv4Addr kThird = Ipv4Addr::FromOctets(198, 18, 0, 3);
  // A reply about .3 addressed to someone else is overheard, not learned.
  Inject(Ethernet(MacAddr::Broadcast(), kOtherMac, wire::EtherType::kArp,
                  Arp(ArpRepr::kReply, kOtherMac, kThird, kPeerMac, kPeerIp)));
  EXPECT_EQ(Entry(kThird), nullptr);
  EXPECT_EQ(SentCount(), 0u);
  EXPECT_EQ(st().replies_received, 1u);
}

TEST_F(ArpTest, CacheIsBoundedWhenEveryEntryIsStillResolving) {
  // A /22 gives more on-link neighbours than the cache holds.
  stack_.AddAddressLocked(*nic_, {Ipv4Addr::FromOctets(198, 19, 0, 2), 22});
  UdpEndpoint& ep = NewUdp();
  const uint32_t base = Ipv4Addr::FromOctets(198, 19, 0, 10).v;
  for (uint32_t i = 0; i < ArpCache::kMaxEntries; ++i)
    ASSERT_TRUE(SendTo(ep, Ipv4Addr{base + i}, 7, ToBytes("x")).ok());
  EXPECT_EQ(nic_->arp().entries().size(), ArpCache::kMaxEntries);
  EXPECT_EQ(TakeSent().size(), ArpCache::kMaxEntries);
  ASSERT_TRUE(SendTo(ep, Ipv4Addr{base + ArpCache::kMaxEntries}, 7, ToBytes("x")).ok());
  EXPECT_EQ(nic_->arp().entries().size(), ArpCache::kMaxEntries) << "no eviction of waiters";
  EXPECT_EQ(SentCount(), 0u);
  EXPECT_EQ(st().queue_drops, 1u);
}

TEST_F(ArpTest, FullCacheEvictsTheReachableEntryClosestToExpiry) {
  stack_.AddAddressLocked(*nic_, {Ipv4Addr::FromOctets(198, 19, 0, 2), 22});
  UdpEndpoint& ep = NewUdp();
  LearnPeer();  // the oldest reachable entry
  Advance(kSecond);
  const uint32_t base = Ipv4Addr::FromOctets(198, 19, 0, 10).v;
  for (uint32_t i = 0; i + 1 < ArpCache::kMaxEntries; ++i)
    ASSERT_TRUE(SendTo(ep, Ipv4Addr{base + i}, 7, ToBytes("x")).ok());
  link_.sent().clear();
  ASSERT_TRUE(SendTo(ep, Ipv4Addr{base + ArpCache::kMaxEntries}, 7, ToBytes("x")).ok());
  EXPECT_EQ(SentCount(), 1u) << "resolution starts for the newcomer";
  EXPECT_EQ(Entry(kPeerIp), nullptr) << "the reachable entry made room";
  EXPECT_EQ(nic_->arp().entries().size(), ArpCache::kMaxEntries);
}

}  // namespace
}  // namespace tapsock::test
