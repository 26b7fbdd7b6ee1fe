# shellcheck shell=bash
# tests/bench/iperf3.sh: the iperf3 part of tests/bench/run (`tests/bench/run iperf3`), sourced by
# it. The real iperf3 at both ends of each setup, the distribution's binary, under the shim through
# the same `tapsock run` prefix as net_bench: a one-off server `iperf3 -s -1 -B ADDR -p PORT` and a
# client `iperf3 -c ADDR -p PORT -t 10 -J`, one TCP stream each way:
#   up    the client sends
#   down  the server sends (-R)
# The figure is the receiver's, end.sum_received.bits_per_second of the client's JSON; the sender's
# retransmitted segments are end.sum_sent.retransmits, which iperf3 reads from TCP_INFO (the shim
# fills it from its control block). A transfer counts only if the JSON has no "error" and the
# receiver got bytes; one that fails or runs out of time is recorded in FAILURES and the run goes
# on. Every process runs under `timeout` and is stopped by PID (PIDS, so run's cleanup trap covers
# it); the traffic stays in run's namespaces.
#
# Uses what run defines before sourcing this: the prefixes SRV and CLI, PIDS and FAILURES, say,
# stop_pid, forget_pid, fail, end_server_soft, tfield, stack_counter, row; LOGS, ROOT, TNS.
# Logs per setup and direction, NAME = SETUP-iperf3-DIR: NAME-server.log (the server's output, with
# the stack's counters when it is shimmed), NAME-client.json (the client's JSON), NAME-client.log
# (the client's standard error, with the stack's counters when it is shimmed) and NAME.log, the one
# JSON line the tables read (iperf3_summary).

IPERF_SECS=10
PORT_IPERF_UP=7201 PORT_IPERF_DOWN=7202
IPERF_PY=/usr/bin/python3
[[ -x $IPERF_PY ]] || IPERF_PY=python3

# iperf3_summary JSON_FILE CLIENT_STATUS: one line of JSON from iperf3's -J output, the receiver's
# figures when the transfer completed ("mbit_s" present), "error" when it did not.
iperf3_summary() {
	"$IPERF_PY" - "$1" "$2" <<'PY'
import json, sys

path, status = sys.argv[1], int(sys.argv[2])
out = {}
try:
    with open(path) as f:
        doc = json.load(f)
except (OSError, ValueError) as e:
    doc = None
    out["error"] = f"no JSON from iperf3 ({type(e).__name__})"
if doc is not None:
    end = doc.get("end", {})
    received, sent = end.get("sum_received", {}), end.get("sum_sent", {})
    cpu = end.get("cpu_utilization_percent", {})
    nbytes = received.get("bytes", 0)
    if doc.get("error"):
        out["error"] = doc["error"]
    elif status != 0:
        out["error"] = f"client exit status {status}"
    elif not nbytes > 0:
        out["error"] = "the receiver got no bytes"
    else:
        out["mbit_s"] = round(received.get("bits_per_second", 0) / 1e6, 1)
        out["bytes"] = nbytes
        out["seconds"] = round(received.get("seconds", 0), 2)
        out["sender_mbit_s"] = round(sent.get("bits_per_second", 0) / 1e6, 1)
        out["retransmits"] = sent.get("retransmits", "n/a")
        out["cpu_client"] = round(cpu.get("host_total", 0), 1)
        out["cpu_server"] = round(cpu.get("remote_total", 0), 1)
print(json.dumps(out, separators=(",", ":")))
PY
}

# Whether the stack has attached to tap0 (the kernel side has carrier), so a kernel client's SYN is
# not sent into a detached TAP.
tap_attached() {
	[[ $(ip netns exec "$TNS" cat /sys/class/net/tap0/carrier 2>/dev/null) == 1 ]]
}

# start_iperf3_server NAME ADDR PORT SHIMMED: a one-off iperf3 server (prefix $SRV) in the
# background under a time limit; waits (5 s at most) until it listens and, when SHIMMED is 1, until the stack
# has attached to the TAP. PID in $SERVER_PID. One that does not come up is stopped, recorded in
# FAILURES, and the function returns 1.
start_iperf3_server() {
	local name=$1 addr=$2 port=$3 shimmed=$4 i
	local -a prefix=("${SRV[@]}")
	say "  start $name: ${prefix[*]/#$ROOT\//} iperf3 -s -1 -B $addr -p $port"
	: >"$LOGS/$name.log" # exists before the process does
	# --forceflush: the "Server listening" line reaches the log at once.
	timeout --foreground -k 2 $((IPERF_SECS + 30)) "${prefix[@]}" iperf3 -s -1 -B "$addr" -p "$port" \
		--forceflush </dev/null >"$LOGS/$name.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	for ((i = 0; i < 100; i++)); do
		if grep -q 'Server listening' "$LOGS/$name.log" && { ((shimmed == 0)) || tap_attached; }; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	stop_pid "$SERVER_PID"
	forget_pid "$SERVER_PID"
	local last
	last=$(tail -n 2 "$LOGS/$name.log" | tr '\n' ' ')
	FAILURES+=("$name ($LOGS/$name.log): not listening after 5 s; last output: $last")
	say "  FAILED: ${FAILURES[-1]}"
	return 1
}

# run_iperf3_client NAME ADDR PORT [ARGS...]: the client (prefix $CLI) under a time limit, then its
# summary line into NAME.log. Returns 0 only if the transfer completed.
run_iperf3_client() {
	local name=$1 addr=$2 port=$3 secs=$((IPERF_SECS + 15)) pid rc=0
	shift 3
	local -a prefix=("${CLI[@]}")
	say "  run   $name-client: ${prefix[*]/#$ROOT\//} iperf3 -c $addr -p $port -t $IPERF_SECS -J $*"
	timeout --foreground -k 2 "$secs" "${prefix[@]}" iperf3 -c "$addr" -p "$port" -t "$IPERF_SECS" -J "$@" \
		</dev/null >"$LOGS/$name-client.json" 2>"$LOGS/$name-client.log" &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	forget_pid "$pid"
	iperf3_summary "$LOGS/$name-client.json" "$rc" >"$LOGS/$name.log" 2>&1 || true
	if ((rc != 0)); then
		fail "$name" "$rc" "$secs"
		return 1
	fi
	if [[ $(tfield "$name" mbit_s) == failed ]]; then
		FAILURES+=("$name ($LOGS/$name-client.json): did not complete: $(tfield "$name" error)")
		say "  FAILED: ${FAILURES[-1]}"
		return 1
	fi
}

# measure_iperf3 SETUP SERVER_ADDR: both directions of one setup (prefixes in SRV and CLI).
measure_iperf3() {
	local setup=$1 addr=$2 dir name port rc shimmed=0
	[[ $setup == server ]] && shimmed=1
	for dir in up down; do
		name=$setup-iperf3-$dir port=$PORT_IPERF_UP
		local -a args=()
		[[ $dir == down ]] && port=$PORT_IPERF_DOWN args=(-R)
		say "$setup: iperf3, $([[ $dir == up ]] && echo client || echo server) sends for $IPERF_SECS s"
		if ! start_iperf3_server "$name-server" "$addr" "$port" "$shimmed"; then
			echo '{"error":"the server did not start"}' >"$LOGS/$name.log"
			continue
		fi
		rc=0
		run_iperf3_client "$name" "$addr" "$port" "${args[@]}" || rc=1
		end_server_soft "$name-server" $rc
		say "  $(cat "$LOGS/$name.log")"
	done
}

# iperf3_row LABEL SETUP DIR: one transfer in detail.
iperf3_row() {
	local label=$1 setup=$2 dir=$3 name=$2-iperf3-$3 stack_log="" completed gb retr_stack="-" dropped="-"
	case $setup in
	server) stack_log=$name-server ;;
	client) stack_log=$name-client ;;
	esac
	if [[ -n $stack_log && -f $LOGS/$stack_log.log ]]; then
		retr_stack=$(stack_counter "$stack_log" TcpRetransSegs)
		dropped=$(stack_counter "$stack_log" LinkTxDropped)
	fi
	completed=yes
	[[ $(tfield "$name" mbit_s) == failed ]] && completed="NO: $(tfield "$name" error)"
	gb=$(awk -v b="$(tfield "$name" bytes)" 'BEGIN { if (b ~ /^[0-9]+$/) printf "%.2f", b / 1e9; else printf "n/a" }')
	printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$label" "$(tfield "$name" mbit_s)" "$gb" \
		"$completed" "$(tfield "$name" retransmits)" "$retr_stack" "$dropped" \
		"$(tfield "$name" cpu_client)" "$(tfield "$name" cpu_server)"
}

# The iperf3 section of results.md.
iperf3_tables() {
	echo
	echo "### iperf3"
	echo
	echo "| | kernel veth | tapsock server | tapsock client | server/kernel | client/kernel |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	row "iperf3 Mbit/s, client sends" mbit_s iperf3-up tfield
	row "iperf3 Mbit/s, server sends (-R)" mbit_s iperf3-down tfield
	echo
	echo "iperf3 $(iperf3 --version 2>/dev/null | awk 'NR == 1 { print $2 }'), one TCP stream for $IPERF_SECS s each way: the receiver's rate and volume"
	echo "(end.sum_received of the client's JSON); whether the transfer completed (no \"error\", bytes"
	echo "received); the sender's retransmitted segments by its TCP_INFO (end.sum_sent.retransmits; the"
	echo "shim fills TCP_INFO from its control block); the stack's own TcpRetransSegs and LinkTxDropped"
	echo "(frames the TAP link dropped) from the shimmed process's exit dump; iperf3's CPU % of each end."
	echo
	echo "| transfer | Mbit/s | GB | completed | retransmits (TCP_INFO) | stack TcpRetransSegs | stack LinkTxDropped | CPU % client / server |"
	echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"
	iperf3_row "kernel veth, client sends" kernel up
	iperf3_row "kernel veth, server sends (-R)" kernel down
	iperf3_row "tapsock to kernel (tapsock client sends)" client up
	iperf3_row "tapsock to kernel (tapsock server sends, -R)" server down
	iperf3_row "kernel to tapsock (kernel client sends to tapsock server)" server up
	iperf3_row "kernel to tapsock (kernel server sends to tapsock client, -R)" client down
}
