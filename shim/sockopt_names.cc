#include "shim/sockopt_names.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <iterator>

namespace tapsock::shim {

namespace {

struct Entry {
  int name;
  const char* text;
};

#define E(x) {x, #x}
constexpr Entry kSocket[] = {
    E(SO_DEBUG),     E(SO_REUSEADDR), E(SO_TYPE),        E(SO_ERROR),     E(SO_DONTROUTE),
    E(SO_BROADCAST), E(SO_SNDBUF),    E(SO_RCVBUF),      E(SO_KEEPALIVE), E(SO_OOBINLINE),
    E(SO_LINGER),    E(SO_REUSEPORT), E(SO_RCVLOWAT),    E(SO_SNDLOWAT),  E(SO_RCVTIMEO),
    E(SO_SNDTIMEO),  E(SO_BINDTODEVICE), E(SO_TIMESTAMP), E(SO_TIMESTAMPNS), E(SO_PRIORITY),
    E(SO_ACCEPTCONN), E(SO_PROTOCOL), E(SO_DOMAIN),      E(SO_SNDBUFFORCE), E(SO_RCVBUFFORCE),
    E(SO_MARK),      E(SO_BUSY_POLL), E(SO_INCOMING_CPU), E(SO_ZEROCOPY),   E(SO_PASSCRED),
};
constexpr Entry kIp[] = {
    E(IP_TOS),          E(IP_TTL),          E(IP_HDRINCL),          E(IP_OPTIONS),
    E(IP_PKTINFO),      E(IP_RECVTTL),      E(IP_RECVTOS),          E(IP_MTU_DISCOVER),
    E(IP_RECVERR),      E(IP_MTU),          E(IP_FREEBIND),         E(IP_MULTICAST_IF),
    E(IP_MULTICAST_TTL), E(IP_MULTICAST_LOOP), E(IP_ADD_MEMBERSHIP), E(IP_DROP_MEMBERSHIP),
    E(IP_BIND_ADDRESS_NO_PORT), E(IP_TRANSPARENT),
};
constexpr Entry kIpv6[] = {
    E(IPV6_V6ONLY), E(IPV6_UNICAST_HOPS), E(IPV6_MULTICAST_HOPS), E(IPV6_RECVPKTINFO),
    E(IPV6_TCLASS), E(IPV6_RECVERR),      E(IPV6_MTU_DISCOVER),
};
constexpr Entry kTcp[] = {
    E(TCP_NODELAY),     E(TCP_MAXSEG),      E(TCP_CORK),         E(TCP_KEEPIDLE),
    E(TCP_KEEPINTVL),   E(TCP_KEEPCNT),     E(TCP_SYNCNT),       E(TCP_LINGER2),
    E(TCP_DEFER_ACCEPT), E(TCP_WINDOW_CLAMP), E(TCP_INFO),       E(TCP_QUICKACK),
    E(TCP_CONGESTION),  E(TCP_USER_TIMEOUT), E(TCP_FASTOPEN),    E(TCP_NOTSENT_LOWAT),
    E(TCP_FASTOPEN_CONNECT), E(TCP_ULP),
};
#undef E

template <size_t N>
const char* Find(const Entry (&table)[N], int name) {
  for (const Entry& e : table)
    if (e.name == name) return e.text;
  return nullptr;
}

}  // namespace

std::string SockOptName(int level, int name) {
  const char* level_text = nullptr;
  const char* text = nullptr;
  switch (level) {
    case SOL_SOCKET: level_text = "SOL_SOCKET", text = Find(kSocket, name); break;
    case SOL_IP: level_text = "SOL_IP", text = Find(kIp, name); break;
    case SOL_IPV6: level_text = "SOL_IPV6", text = Find(kIpv6, name); break;
    case SOL_TCP: level_text = "SOL_TCP", text = Find(kTcp, name); break;
    default: break;
  }
  std::string out = level_text ? level_text : "level " + std::to_string(level);
  out += ", ";
  out += text ? text : std::to_string(name);
  return out;
}

}  // namespace tapsock::shim
