#!/usr/bin/env bash
# Two private stacks, each with its own seeded faults (2% drop and 5% reordering of its frames both
# ways): curl on tap1 (198.18.0.3) fetches 100 MiB from python's http.server on tap0 (198.18.0.2),
# byte-exact. Then the iperf3 burst that once stalled TCP between two stacks for good (issue 10):
# shimmed client to shimmed server, 16 MiB, three times, each done well within its time limit.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps installs it)"
command -v iperf3 >/dev/null || fail "iperf3 is not installed (scripts/install-deps installs it)"

www=$TSK_WORK/www
mkdir -p "$www"
head -c $((100 << 20)) /dev/urandom >"$www/blob"
want=$(sha256sum <"$www/blob" | cut -d' ' -f1)
ns_up --taps 2
export TAPSOCK_STATS=exit
TAPSOCK_FAULTS=drop=2%,reorder=5%,seed=32 start_bg shim-http run_shim --ns "$NS" --tap tap0 \
	--addr 198.18.0.2/24 -- timeout 55 "$TSK_PY" -u -m http.server 8080 --bind 198.18.0.2 --directory "$www"
wait_line shim-http '^Serving HTTP' 15
wait_carrier "$NS" tap0 10
log "shimmed curl fetches 100 MiB from the shimmed http.server, both stacks dropping 2% and reordering 5%"
rc=0
out=$(TAPSOCK_FAULTS=drop=2%,reorder=5%,seed=33 bounded 45 run_shim --ns "$NS" --tap tap1 --addr 198.18.0.3/24 -- \
	curl -sS --max-time 40 -o "$TSK_WORK/got" -w '%{http_code} %{size_download} %{time_total}\n' \
	http://198.18.0.2:8080/blob 2>&1) || rc=$?
((rc == 0)) || fail "curl exited $rc: $(tr '\n' ' ' <<<"$out")"
read -r code size secs <<<"$(grep -E '^[0-9]{3} ' <<<"$out" | tail -n 1)"
[[ $code == 200 ]] || fail "HTTP ${code:-?}: $out"
[[ $(sha256sum <"$TSK_WORK/got" | cut -d' ' -f1) == "$want" ]] || fail "sha256 differs ($size bytes)"
for counter in FaultRxDropped FaultRxReordered FaultTxDropped; do
	n=$(awk -v c="$counter" '$1 == c { print $2 }' <<<"$out")
	((${n:-0} > 0)) || fail "the shimmed curl counted no $counter"
done
log "curl: $size bytes in $secs s, sha256 ok; $(grep -E '^(FaultRxDropped|FaultTxDropped|TcpExtTCPTimeouts) ' <<<"$out" | tr -s ' ' | tr '\n' ' ')"
stop_pid "$(pid_of shim-http)"

for run in 1 2 3; do
	port=$((5210 + run))
	start_bg "iperf-s$run" run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 -- \
		timeout 20 iperf3 -s -1 --forceflush -B 198.18.0.2 -p "$port"
	wait_line "iperf-s$run" 'Server listening' 15
	rc=0
	out=$(bounded 15 run_shim --ns "$NS" --tap tap1 --addr 198.18.0.3/24 -- \
		iperf3 -c 198.18.0.2 -p "$port" -n 16M 2>&1) || rc=$?
	((rc == 0)) || fail "iperf3 run $run exited $rc: $(grep -E 'sender|error' <<<"$out" | tr '\n' ' ')"
	line=$(grep -E ' sender$' <<<"$out" | tr -s ' ')
	[[ $line == *"16.0 MBytes"* ]] || fail "iperf3 run $run: $line"
	log "iperf3 run $run: $line"
	stop_pid "$(pid_of "iperf-s$run")"  # iperf3 -s -1 has ended by itself, or ends now
done
pass
