// The JSON document `tapsock stat` reads from a process's control socket (shim/control.h):
// process, interfaces, counters grouped by layer, and the TCP and UDP endpoints. Formatted from a
// StackSnapshot after the stack lock is released. scripts/tapsock-stat.py is its reader; a field
// may be added, never renamed ("version" says which shape this is).
//
//   {"version": 1, "pid": 42, "program": "iperf3", "uptime_s": 3.5, "log_level": "warn",
//    "interfaces": [{"name": "tap0", "index": 2, "mac": "02:..", "mtu": 1500, "loopback": false,
//                    "addresses": ["198.18.0.2/24", "2001:db8::2"]}],
//    "counters": {"link": {"LinkRxFrames": 10, ...}, "arp": {...}, "ip": {...}, ...},
//    "tcp": [{"id": 3, "state": "ESTAB", "local": "198.18.0.2:5201", "remote": ..., "recv_q": 0,
//             "send_q": 0, "rtt_us": 120, "rttvar_us": 40, "rto_us": 201000, "cwnd": 10,
//             "ssthresh": null, "mss": 1448, "retrans": 0, "total_retrans": 0, "bytes_acked": 1,
//             "bytes_received": 2, "segs_out": 3, "segs_in": 4, "orphan": false, "fd": 5}],
//    "udp": [{"local": "0.0.0.0:53", "remote": "0.0.0.0:0", "recv_q": 0, "fd": 6}]}
//
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shim/stats_dump.h"
#include "stack/snapshot.h"

namespace tapsock::shim {

struct StatDocument {
  int pid = 0;
  std::string program;
  double uptime_s = 0;
  std::string log_level;
  std::vector<Counter> counters;  // ListCounters() of snapshot.stats
  StackSnapshot snapshot;
  // The lowest fd naming each endpoint, parallel to snapshot.tcp and snapshot.udp; -1 when no fd
  // does (an orphan, a child waiting in an accept queue).
  std::vector<int> tcp_fds, udp_fds;
};

std::string FormatStatJson(const StatDocument& doc);

// `s` as a JSON string literal, quotes included. Bytes outside printable ASCII become \u00XX, so
// the result is valid JSON (and UTF-8) whatever `s` holds.
std::string JsonString(std::string_view s);

}  // namespace tapsock::shim
