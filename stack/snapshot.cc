// The stat snapshot: one pass over the stack's tables under its lock, copying only.
#include "stack/snapshot.h"

#include <algorithm>

#include "stack/stack.h"
#include "stack/transport/tcp/tcp_protocol.h"
#include "stack/transport/udp_endpoint.h"
#include "stack/transport/udp_protocol.h"

namespace tapsock {

const char* SsStateName(tcp::State s) {
  switch (s) {
    case tcp::State::kEstablished: return "ESTAB";
    case tcp::State::kSynSent: return "SYN-SENT";
    case tcp::State::kSynReceived: return "SYN-RECV";
    case tcp::State::kFinWait1: return "FIN-WAIT-1";
    case tcp::State::kFinWait2: return "FIN-WAIT-2";
    case tcp::State::kTimeWait: return "TIME-WAIT";
    case tcp::State::kClosed: return "UNCONN";
    case tcp::State::kCloseWait: return "CLOSE-WAIT";
    case tcp::State::kLastAck: return "LAST-ACK";
    case tcp::State::kListen: return "LISTEN";
    case tcp::State::kClosing: return "CLOSING";
  }
  return "UNKNOWN";
}

StackSnapshot TakeSnapshotLocked(Stack& stack) {
  StackSnapshot snap;
  snap.now = stack.now();
  snap.stats = stack.ShownStatsLocked();
  for (const auto& nic : stack.nics()) {
    NicSnapshot n;
    n.index = nic->index();
    n.name = nic->name();
    n.mac = nic->mac();
    n.mtu = nic->mtu();
    n.loopback = nic->loopback();
    n.v4 = nic->v4_addresses();
    n.v6 = nic->v6_addresses();
    snap.nics.push_back(std::move(n));
  }

  snap.tcp.reserve(stack.tcp().connection_count());
  stack.tcp().ForEachEndpointLocked([&](const tcp::TcpEndpoint& ep) {
    // Closed and let go: already gone as far as anyone can tell; the protocol deletes it at its
    // next timer pass (TcpProtocol::ReapLocked).
    if (ep.Reapable()) return;
    TcpSnapshot t;
    t.id = ep.id();
    t.state = ep.state();
    t.v6 = ep.v6();
    t.orphan = !ep.user_held();
    t.local = ep.local_v4();
    t.local_port = ep.local_port();
    t.remote = ep.remote_v4();
    t.remote_port = ep.remote_port();
    if (ep.listening()) {
      t.recv_q = ep.accept_queue_length();
      t.send_q = static_cast<uint64_t>(std::max(ep.backlog(), 0));
    } else {
      t.recv_q = ep.ReadableBytesLocked();
      t.send_q = ep.UnsentOrUnackedBytesLocked();
    }
    t.info = ep.InfoLocked();
    t.ssthresh_infinite = !ep.cc() || ep.cc()->ssthresh() >= tcp::CongestionControl::kInfiniteSsthresh;
    t.endpoint = &ep;
    snap.tcp.push_back(t);
  });
  std::sort(snap.tcp.begin(), snap.tcp.end(),
            [](const TcpSnapshot& a, const TcpSnapshot& b) { return a.id < b.id; });

  stack.udp().ForEachEndpointLocked([&](const UdpEndpoint& ep) {
    UdpSnapshot u;
    u.v6 = ep.v6();
    u.local = ep.bound_v4();
    u.local_port = ep.local_port();
    u.connected = ep.connected();
    u.remote = ep.remote_v4();
    u.remote_port = ep.remote_port();
    u.recv_q = ep.QueuedBytesLocked();
    u.endpoint = &ep;
    snap.udp.push_back(u);
  });
  std::sort(snap.udp.begin(), snap.udp.end(), [](const UdpSnapshot& a, const UdpSnapshot& b) {
    return a.local_port != b.local_port ? a.local_port < b.local_port : a.local < b.local;
  });
  return snap;
}

}  // namespace tapsock
