# shellcheck shell=bash
# Shared by the TCP-through-an-impaired-link tests (24, 29), sourced after lib.sh. At the same time:
#   - curl on a private stack (198.18.0.3, tap1) fetches SIZE MiB from the kernel's http.server;
#   - the kernel's curl fetches SIZE MiB from http.server on a private stack (198.18.0.2, tap0).
# Both files must arrive exactly (sha256). The shimmed processes see $TAPSOCK_FAULTS if set.
# Usage: both_ways SIZE_MIB [ns_up options]      (the namespace has two TAPs on a bridge)

# Fails, after stopping the shimmed server with SIGINT so that it prints its counters.
fail_with_counters() {
	local pid i
	pid=$(pid_of shim-http)
	kill -INT "$pid" 2>/dev/null || true
	for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	log "counters of the shimmed http.server (the sender for kernel-curl):"
	sed -n '/^tapsock counters/,$p' "$TSK_WORK/shim-http.log" | sed 's/^/    /' >&2
	log "counters of the shimmed curl (the receiver for shim-curl):"
	sed -n '/^tapsock counters/,$p' "$TSK_WORK/shim-curl.log" | sed 's/^/    /' >&2
	fail "$@"
}

# Checks one download; prints its summary line.
check_download() {
	local who=$1 pid=$2 file=$3 rc=0 code size speed secs got_bytes got
	wait "$pid" || rc=$?
	read -r code size speed secs <<<"$(grep -E '^[0-9]{3} ' "$TSK_WORK/$who.log" | tail -n 1)" || true
	got_bytes=$(stat -c %s "$file" 2>/dev/null || echo 0)
	((rc == 0)) || fail_with_counters "$who exited $rc after $got_bytes of $((BW_SIZE_MIB << 20)) bytes: $(sed '/^tapsock counters/,$d' "$TSK_WORK/$who.log" | tr '\n' ' ')"
	[[ $code == 200 ]] || fail_with_counters "$who: HTTP ${code:-?}: $(cat "$TSK_WORK/$who.log")"
	got=$(sha256sum <"$file" | cut -d' ' -f1)
	[[ $got == "$BW_WANT" ]] || fail_with_counters "$who: sha256 differs: got $got_bytes bytes with $got, want $BW_WANT"
	log "$who: $size bytes in $secs s, $(awk -v s="$speed" 'BEGIN { printf "%.1f", s * 8 / 1e6 }') Mbit/s"
}

both_ways() {
	BW_SIZE_MIB=$1
	shift
	local www=$TSK_WORK/www before sent
	mkdir -p "$www"
	head -c "$((BW_SIZE_MIB << 20))" /dev/urandom >"$www/blob"
	BW_WANT=$(sha256sum <"$www/blob" | cut -d' ' -f1)
	ns_up --taps 2 "$@"
	# Counters of the shimmed programs when they exit normally (curl does; the server is stopped
	# with SIGINT on a failure), and with TSK_KEEP=1 the server's capture, for the reader.
	export TAPSOCK_STATS=exit
	local -a pcap=()
	[[ -z ${TSK_KEEP:-} ]] || pcap=(--pcap "$TSK_WORK/shim-http.pcap")
	start_bg kernel-http "$TSK_TOOL" ns exec "$NS" -- \
		timeout 55 "$TSK_PY" -u -m http.server 8080 --bind 198.18.0.1 --directory "$www"
	start_bg shim-http run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 "${pcap[@]}" -- \
		timeout 55 "$TSK_PY" -u -m http.server 8080 --bind 198.18.0.2 --directory "$www"
	wait_line kernel-http '^Serving HTTP' 10
	wait_line shim-http '^Serving HTTP' 15
	wait_carrier "$NS" tap0 10

	local -a curl_opts=(-sS --max-time 50 -w '%{http_code} %{size_download} %{speed_download} %{time_total}\n')
	before=$(rx_frames "$NS" tap1)
	log "both ways at once, $BW_SIZE_MIB MiB each${TAPSOCK_FAULTS:+, stack faults $TAPSOCK_FAULTS}"
	start_bg shim-curl run_shim --ns "$NS" --tap tap1 --addr 198.18.0.3/24 --gw 198.18.0.1 -- \
		"${SHIM_FETCH[@]}" --max-time 50 -o "$TSK_WORK/got-by-shim" http://198.18.0.1:8080/blob
	local shim_curl=$LAST_PID
	start_bg kernel-curl "$TSK_TOOL" ns exec "$NS" -- \
		curl "${curl_opts[@]}" -o "$TSK_WORK/got-by-kernel" http://198.18.0.2:8080/blob
	local kernel_curl=$LAST_PID
	check_download shim-curl "$shim_curl" "$TSK_WORK/got-by-shim"
	check_download kernel-curl "$kernel_curl" "$TSK_WORK/got-by-kernel"

	sent=$(($(rx_frames "$NS" tap1) - before))
	((sent >= 200)) || fail "only $sent frames came out of the shimmed curl's stack on tap1 for a $BW_SIZE_MIB MiB download"
	alive shim-http || fail "the shimmed http.server died"
}
