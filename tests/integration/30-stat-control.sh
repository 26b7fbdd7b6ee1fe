#!/usr/bin/env bash
# `tapsock stat` and `tapsock log` against a running shimmed iperf3 server (198.18.0.2 on tap0):
#   1. during a 4 s transfer from the kernel's iperf3 client, `tapsock stat PID` twice: an ESTAB
#      connection from 198.18.0.1 with non-zero rtt, cwnd and bytes received, and TcpInSegs
#      moving between the two calls; `--json` parses with python3 -m json.tool;
#   2. `tapsock log PID debug` (the server started at warn), then a new connection: lines naming
#      its connection id (c<N>, as stat shows it) appear in TAPSOCK_LOG_FILE, none before;
#   3. clear errors for a process that does not exist and one that is not shimmed; a stale
#      socket of a dead pid is removed; the server's socket is gone once it exits.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib
command -v iperf3 >/dev/null || fail "iperf3 is not installed (scripts/install-deps installs it)"

ns_up
shim_log=$TSK_WORK/shim.log
# No `timeout` wrapper: the PID must be iperf3's own (the test's cleanup stops it).
start_bg server run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 \
	--log warn --log-file "$shim_log" -- iperf3 -s -B 198.18.0.2 -p 5201 --forceflush
wait_line server 'Server listening' 15
wait_carrier "$NS" tap0 10
pid=$(pid_of server)
sock_dir=/run/tapsock
wait_for 5 "the control socket of pid $pid" test -S "$sock_dir/$pid.sock"
[[ $(stat -c %a "$sock_dir/$pid.sock") == 600 ]] || fail "control socket mode is $(stat -c %a "$sock_dir/$pid.sock"), not 600"

# One connection in ESTAB with rtt, cwnd and received bytes all non-zero, from the stat text on stdin.
estab_ok() {
	"$TSK_PY" -c '
import re, sys
lines = sys.stdin.read().splitlines()
for i, line in enumerate(lines[:-1]):
    if not (line.startswith("ESTAB") and "198.18.0.1:" in line):
        continue
    d = lines[i + 1]
    rtt = re.search(r"rtt:([0-9.]+)/", d)
    cwnd = re.search(r"cwnd:([0-9]+)", d)
    rcvd = re.search(r"bytes_received:([0-9]+)", d)
    cid = re.search(r" (c[0-9]+)$", line)
    if rtt and cwnd and rcvd and cid and float(rtt.group(1)) > 0 and int(cwnd.group(1)) > 0 and int(rcvd.group(1)) > 0:
        print(cid.group(1), rtt.group(1), cwnd.group(1), rcvd.group(1))
        sys.exit(0)
sys.exit(1)'
}
counter() { awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }' <<<"$2"; }

log "kernel iperf3 client sends to the shimmed server for 4 s; tapsock stat $pid twice during it"
start_bg client1 "$TSK_TOOL" ns exec "$NS" -- timeout 15 iperf3 -c 198.18.0.2 -p 5201 -t 4
sleep 1.5
stat1=$(bounded 10 "$TSK_TOOL" stat "$pid") || fail "tapsock stat $pid failed: $stat1"
sleep 1
stat2=$(bounded 10 "$TSK_TOOL" stat "$pid") || fail "tapsock stat $pid failed: $stat2"
printf '%s\n' "$stat2" >"$TSK_WORK/stat2.txt"
conn=$(estab_ok <<<"$stat1") || fail "first stat shows no ESTAB connection with rtt, cwnd and bytes: $stat1"
estab_ok <<<"$stat2" >/dev/null || fail "second stat shows no ESTAB connection with rtt, cwnd and bytes: $stat2"
in1=$(counter TcpInSegs "$stat1") in2=$(counter TcpInSegs "$stat2")
((in2 > in1)) || fail "TcpInSegs did not move between the two stats ($in1, then $in2)"
log "stat: connection $conn (id rtt_ms cwnd bytes_received); TcpInSegs $in1 -> $in2"
bounded 10 "$TSK_TOOL" stat "$pid" --json >"$TSK_WORK/stat.json" || fail "tapsock stat --json failed"
"$TSK_PY" -m json.tool "$TSK_WORK/stat.json" >/dev/null || fail "tapsock stat --json is not JSON: $(head -c 300 "$TSK_WORK/stat.json")"
"$TSK_PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["pid"] == int(sys.argv[2]) and d["counters"]["tcp"]["TcpInSegs"] > 0 else 1)' \
	"$TSK_WORK/stat.json" "$pid" || fail "the JSON lacks pid or counters.tcp.TcpInSegs"
rc=0
wait "$(pid_of client1)" || rc=$?
((rc == 0)) || fail "the first iperf3 client exited $rc: $(tail -n 3 "$TSK_WORK/client1.log" | tr '\n' ' ')"

grep -qE ' c[0-9]+ ' "$shim_log" && fail "connection lines in the log at level warn: $(grep -m1 -E ' c[0-9]+ ' "$shim_log")"
out=$(bounded 10 "$TSK_TOOL" log "$pid" debug) || fail "tapsock log $pid debug failed: $out"
[[ $out == *"log level debug (was warn)"* ]] || fail "tapsock log $pid debug said: $out"
level=$(bounded 10 "$TSK_TOOL" log "$pid") || fail "tapsock log $pid failed: $level"
[[ $level == debug ]] || fail "tapsock log $pid reads '$level', not debug"

log "a new connection at debug level: its id must appear in the log"
bounded 15 "$TSK_TOOL" ns exec "$NS" -- iperf3 -c 198.18.0.2 -p 5201 -t 1 >"$TSK_WORK/client2.log" 2>&1 ||
	fail "the second iperf3 client failed: $(tail -n 3 "$TSK_WORK/client2.log" | tr '\n' ' ')"
wait_for 5 "an ESTABLISHED line in the shim log" grep -qE ' c[0-9]+ 198\.18\.0\.2:5201 -> 198\.18\.0\.1:[0-9]+ SYN-RECEIVED -> ESTABLISHED' "$shim_log"
id=$(grep -oE ' c[0-9]+ 198\.18\.0\.2:5201 -> 198\.18\.0\.1:[0-9]+ SYN-RECEIVED -> ESTABLISHED' "$shim_log" | tail -n 1 | awk '{ print $1 }')
n=$(grep -cw -- "$id" "$shim_log")
((n >= 3)) || fail "only $n log lines name $id: $(grep -w -- "$id" "$shim_log" | tr '\n' ' ')"
grep -qE "fd [0-9]+: $id accepted on fd [0-9]+" "$shim_log" || fail "no accept line names $id"
log "$n log lines name $id, e.g.: $(grep -w -- "$id" "$shim_log" | head -n 1 | cut -d] -f2-)"

# Errors a user can meet.
gone=4194000
while [[ -e /proc/$gone ]]; do gone=$((gone - 1)); done
rc=0
out=$("$TSK_TOOL" stat "$gone" 2>&1) || rc=$?
if ((rc != 1)) || [[ $out != *"no such process"* ]]; then fail "stat of a missing pid: exit $rc, '$out'"; fi
rc=0
out=$("$TSK_TOOL" stat $$ 2>&1) || rc=$?
if ((rc != 1)) || [[ $out != *"not running under tapsock"* ]]; then
	fail "stat of an unshimmed process: exit $rc, '$out'"
fi
rc=0
out=$("$TSK_TOOL" log "$pid" loud 2>&1) || rc=$?
((rc == 2)) || fail "log with a bad level: exit $rc, '$out'"
: >"$sock_dir/$gone.sock"
listing=$(bounded 10 "$TSK_TOOL" stat) || fail "tapsock stat without a pid failed: $listing"
[[ $listing == *"$sock_dir/$pid.sock"* ]] || fail "tapsock stat does not list pid $pid: $listing"
[[ ! -e $sock_dir/$gone.sock ]] || fail "the stale socket of dead pid $gone was not removed"

stop_pid "$pid"
[[ ! -e $sock_dir/$pid.sock ]] || fail "the control socket of pid $pid outlived it"
pass
