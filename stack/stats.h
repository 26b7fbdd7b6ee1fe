// Stack counters, one struct per layer, named after Linux's SNMP MIB counters and gVisor's
// tcpip.Stats so `nstat` users recognise them. Plain integers, only written and read under the
// stack lock; the stat tool (shim/control.cc) copies the whole struct under it.
#pragma once

#include <cstdint>

namespace tapsock {

struct LinkStats {
  uint64_t rx_frames = 0, rx_bytes = 0, tx_frames = 0, tx_bytes = 0;
  uint64_t rx_dropped = 0;       // no buffer or malformed at the link layer
  uint64_t tx_dropped = 0;       // no buffer or ring full
  uint64_t rx_batches = 0, tx_batches = 0;  // loop passes that received frames / submits that sent some
  uint64_t unknown_ethertype = 0, not_for_us = 0;
  // Frames the kernel dropped because the TAP's queue (txqueuelen) was full: the receive side did
  // not read fast enough. The kernel's count (the TAP's TX dropped) since we attached, read when
  // counters are shown.
  uint64_t tap_queue_drops = 0;
};

struct ArpStats {
  uint64_t requests_sent = 0, replies_sent = 0, requests_received = 0, replies_received = 0;
  uint64_t malformed = 0, resolution_failures = 0, queue_drops = 0;
};

struct IpStats {
  uint64_t in_receives = 0, in_delivers = 0, in_hdr_errors = 0, in_addr_errors = 0;
  uint64_t in_unknown_protos = 0, in_discards = 0, in_checksum_errors = 0, in_truncated = 0;
  uint64_t frag_dropped = 0;     // fragments: reassembly arrives with a later issue
  uint64_t out_requests = 0, out_no_routes = 0, out_discards = 0;
  uint64_t in_octets = 0, out_octets = 0;  // IP bytes of delivered and sent packets (IpExt)
};

struct IcmpStats {
  uint64_t in_msgs = 0, in_errors = 0, in_echos = 0, in_echo_reps = 0, in_dest_unreachs = 0;
  uint64_t out_msgs = 0, out_echo_reps = 0, out_dest_unreachs = 0, out_rate_limited = 0;
  // The other received types, per type as Linux's Icmp MIB and gVisor's ICMPv4PacketStats count.
  uint64_t in_time_excds = 0, in_parm_probs = 0, in_src_quenchs = 0, in_redirects = 0;
  uint64_t in_timestamps = 0, in_timestamp_reps = 0;
  uint64_t out_errors = 0;  // messages not sent: no route, no buffer, or the IP layer refused
};

struct UdpStats {
  uint64_t in_datagrams = 0, no_ports = 0, in_errors = 0, rcvbuf_errors = 0, in_csum_errors = 0;
  uint64_t out_datagrams = 0, sndbuf_errors = 0;
  uint64_t in_malformed = 0;  // bad UDP header or length (gVisor's MalformedPacketsReceived)
};

// Named after Linux's TcpExt/Tcp MIB counters.
struct TcpStats {
  uint64_t active_opens = 0, passive_opens = 0, attempt_fails = 0, estab_resets = 0, curr_estab = 0;
  uint64_t in_segs = 0, out_segs = 0, retrans_segs = 0, in_errs = 0, in_csum_errors = 0, out_rsts = 0;
  uint64_t listen_overflows = 0, listen_drops = 0, syncookies_sent = 0, syncookies_recv = 0,
           syncookies_failed = 0;
  uint64_t loss_probes = 0, lost_retransmits = 0, fast_retrans = 0, timeouts = 0, sack_recoveries = 0, challenge_acks = 0, paws_rejected = 0;
  uint64_t ofo_queue = 0, ofo_drops = 0, zero_window_probes = 0, keepalive_probes = 0;
  uint64_t ofo_pruned = 0;  // out-of-order segments dropped to make room for earlier ones (OfoPruned)
  uint64_t in_rsts = 0;             // segments with RST that passed the checksum (gVisor's ResetsReceived)
  uint64_t reno_recoveries = 0;     // fast recoveries without SACK (TcpExtTCPRenoRecovery)
  uint64_t slow_start_retrans = 0;  // go-back-N resends after a timeout (TcpExtTCPSlowStartRetrans)
  // Connections given up: closed with unread data, closed with SO_LINGER 0, retries or keepalive
  // probes exhausted (Linux's TCPAbortOnClose, TCPAbortOnData, TCPAbortOnTimeout).
  uint64_t abort_on_close = 0, abort_on_data = 0, abort_on_timeout = 0;
};

// Seeded fault injection on the link (stack/link/fault_link.h), per direction: frames dropped,
// duplicated, with a bit flipped, held back to be overtaken, and held in the delay line.
struct FaultStats {
  uint64_t tx_dropped = 0, rx_dropped = 0, tx_duplicated = 0, rx_duplicated = 0;
  uint64_t tx_corrupted = 0, rx_corrupted = 0, tx_reordered = 0, rx_reordered = 0;
  uint64_t tx_delayed = 0, rx_delayed = 0;
};

struct StackStats {
  LinkStats link;
  FaultStats fault;
  ArpStats arp;
  IpStats ip;
  IcmpStats icmp;
  UdpStats udp;
  TcpStats tcp;
};

}  // namespace tapsock
