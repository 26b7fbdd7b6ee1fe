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

// Fills `out` with every counter of `s`, in the order below (layer by layer, bottom up).
void CollectCounters(const StackStats& s, std::vector<Counter>& out) {
  // The one table of names: L(name as nstat prints it, StackStats field). The field's path also
  // names its group ("tcp.timeouts" is in "tcp"), which the JSON of `tapsock stat` uses.
#define L(name, field) out.push_back(Counter{name, #field, s.field})
  L("LinkRxFrames", link.rx_frames); L("LinkRxBytes", link.rx_bytes);
  L("LinkTxFrames", link.tx_frames); L("LinkTxBytes", link.tx_bytes);
  L("LinkRxDropped", link.rx_dropped); L("LinkTxDropped", link.tx_dropped);
  L("LinkTapQueueDrops", link.tap_queue_drops);
  L("LinkRxBatches", link.rx_batches); L("LinkTxBatches", link.tx_batches);
  L("LinkUnknownEtherType", link.unknown_ethertype); L("LinkNotForUs", link.not_for_us);
  L("FaultTxDropped", fault.tx_dropped); L("FaultRxDropped", fault.rx_dropped);
  L("FaultTxDuplicated", fault.tx_duplicated); L("FaultRxDuplicated", fault.rx_duplicated);
  L("FaultTxCorrupted", fault.tx_corrupted); L("FaultRxCorrupted", fault.rx_corrupted);
  L("FaultTxReordered", fault.tx_reordered); L("FaultRxReordered", fault.rx_reordered);
  L("FaultTxDelayed", fault.tx_delayed); L("FaultRxDelayed", fault.rx_delayed);
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
  L("IpExtInOctets", ip.in_octets); L("IpExtOutOctets", ip.out_octets);
  L("IcmpInMsgs", icmp.in_msgs); L("IcmpInErrors", icmp.in_errors); L("IcmpInEchos", icmp.in_echos);
  L("IcmpInEchoReps", icmp.in_echo_reps); L("IcmpInDestUnreachs", icmp.in_dest_unreachs);
  L("IcmpInTimeExcds", icmp.in_time_excds); L("IcmpInParmProbs", icmp.in_parm_probs);
  L("IcmpInSrcQuenchs", icmp.in_src_quenchs); L("IcmpInRedirects", icmp.in_redirects);
  L("IcmpInTimestamps", icmp.in_timestamps); L("IcmpInTimestampReps", icmp.in_timestamp_reps);
  L("IcmpOutMsgs", icmp.out_msgs); L("IcmpOutErrors", icmp.out_errors); L("IcmpOutEchoReps", icmp.out_echo_reps);
  L("IcmpOutDestUnreachs", icmp.out_dest_unreachs); L("IcmpOutRateLimited", icmp.out_rate_limited);
  L("UdpInDatagrams", udp.in_datagrams); L("UdpNoPorts", udp.no_ports); L("UdpInErrors", udp.in_errors);
  L("UdpRcvbufErrors", udp.rcvbuf_errors); L("UdpInCsumErrors", udp.in_csum_errors);
  L("UdpInMalformed", udp.in_malformed);
  L("UdpOutDatagrams", udp.out_datagrams); L("UdpSndbufErrors", udp.sndbuf_errors);
  L("TcpActiveOpens", tcp.active_opens); L("TcpPassiveOpens", tcp.passive_opens);
  L("TcpAttemptFails", tcp.attempt_fails); L("TcpEstabResets", tcp.estab_resets);
  L("TcpCurrEstab", tcp.curr_estab); L("TcpInSegs", tcp.in_segs); L("TcpOutSegs", tcp.out_segs);
  L("TcpRetransSegs", tcp.retrans_segs); L("TcpInErrs", tcp.in_errs); L("TcpInCsumErrors", tcp.in_csum_errors);
  L("TcpInRsts", tcp.in_rsts);
  L("TcpOutRsts", tcp.out_rsts); L("TcpExtListenOverflows", tcp.listen_overflows);
  L("TcpExtListenDrops", tcp.listen_drops); L("TcpExtTCPFastRetrans", tcp.fast_retrans); L("TcpExtTCPLostRetransmit", tcp.lost_retransmits); L("TcpExtTCPLossProbes", tcp.loss_probes);
  L("TcpExtTCPRenoRecovery", tcp.reno_recoveries); L("TcpExtTCPSackRecovery", tcp.sack_recoveries);
  L("TcpExtTCPSlowStartRetrans", tcp.slow_start_retrans);
  L("TcpExtTCPTimeouts", tcp.timeouts); L("TcpExtTCPChallengeACK", tcp.challenge_acks);
  L("TcpExtPAWSEstab", tcp.paws_rejected); L("TcpExtTCPOFOQueue", tcp.ofo_queue);
  L("TcpExtTCPOFODrop", tcp.ofo_drops); L("TcpExtOfoPruned", tcp.ofo_pruned); L("TcpExtTCPWinProbe", tcp.zero_window_probes);
  L("TcpExtTCPKeepAlive", tcp.keepalive_probes); L("TcpExtSyncookiesSent", tcp.syncookies_sent);
  L("TcpExtSyncookiesRecv", tcp.syncookies_recv); L("TcpExtSyncookiesFailed", tcp.syncookies_failed);
  L("TcpExtTCPAbortOnClose", tcp.abort_on_close); L("TcpExtTCPAbortOnData", tcp.abort_on_data);
  L("TcpExtTCPAbortOnTimeout", tcp.abort_on_timeout);
#undef L
}

}  // namespace

std::vector<Counter> ListCounters(const StackStats& s) {
  std::vector<Counter> out;
  out.reserve(128);
  CollectCounters(s, out);
  return out;
}

std::string FormatStats(const StackStats& s) {
  std::string o;
  for (const Counter& c : ListCounters(s)) Line(o, c.name, c.value);
  return o;
}

void DumpStats(Runtime& rt) {
  std::string text;
  {
    MutexLock lock(rt.stack().mu());
    text = "tapsock counters (pid " + std::to_string(getpid()) + "):\n" + FormatStats(rt.stack().ShownStatsLocked());
  }
  (void)sys::WriteAll(2, text.data(), text.size());
}

}  // namespace tapsock::shim
