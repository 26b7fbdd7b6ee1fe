#include "shim/stats_dump.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "shim/runtime.h"
#include "stack/base/sys.h"

namespace tapsock::shim {

namespace {

void Line(std::string& out, const char* name, uint64_t v) {
  if (v == 0) return;
  out += name;
  out.append(28 - std::min<size_t>(27, std::strlen(name)), ' ');
  out += std::to_string(v);
  out += '\n';
}

void DumpAtExit() {
  Runtime* rt = Runtime::IfStarted();
  if (!rt) return;
  std::string text;
  {
    MutexLock lock(rt->stack().mu());
    text = "tapsock counters (pid " + std::to_string(getpid()) + "):\n" + FormatStats(rt->stack().stats());
  }
  (void)!sys::Write(2, text.data(), text.size());
}

}  // namespace

std::string FormatStats(const StackStats& s) {
  std::string o;
#define L(name, field) Line(o, name, s.field)
  L("LinkRxFrames", link.rx_frames); L("LinkRxBytes", link.rx_bytes);
  L("LinkTxFrames", link.tx_frames); L("LinkTxBytes", link.tx_bytes);
  L("LinkRxDropped", link.rx_dropped); L("LinkTxDropped", link.tx_dropped);
  L("LinkRxBatches", link.rx_batches); L("LinkTxBatches", link.tx_batches);
  L("LinkUnknownEtherType", link.unknown_ethertype); L("LinkNotForUs", link.not_for_us);
  L("ArpOutRequests", arp.requests_sent); L("ArpOutReplies", arp.replies_sent);
  L("ArpInRequests", arp.requests_received); L("ArpInReplies", arp.replies_received);
  L("ArpInMalformed", arp.malformed); L("ArpResolutionFailures", arp.resolution_failures);
  L("ArpQueueDrops", arp.queue_drops);
  L("IpInReceives", ip.in_receives); L("IpInDelivers", ip.in_delivers);
  L("IpInHdrErrors", ip.in_hdr_errors); L("IpInAddrErrors", ip.in_addr_errors);
  L("IpInUnknownProtos", ip.in_unknown_protos); L("IpInDiscards", ip.in_discards);
  L("IpInCsumErrors", ip.in_checksum_errors); L("IpInTruncatedPkts", ip.in_truncated);
  L("IpFragDropped", ip.frag_dropped); L("IpOutRequests", ip.out_requests);
  L("IpOutNoRoutes", ip.out_no_routes); L("IpOutDiscards", ip.out_discards);
  L("IcmpInMsgs", icmp.in_msgs); L("IcmpInErrors", icmp.in_errors); L("IcmpInEchos", icmp.in_echos);
  L("IcmpInEchoReps", icmp.in_echo_reps); L("IcmpInDestUnreachs", icmp.in_dest_unreachs);
  L("IcmpOutMsgs", icmp.out_msgs); L("IcmpOutEchoReps", icmp.out_echo_reps);
  L("IcmpOutDestUnreachs", icmp.out_dest_unreachs); L("IcmpOutRateLimited", icmp.out_rate_limited);
  L("UdpInDatagrams", udp.in_datagrams); L("UdpNoPorts", udp.no_ports); L("UdpInErrors", udp.in_errors);
  L("UdpRcvbufErrors", udp.rcvbuf_errors); L("UdpInCsumErrors", udp.in_csum_errors);
  L("UdpOutDatagrams", udp.out_datagrams); L("UdpSndbufErrors", udp.sndbuf_errors);
  L("TcpActiveOpens", tcp.active_opens); L("TcpPassiveOpens", tcp.passive_opens);
  L("TcpAttemptFails", tcp.attempt_fails); L("TcpEstabResets", tcp.estab_resets);
  L("TcpCurrEstab", tcp.curr_estab); L("TcpInSegs", tcp.in_segs); L("TcpOutSegs", tcp.out_segs);
  L("TcpRetransSegs", tcp.retrans_segs); L("TcpInErrs", tcp.in_errs); L("TcpInCsumErrors", tcp.in_csum_errors);
  L("TcpOutRsts", tcp.out_rsts); L("TcpExtListenOverflows", tcp.listen_overflows);
  L("TcpExtListenDrops", tcp.listen_drops); L("TcpExtTCPFastRetrans", tcp.fast_retrans);
  L("TcpExtTCPTimeouts", tcp.timeouts); L("TcpExtTCPChallengeACK", tcp.challenge_acks);
  L("TcpExtPAWSEstab", tcp.paws_rejected); L("TcpExtTCPOFOQueue", tcp.ofo_queue);
  L("TcpExtTCPOFODrop", tcp.ofo_drops); L("TcpExtTCPWinProbe", tcp.zero_window_probes);
  L("TcpExtTCPKeepAlive", tcp.keepalive_probes); L("TcpExtSyncookiesSent", tcp.syncookies_sent);
  L("TcpExtSyncookiesRecv", tcp.syncookies_recv); L("TcpExtSyncookiesFailed", tcp.syncookies_failed);
#undef L
  return o;
}

void MaybeDumpStatsAtExit() {
  const char* v = getenv("TAPSOCK_STATS");
  if (v && std::strcmp(v, "exit") == 0) atexit(DumpAtExit);
}

}  // namespace tapsock::shim
