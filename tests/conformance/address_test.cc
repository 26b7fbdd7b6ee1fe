// Conformance tests for UDP socket addressing: bind(), getsockname(),
// connect() and getpeername(), and the dual-stack rules of AF_INET6 sockets.
//
// Covers the sockaddr length and family checks (including Linux's
// compatibility exceptions: AF_UNSPEC + INADDR_ANY binds an AF_INET socket, a
// 24-byte RFC 2133 sockaddr_in6 is long enough), EADDRINUSE/SO_REUSEADDR/
// SO_REUSEPORT, ephemeral ports, getsockname()/getpeername() address-length
// rules (truncate, report the full length), UDP connect() as "set the default
// peer" with its implicit bind, AF_UNSPEC disconnect and what it does to the
// local address, and IPV6_V6ONLY with v4-mapped addresses. All traffic stays
// on 127.0.0.1; the IPv6 cases use ::ffff:127.0.0.1 only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

// Reads a single-integer sysctl; returns `fallback` if it cannot be read.
int ReadSysctl(const char* path, int fallback) {
  std::ifstream in(path);
  int value = fallback;
  in >> value;
  return in ? value : fallback;
}

class AddressTest : public ::testing::TestWithParam<int> {
 protected:
  int family() const { return GetParam(); }
  socklen_t full_len() const {
    return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  }
};

// ------------------------------------------------------------------ bind()

TEST_P(AddressTest, BindAddrlenTooShortIsEINVAL) {
  FileDescriptor fd = UdpSocket(family());
  SocketAddress addr = LoopbackAddress(family());
  // AF_INET needs the whole sockaddr_in; AF_INET6 needs the 24 bytes of the
  // RFC 2133 sockaddr_in6 (without sin6_scope_id).
  const socklen_t short_len = family() == AF_INET6 ? 23 : addr.len - 1;
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), short_len)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), 0)), SyscallFailsWithErrno(EINVAL));
}

TEST_P(AddressTest, BindAddrlenAboveSockaddrStorageIsEINVAL) {
  FileDescriptor fd = UdpSocket(family());
  char big[256] = {};
  SocketAddress addr = LoopbackAddress(family());
  memcpy(big, addr.get(), addr.len);
  auto* sa = reinterpret_cast<sockaddr*>(big);
  EXPECT_THAT(SYSCALL(bind(fd.get(), sa, sizeof(sockaddr_storage) + 1)),
              SyscallFailsWithErrno(EINVAL));
  // socklen_t is unsigned but the kernel reads it as int: -1 is "negative".
  EXPECT_THAT(SYSCALL(bind(fd.get(), sa, static_cast<socklen_t>(-1))),
              SyscallFailsWithErrno(EINVAL));
  // Longer than the family needs but within sockaddr_storage is fine.
  EXPECT_THAT(SYSCALL(bind(fd.get(), sa, sizeof(sockaddr_storage))), SyscallSucceeds());
}

TEST_P(AddressTest, BindBadPointerIsEFAULT) {
  FileDescriptor fd = UdpSocket(family());
  EXPECT_THAT(SYSCALL(bind(fd.get(), reinterpret_cast<sockaddr*>(1), full_len())),
              SyscallFailsWithErrno(EFAULT));
}

TEST_P(AddressTest, BindWrongFamilyIsEAFNOSUPPORT) {
  FileDescriptor fd = UdpSocket(family());
  // A full-length address of the socket's family, relabelled.
  SocketAddress addr = AnyAddress(family());
  addr.storage.ss_family = family() == AF_INET6 ? AF_INET : AF_INET6;
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EAFNOSUPPORT));
}

TEST_P(AddressTest, BindSamePortTwiceIsEADDRINUSE) {
  SocketAddress addr;
  FileDescriptor first = BoundUdpSocket(family(), &addr);
  FileDescriptor second = UdpSocket(family());
  EXPECT_THAT(SYSCALL(bind(second.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EADDRINUSE));
}

// With SO_REUSEADDR on both, UDP sockets may share a port. A unicast datagram
// then goes to exactly one of them (Linux: the most recently bound).
TEST_P(AddressTest, ReuseAddrLetsTwoSocketsShareAPort) {
  FileDescriptor first = UdpSocket(family());
  FileDescriptor second = UdpSocket(family());
  SetIntOpt(first.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  SetIntOpt(second.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  SocketAddress addr = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(first.get(), addr.get(), addr.len)), SyscallSucceeds());
  addr = GetSockName(first.get());
  ASSERT_THAT(SYSCALL(bind(second.get(), addr.get(), addr.len)), SyscallSucceeds());
  EXPECT_EQ(GetSockName(second.get()).ToString(), addr.ToString());

  FileDescriptor sender = UdpSocket(family());
  SendTo(sender.get(), "x", addr);
  pollfd pfds[2] = {{first.get(), POLLIN, 0}, {second.get(), POLLIN, 0}};
  ASSERT_THAT(SYSCALL(poll(pfds, 2, kEventTimeoutMs)), SyscallSucceedsWithValue(1));
}

TEST_P(AddressTest, ReusePortLetsTwoSocketsShareAPort) {
  FileDescriptor first = UdpSocket(family());
  FileDescriptor second = UdpSocket(family());
  SetIntOpt(first.get(), SOL_SOCKET, SO_REUSEPORT, 1);
  SetIntOpt(second.get(), SOL_SOCKET, SO_REUSEPORT, 1);
  SocketAddress addr = LoopbackAddress(family());
  ASSERT_THAT(SYSCALL(bind(first.get(), addr.get(), addr.len)), SyscallSucceeds());
  addr = GetSockName(first.get());
  EXPECT_THAT(SYSCALL(bind(second.get(), addr.get(), addr.len)), SyscallSucceeds());
}

// Only one of the two sockets asked for sharing: the port stays exclusive.
TEST_P(AddressTest, ReuseAddrOnOneSocketOnlyIsEADDRINUSE) {
  SocketAddress addr;
  FileDescriptor first = BoundUdpSocket(family(), &addr);
  FileDescriptor second = UdpSocket(family());
  SetIntOpt(second.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  EXPECT_THAT(SYSCALL(bind(second.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EADDRINUSE));
}

TEST_P(AddressTest, RebindIsEINVAL) {
  SocketAddress addr;
  FileDescriptor fd = BoundUdpSocket(family(), &addr);
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EINVAL));
  SocketAddress other = LoopbackAddress(family());
  EXPECT_THAT(SYSCALL(bind(fd.get(), other.get(), other.len)), SyscallFailsWithErrno(EINVAL));
}

TEST_P(AddressTest, BindNonLocalAddressIsEADDRNOTAVAIL) {
  if (ReadSysctl("/proc/sys/net/ipv4/ip_nonlocal_bind", 0) != 0) {
    GTEST_SKIP() << "net.ipv4.ip_nonlocal_bind is set on this host";
  }
  FileDescriptor fd = UdpSocket(family());
  // 198.18.0.0/15 is reserved for benchmarking: never a local address.
  SocketAddress addr =
      family() == AF_INET6 ? Inet6Address("::ffff:198.18.0.77") : Inet4Address("198.18.0.77");
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EADDRNOTAVAIL));
}

TEST_P(AddressTest, BindPortZeroPicksEphemeralPort) {
  SocketAddress addr;
  FileDescriptor fd = BoundUdpSocket(family(), &addr);
  EXPECT_EQ(addr.family(), family());
  EXPECT_EQ(addr.len, full_len());
  EXPECT_GE(addr.port(), 1024);
  SocketAddress expected = LoopbackAddress(family(), addr.port());
  EXPECT_EQ(addr.ToString(), expected.ToString());
}

// The whole of 127.0.0.0/8 is local.
TEST_P(AddressTest, BindOtherLoopbackAddress) {
  FileDescriptor fd = UdpSocket(family());
  SocketAddress addr =
      family() == AF_INET6 ? Inet6Address("::ffff:127.0.0.5") : Inet4Address("127.0.0.5");
  ASSERT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallSucceeds());
  SocketAddress bound = GetSockName(fd.get());
  addr.set_port(bound.port());
  EXPECT_EQ(bound.ToString(), addr.ToString());
}

// For compatibility Linux lets an AF_INET socket bind an AF_UNSPEC address,
// but only when the address is INADDR_ANY.
TEST(BindTest, InetAcceptsUnspecFamilyOnlyForAnyAddress) {
  FileDescriptor fd = UdpSocket(AF_INET);
  SocketAddress addr = Inet4Address("127.0.0.1");
  addr.storage.ss_family = AF_UNSPEC;
  EXPECT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallFailsWithErrno(EAFNOSUPPORT));
  addr = Inet4Address("0.0.0.0");
  addr.storage.ss_family = AF_UNSPEC;
  ASSERT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallSucceeds());
  SocketAddress bound = GetSockName(fd.get());
  EXPECT_EQ(bound.family(), AF_INET);
  EXPECT_EQ(bound.ToString(), Inet4Address("0.0.0.0", bound.port()).ToString());
  EXPECT_NE(bound.port(), 0);
}

// 24 bytes (RFC 2133, before sin6_scope_id existed) is a valid length.
TEST(BindTest, Inet6AcceptsRfc2133AddressLength) {
  FileDescriptor fd = UdpSocket(AF_INET6);
  SocketAddress addr = LoopbackAddress(AF_INET6);
  ASSERT_THAT(SYSCALL(bind(fd.get(), addr.get(), 24)), SyscallSucceeds());
  EXPECT_EQ(GetSockName(fd.get()).len, sizeof(sockaddr_in6));
}

// ----------------------------------------------------------- getsockname()

TEST_P(AddressTest, GetsocknameOfUnboundSocketIsWildcardPortZero) {
  FileDescriptor fd = UdpSocket(family());
  SocketAddress addr = GetSockName(fd.get());
  EXPECT_EQ(addr.family(), family());
  EXPECT_EQ(addr.len, full_len());
  EXPECT_EQ(addr.ToString(), AnyAddress(family()).ToString());
}

TEST_P(AddressTest, GetsocknameShortAddrlenTruncatesAndReportsFullLength) {
  SocketAddress addr;
  FileDescriptor fd = BoundUdpSocket(family(), &addr);
  unsigned char buf[sizeof(sockaddr_storage)];
  memset(buf, 0xa5, sizeof(buf));
  socklen_t len = 4;
  ASSERT_THAT(SYSCALL(getsockname(fd.get(), reinterpret_cast<sockaddr*>(buf), &len)),
              SyscallSucceeds());
  EXPECT_EQ(len, full_len());
  // The first four bytes are family and port; nothing beyond them is written.
  EXPECT_EQ(memcmp(buf, addr.get(), 4), 0);
  EXPECT_EQ(buf[4], 0xa5);
}

TEST_P(AddressTest, GetsocknameZeroAddrlenWritesNothing) {
  FileDescriptor fd = BoundUdpSocket(family());
  socklen_t len = 0;
  // With length 0 the address pointer is never dereferenced.
  EXPECT_THAT(SYSCALL(getsockname(fd.get(), reinterpret_cast<sockaddr*>(1), &len)),
              SyscallSucceeds());
  EXPECT_EQ(len, full_len());
}

TEST_P(AddressTest, GetsocknameBadArgumentsFail) {
  FileDescriptor fd = BoundUdpSocket(family());
  sockaddr_storage ss;
  socklen_t len = static_cast<socklen_t>(-1);
  EXPECT_THAT(SYSCALL(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len)),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SYSCALL(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss),
                                  reinterpret_cast<socklen_t*>(1))),
              SyscallFailsWithErrno(EFAULT));
  len = sizeof(ss);
  EXPECT_THAT(SYSCALL(getsockname(fd.get(), reinterpret_cast<sockaddr*>(1), &len)),
              SyscallFailsWithErrno(EFAULT));
}

// --------------------------------------------- connect() / getpeername()

TEST_P(AddressTest, GetpeernameUnconnectedIsENOTCONN) {
  FileDescriptor fd = BoundUdpSocket(family());
  SocketAddress addr;
  addr.len = sizeof(addr.storage);
  EXPECT_THAT(SYSCALL(getpeername(fd.get(), addr.get(), &addr.len)),
              SyscallFailsWithErrno(ENOTCONN));
}

TEST_P(AddressTest, ConnectSetsPeer) {
  SocketAddress peer_addr;
  FileDescriptor peer = BoundUdpSocket(family(), &peer_addr);
  FileDescriptor fd = UdpSocket(family());
  ASSERT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), peer_addr.len)), SyscallSucceeds());
  SocketAddress got = GetPeerName(fd.get());
  EXPECT_EQ(got.len, full_len());
  EXPECT_EQ(got.ToString(), peer_addr.ToString());
}

// connect() on an unbound UDP socket binds it: to an ephemeral port and to the
// source address of the route to the peer (127.0.0.1 here).
TEST_P(AddressTest, ConnectAutobinds) {
  SocketAddress peer_addr;
  FileDescriptor peer = BoundUdpSocket(family(), &peer_addr);
  FileDescriptor fd = UdpSocket(family());
  ASSERT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), peer_addr.len)), SyscallSucceeds());
  SocketAddress local = GetSockName(fd.get());
  EXPECT_NE(local.port(), 0);
  EXPECT_EQ(local.ToString(), LoopbackAddress(family(), local.port()).ToString());
}

TEST_P(AddressTest, ConnectAgainChangesPeer) {
  SocketAddress a_addr, b_addr;
  FileDescriptor a = BoundUdpSocket(family(), &a_addr);
  FileDescriptor b = BoundUdpSocket(family(), &b_addr);
  FileDescriptor fd = UdpSocket(family());
  ASSERT_THAT(SYSCALL(connect(fd.get(), a_addr.get(), a_addr.len)), SyscallSucceeds());
  ASSERT_THAT(SYSCALL(connect(fd.get(), b_addr.get(), b_addr.len)), SyscallSucceeds());
  EXPECT_EQ(GetPeerName(fd.get()).ToString(), b_addr.ToString());
  EXPECT_THAT(SYSCALL(send(fd.get(), "b", 1, 0)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(RecvDatagram(b.get()), "b");
}

TEST_P(AddressTest, ConnectAddrlenTooShortIsEINVAL) {
  SocketAddress peer_addr;
  FileDescriptor peer = BoundUdpSocket(family(), &peer_addr);
  FileDescriptor fd = UdpSocket(family());
  const socklen_t short_len = family() == AF_INET6 ? 23 : peer_addr.len - 1;
  EXPECT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), short_len)),
              SyscallFailsWithErrno(EINVAL));
  // Too short to even hold sa_family.
  EXPECT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), 1)), SyscallFailsWithErrno(EINVAL));
}

TEST_P(AddressTest, ConnectUnspecDisconnects) {
  SocketAddress peer_addr;
  FileDescriptor peer = BoundUdpSocket(family(), &peer_addr);
  FileDescriptor fd = BoundUdpSocket(family());
  ASSERT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), peer_addr.len)), SyscallSucceeds());
  sockaddr unspec = {};
  unspec.sa_family = AF_UNSPEC;
  // Just the family field is enough.
  ASSERT_THAT(SYSCALL(connect(fd.get(), &unspec, sizeof(unspec.sa_family))), SyscallSucceeds());
  SocketAddress addr;
  addr.len = sizeof(addr.storage);
  EXPECT_THAT(SYSCALL(getpeername(fd.get(), addr.get(), &addr.len)),
              SyscallFailsWithErrno(ENOTCONN));
  EXPECT_THAT(SYSCALL(send(fd.get(), "x", 1, 0)), SyscallFailsWithErrno(EDESTADDRREQ));
  // Disconnecting a disconnected socket is fine too.
  EXPECT_THAT(SYSCALL(connect(fd.get(), &unspec, sizeof(unspec))), SyscallSucceeds());
}

// Disconnect undoes the implicit bind of connect(): the local address goes
// back to the wildcard and the port to 0.
TEST_P(AddressTest, DisconnectUndoesAutobind) {
  SocketAddress peer_addr;
  FileDescriptor peer = BoundUdpSocket(family(), &peer_addr);
  FileDescriptor fd = UdpSocket(family());
  ASSERT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), peer_addr.len)), SyscallSucceeds());
  sockaddr unspec = {};
  unspec.sa_family = AF_UNSPEC;
  ASSERT_THAT(SYSCALL(connect(fd.get(), &unspec, sizeof(unspec))), SyscallSucceeds());
  EXPECT_EQ(GetSockName(fd.get()).ToString(), AnyAddress(family()).ToString());
}

// What survives a disconnect is only what bind() set explicitly: an address
// given to bind() stays, but a port that bind() chose (port 0) is released.
TEST_P(AddressTest, DisconnectKeepsExplicitAddressButNotEphemeralPort) {
  SocketAddress peer_addr;
  FileDescriptor peer = BoundUdpSocket(family(), &peer_addr);
  SocketAddress bound;
  FileDescriptor fd = BoundUdpSocket(family(), &bound);
  ASSERT_NE(bound.port(), 0);
  ASSERT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), peer_addr.len)), SyscallSucceeds());
  EXPECT_EQ(GetSockName(fd.get()).ToString(), bound.ToString());
  sockaddr unspec = {};
  unspec.sa_family = AF_UNSPEC;
  ASSERT_THAT(SYSCALL(connect(fd.get(), &unspec, sizeof(unspec))), SyscallSucceeds());
  EXPECT_EQ(GetSockName(fd.get()).ToString(), LoopbackAddress(family(), 0).ToString());
}

TEST_P(AddressTest, DisconnectKeepsExplicitPort) {
  SocketAddress peer_addr;
  FileDescriptor peer = BoundUdpSocket(family(), &peer_addr);
  // A port that was free a moment ago, bound explicitly this time.
  SocketAddress addr = ClosedLoopbackPort(family());
  FileDescriptor fd = UdpSocket(family());
  ASSERT_THAT(SYSCALL(bind(fd.get(), addr.get(), addr.len)), SyscallSucceeds());
  ASSERT_THAT(SYSCALL(connect(fd.get(), peer_addr.get(), peer_addr.len)), SyscallSucceeds());
  sockaddr unspec = {};
  unspec.sa_family = AF_UNSPEC;
  ASSERT_THAT(SYSCALL(connect(fd.get(), &unspec, sizeof(unspec))), SyscallSucceeds());
  EXPECT_EQ(GetSockName(fd.get()).ToString(), addr.ToString());
}

INSTANTIATE_TEST_SUITE_P(Families, AddressTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

// ------------------------------------------------------------ dual stack

TEST(DualStackTest, V6OnlyDefaultsToOff) {
  if (ReadSysctl("/proc/sys/net/ipv6/bindv6only", 0) != 0) {
    GTEST_SKIP() << "net.ipv6.bindv6only is set on this host";
  }
  FileDescriptor fd(socket(AF_INET6, SOCK_DGRAM, 0));
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(GetIntOpt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY), 0);
}

TEST(DualStackTest, V6OnlyRoundTrip) {
  FileDescriptor fd = UdpSocket(AF_INET6);
  SetIntOpt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1);
  EXPECT_EQ(GetIntOpt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY), 1);
  SetIntOpt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 0);
  EXPECT_EQ(GetIntOpt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY), 0);
}

// The choice must be made before the socket has a port.
TEST(DualStackTest, V6OnlyCannotChangeAfterBind) {
  FileDescriptor fd = BoundUdpSocket(AF_INET6);
  const int one = 1;
  EXPECT_THAT(SYSCALL(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(GetIntOpt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY), 0);
}

TEST(DualStackTest, V6OnlySocketRejectsV4MappedAddresses) {
  SocketAddress rx_addr;
  FileDescriptor rx = BoundUdpSocket(AF_INET, &rx_addr);
  FileDescriptor fd = UdpSocket(AF_INET6);
  SetIntOpt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1);
  SocketAddress mapped = LoopbackAddress(AF_INET6);
  EXPECT_THAT(SYSCALL(bind(fd.get(), mapped.get(), mapped.len)), SyscallFailsWithErrno(EINVAL));
  mapped.set_port(rx_addr.port());
  EXPECT_THAT(SYSCALL(sendto(fd.get(), "x", 1, 0, mapped.get(), mapped.len)),
              SyscallFailsWithErrno(ENETUNREACH));
  EXPECT_THAT(SYSCALL(connect(fd.get(), rx_addr.get(), rx_addr.len)),
              SyscallFailsWithErrno(EAFNOSUPPORT));
}

TEST(DualStackTest, WildcardSocketReceivesIpv4AsV4Mapped) {
  FileDescriptor rx = UdpSocket(AF_INET6);
  SocketAddress any = AnyAddress(AF_INET6);
  ASSERT_THAT(SYSCALL(bind(rx.get(), any.get(), any.len)), SyscallSucceeds());
  const uint16_t port = GetSockName(rx.get()).port();

  SocketAddress tx_addr;
  FileDescriptor tx = BoundUdpSocket(AF_INET, &tx_addr);
  SendTo(tx.get(), "v4", Inet4Address("127.0.0.1", port));

  ASSERT_TRUE(WaitReadable(rx.get()));
  char buf[8];
  SocketAddress from;
  from.len = sizeof(from.storage);
  ASSERT_THAT(SYSCALL(recvfrom(rx.get(), buf, sizeof(buf), 0, from.get(), &from.len)),
              SyscallSucceedsWithValue(2));
  EXPECT_EQ(from.family(), AF_INET6);
  EXPECT_EQ(from.len, sizeof(sockaddr_in6));
  EXPECT_EQ(from.ToString(), Inet6Address("::ffff:127.0.0.1", tx_addr.port()).ToString());
}

TEST(DualStackTest, Ipv4SocketSeesV4MappedSenderAsIpv4) {
  SocketAddress rx_addr;
  FileDescriptor rx = BoundUdpSocket(AF_INET, &rx_addr);
  SocketAddress tx_addr;
  FileDescriptor tx = BoundUdpSocket(AF_INET6, &tx_addr);
  SendTo(tx.get(), "v6", LoopbackAddress(AF_INET6, rx_addr.port()));

  ASSERT_TRUE(WaitReadable(rx.get()));
  char buf[8];
  SocketAddress from;
  from.len = sizeof(from.storage);
  ASSERT_THAT(SYSCALL(recvfrom(rx.get(), buf, sizeof(buf), 0, from.get(), &from.len)),
              SyscallSucceedsWithValue(2));
  EXPECT_EQ(from.len, sizeof(sockaddr_in));
  EXPECT_EQ(from.ToString(), Inet4Address("127.0.0.1", tx_addr.port()).ToString());
}

// A dual-stack AF_INET6 UDP socket also takes a plain sockaddr_in as the
// destination of sendto() and connect(); the peer then reads back v4-mapped.
TEST(DualStackTest, Inet6SocketAcceptsSockaddrIn) {
  SocketAddress rx_addr;
  FileDescriptor rx = BoundUdpSocket(AF_INET, &rx_addr);
  FileDescriptor fd = UdpSocket(AF_INET6);
  SendTo(fd.get(), "to", rx_addr);
  EXPECT_EQ(RecvDatagram(rx.get()), "to");

  ASSERT_THAT(SYSCALL(connect(fd.get(), rx_addr.get(), rx_addr.len)), SyscallSucceeds());
  SocketAddress peer = GetPeerName(fd.get());
  EXPECT_EQ(peer.len, sizeof(sockaddr_in6));
  EXPECT_EQ(peer.ToString(), LoopbackAddress(AF_INET6, rx_addr.port()).ToString());
}

// AF_INET6 sendto() is laxer and different from AF_INET: AF_UNSPEC means "no
// address" and an unknown family is EINVAL (AF_INET says EAFNOSUPPORT).
TEST(DualStackTest, Inet6SendtoFamilyRules) {
  FileDescriptor fd = UdpSocket(AF_INET6);
  SocketAddress addr = LoopbackAddress(AF_INET6, 9);
  addr.storage.ss_family = AF_UNSPEC;
  EXPECT_THAT(SYSCALL(sendto(fd.get(), "x", 1, 0, addr.get(), addr.len)),
              SyscallFailsWithErrno(EDESTADDRREQ));
  addr.storage.ss_family = 12345;
  EXPECT_THAT(SYSCALL(sendto(fd.get(), "x", 1, 0, addr.get(), addr.len)),
              SyscallFailsWithErrno(EINVAL));
}

TEST(DualStackTest, V4MappedBindReportsInet6Family) {
  SocketAddress bound;
  FileDescriptor fd = BoundUdpSocket(AF_INET6, &bound);
  EXPECT_EQ(bound.family(), AF_INET6);
  EXPECT_EQ(bound.len, sizeof(sockaddr_in6));
  EXPECT_EQ(bound.ToString(), Inet6Address("::ffff:127.0.0.1", bound.port()).ToString());
}

}  // namespace
}  // namespace tapsock::testing
