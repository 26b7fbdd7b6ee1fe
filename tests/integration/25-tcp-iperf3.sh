#!/usr/bin/env bash
# iperf3 over TCP between a private stack (198.18.0.2 on tap0) and the kernel (198.18.0.1), 3 s each:
#   1. iperf3 server on the stack, the kernel's client sends to it;
#   2. the kernel's iperf3 server, a client on the stack sends to it;
#   3. iperf3 server on the stack, the kernel's client with -R: the stack's server sends.
# Each run must exit 0 and report nonzero throughput; the figures are printed.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib
command -v iperf3 >/dev/null || fail "iperf3 is not installed (scripts/install-deps installs it)"

shim_opts=(--tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1)
ns_up

# Mbit/s sent and received from iperf3 -J output (file $1); fails on an error or a zero figure.
figures() {
	"$TSK_PY" - "$1" <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as f:
        j = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"no JSON from iperf3: {e}")
if j.get("error"):
    sys.exit(f"iperf3 error: {j['error']}")
end = j.get("end", {})
sent = end.get("sum_sent", {}).get("bits_per_second", 0) / 1e6
recv = end.get("sum_received", {}).get("bits_per_second", 0) / 1e6
retr = end.get("sum_sent", {}).get("retransmits", "?")
nbytes = end.get("sum_received", {}).get("bytes", 0)
if not (sent > 0 and recv > 0 and nbytes > 0):
    sys.exit(f"zero throughput: sent {sent:.1f} Mbit/s, received {recv:.1f} Mbit/s, {nbytes} bytes")
print(f"sender {sent:.1f} Mbit/s, receiver {recv:.1f} Mbit/s ({nbytes} bytes received, {retr} retransmits)")
PY
}

# One run: $1 name, $2 "shim" or "kernel" (where the server runs), $3 server address, then client args.
run() {
	local name=$1 where=$2 addr=$3 rc=0 line
	shift 3
	if [[ $where == shim ]]; then
		start_bg "$name-server" run_shim --ns "$NS" "${shim_opts[@]}" -- \
			timeout 30 iperf3 -s -1 -B "$addr" -p 5201 --forceflush
		wait_line "$name-server" 'Server listening' 15
		wait_carrier "$NS" tap0 10
		bounded 25 "$TSK_TOOL" ns exec "$NS" -- iperf3 -c "$addr" -p 5201 -J "$@" \
			>"$TSK_WORK/$name.json" 2>"$TSK_WORK/$name.err" || rc=$?
	else
		start_bg "$name-server" "$TSK_TOOL" ns exec "$NS" -- \
			timeout 30 iperf3 -s -1 -B "$addr" -p 5201 --forceflush
		wait_line "$name-server" 'Server listening' 10
		bounded 25 run_shim --ns "$NS" "${shim_opts[@]}" -- iperf3 -c "$addr" -p 5201 -J "$@" \
			>"$TSK_WORK/$name.json" 2>"$TSK_WORK/$name.err" || rc=$?
	fi
	line=$(figures "$TSK_WORK/$name.json" 2>&1) ||
		fail "$name: iperf3 client exited $rc: $line $(tr '\n' ' ' <"$TSK_WORK/$name.err")"
	((rc == 0)) || fail "$name: iperf3 client exited $rc ($line) $(tr '\n' ' ' <"$TSK_WORK/$name.err")"
	# The one-off server ends by itself after its test.
	local pid i
	pid=$(pid_of "$name-server")
	for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rc=0
	kill -0 "$pid" 2>/dev/null && fail "$name: the iperf3 server did not end after its one test"
	wait "$pid" || rc=$?
	((rc == 0)) || fail "$name: the iperf3 server exited $rc: $(tail -n 3 "$TSK_WORK/$name-server.log" | tr '\n' ' ')"
	log "$name: $line"
}

before=$(rx_frames "$NS" tap0)
run kernel-client-sends-to-shim-server shim 198.18.0.2 -t 3
run shim-client-sends-to-kernel-server kernel 198.18.0.1 -t 3
run kernel-client-R-shim-server-sends shim 198.18.0.2 -t 3 -R
sent=$(($(rx_frames "$NS" tap0) - before))
((sent >= 1000)) || fail "only $sent frames came out of the stack on tap0 in three iperf3 runs"
pass
