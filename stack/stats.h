// Stack counters, one struct per layer, named after Linux's SNMP MIB counters and gVisor's
// tcpip.Stats so `nstat` users recognise them. Plain integers: they are only written under the
// stack lock, and readers from outside (the stat tool) tolerate a torn read of a counter.
#pragma once

#include <cstdint>

namespace tapsock {

struct LinkStats {
  uint64_t rx_frames = 0, rx_bytes = 0, tx_frames = 0, tx_bytes = 0;
  uint64_t rx_dropped = 0;       // no buffer or malformed at the link layer
  uint64_t tx_dropped = 0;       // no buffer or ring full
  uint64_t rx_batches = 0, tx_batches = 0;  // loop passes that received frames / submits that sent some
  uint64_t unknown_ethertype = 0, not_for_us = 0;
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
};

struct IcmpStats {
  uint64_t in_msgs = 0, in_errors = 0, in_echos = 0, in_echo_reps = 0, in_dest_unreachs = 0;
  uint64_t out_msgs = 0, out_echo_reps = 0, out_dest_unreachs = 0, out_rate_limited = 0;
};

struct UdpStats {
  uint64_t in_datagrams = 0, no_ports = 0, in_errors = 0, rcvbuf_errors = 0, in_csum_errors = 0;
  uint64_t out_datagrams = 0, sndbuf_errors = 0;
};

// Named after Linux's TcpExt/Tcp MIB counters.
struct TcpStats {
  uint64_t active_opens = 0, passive_opens = 0, attempt_fails = 0, estab_resets = 0, curr_estab = 0;
  uint64_t in_segs = 0, out_segs = 0, retrans_segs = 0, in_errs = 0, in_csum_errors = 0, out_rsts = 0;
  uint64_t listen_overflows = 0, listen_drops = 0, syncookies_sent = 0, syncookies_recv = 0,
           syncookies_failed = 0;
  uint64_t fast_retrans = 0, timeouts = 0, sack_recoveries = 0, challenge_acks = 0, paws_rejected = 0;
  uint64_t ofo_queue = 0, ofo_drops = 0, zero_window_probes = 0, keepalive_probes = 0;
};

struct StackStats {
  LinkStats link;
  ArpStats arp;
  IpStats ip;
  IcmpStats icmp;
  UdpStats udp;
  TcpStats tcp;
};

}  // namespace tapsock
