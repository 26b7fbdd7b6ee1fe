// First end-to-end check of the stack over the in-memory link: ARP reply, ping reply, UDP echo.
#include <gtest/gtest.h>

#include "stack/link/memory_link.h"
#include "stack/stack.h"
#include "stack/transport/udp_endpoint.h"
#include "stack/wire/arp.h"
#include "stack/wire/ethernet.h"

namespace tapsock {
namespace {

TEST(Smoke, ArpRequestGetsReply) {
  Stack stack;
  MacAddr mac{{0x02, 0, 0, 0, 0, 2}};
  MemoryLink link(stack.pool(), mac);
  MutexLock lock(stack.mu());
  Nic* nic = stack.AddNicLocked("tap0", &link);
  stack.AddAddressLocked(*nic, {Ipv4Addr::FromOctets(198, 18, 0, 2), 24});
  uint8_t frame[42];
  MacAddr peer{{0x02, 0, 0, 0, 0, 1}};
  wire::EthernetRepr{MacAddr::Broadcast(), peer, 0x0806}.Emit(frame);
  wire::ArpRepr{wire::ArpRepr::kRequest, peer, Ipv4Addr::FromOctets(198, 18, 0, 1), {},
                Ipv4Addr::FromOctets(198, 18, 0, 2)}.Emit(frame + 14);
  link.InjectLocked(frame);
  stack.FlushLocked();
  ASSERT_EQ(link.sent().size(), 1u);
  auto out = link.PopSent();
  auto eth = wire::EthernetRepr::Parse(out);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->dst, peer);
  auto arp = wire::ArpRepr::Parse(std::span(out).subspan(14));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->op, wire::ArpRepr::kReply);
  EXPECT_EQ(arp->sender_mac, mac);
}

TEST(Smoke, UdpOverLoopback) {
  Stack stack;
  MutexLock lock(stack.mu());
  UdpEndpoint a(stack, false), b(stack, false);
  ASSERT_TRUE(a.BindLocked({IpAddr::V4(Ipv4Addr::Loopback()), 0}).ok());
  FullAddress dst = a.LocalAddressLocked();
  char msg[] = "hello";
  iovec iov{msg, 5};
  SendOptions so;
  so.dst = &dst;
  auto sent = b.SendLocked({&iov, 1}, so);
  ASSERT_TRUE(sent.ok());
  stack.FlushLocked();
  char buf[16] = {};
  iovec riov{buf, sizeof buf};
  auto r = a.RecvLocked({&riov, 1}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().datagram_len, 5u);
  EXPECT_STREQ(buf, "hello");
  EXPECT_EQ(r.value().meta.src.port, b.LocalAddressLocked().port);
  a.CloseLocked();
  b.CloseLocked();
}

}  // namespace
}  // namespace tapsock
