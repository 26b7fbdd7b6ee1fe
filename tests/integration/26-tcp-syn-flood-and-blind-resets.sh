#!/usr/bin/env bash
# A private stack under attack from the kernel side of its TAP (crafted segments, tcp_inject.py):
#   1. a SYN flood: 10,000 SYNs from 198.18.0.77 (an address the kernel side wears, but whose
#      SYN-ACKs nftables drops, so they stay unanswered) to http.server on 198.18.0.2:8000; the
#      kernel's curl must still download a 10 KiB file exactly (the listener answers with SYN
#      cookies once its SYN queue is full);
#   2. blind in-window attacks (RFC 5961) on a live connection from the kernel to a line echo
#      server on 198.18.0.2:8001: RSTs out of and in the window, random RSTs, ACKs with
#      unacceptable ack numbers, in-window SYNs, injected data; the connection must survive and
#      still echo, and nothing injected may be delivered. An RST with the exact sequence number
#      then must reset it (the control that the crafted segments reach the stack).
# Crafted segments only go to 198.18.0.2, from inside the test's namespace.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps installs it)"
command -v nft >/dev/null || fail "nft is not installed (scripts/install-deps installs it)"

www=$TSK_WORK/www
mkdir -p "$www"
head -c 10240 /dev/urandom >"$www/blob"
want=$(sha256sum <"$www/blob" | cut -d' ' -f1)
inject=$TSK_DIR/tcp_inject.py
flood_src=198.18.0.77
syns=10000

ns_up
# The stack's counters when the server exits (2 s after its echo connection ends).
export TAPSOCK_STATS=exit
# With TSK_KEEP=1, the stack's capture of every frame, for the reader of a failure.
pcap=()
[[ -z ${TSK_KEEP:-} ]] || pcap=(--pcap "$TSK_WORK/shim-srv.pcap")
start_bg shim-srv run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 "${pcap[@]}" -- \
	"$TSK_PY" -u "$inject" serve --www "$www" --http-port 8000 --echo-port 8001 --lifetime 50
wait_line shim-srv '^serving ' 15
wait_carrier "$NS" tap0 10

# Room for the whole flood in the TAP's queue towards the stack (default 1000 frames): every SYN
# should reach the stack, not just those it reads in time.
ip -n "$NS" link set tap0 txqueuelen "$syns"
# The flood's source: the kernel answers the stack's ARP for it, but never sees its SYN-ACKs (no
# RST from the kernel would free the stack's half-open connections).
ip -n "$NS" addr add "$flood_src/32" dev tap0
ip netns exec "$NS" nft -f - <<EOF || fail "nft rejected the drop rule"
table inet tsk_flood {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr $flood_src tcp flags & (syn | ack) == syn | ack counter drop
  }
}
EOF

start_bg watch "$TSK_TOOL" ns exec "$NS" -- "$TSK_PY" -u "$inject" watch --dev tap0 --seconds 45
wait_line watch '^watching' 5

tx_dropped() { ip netns exec "$NS" cat /sys/class/net/tap0/statistics/tx_dropped; }
drops_before=$(tx_dropped)
log "flood: $syns SYNs from $flood_src to 198.18.0.2:8000"
rc=0
out=$(bounded 20 "$TSK_TOOL" ns exec "$NS" -- "$TSK_PY" "$inject" flood --dev tap0 --src "$flood_src" \
	--port 8000 --count "$syns" 2>&1) || rc=$?
((rc == 0)) || fail "the flood failed ($rc): $(tr '\n' ' ' <<<"$out")"
log "$out (tap0 dropped $(($(tx_dropped) - drops_before)) frames on the way to the stack)"

log "the kernel's curl fetches 10 KiB from 198.18.0.2:8000 right after the flood"
rc=0
out=$(bounded 12 "$TSK_TOOL" ns exec "$NS" -- curl -sS --max-time 10 --interface 198.18.0.1 \
	-o "$TSK_WORK/got" -w '%{http_code} %{size_download} %{time_connect} %{time_total}\n' \
	http://198.18.0.2:8000/blob 2>&1) || rc=$?
read -r code size tconn secs <<<"$(tail -n 1 <<<"$out")" || true
((rc == 0)) || fail "curl after the flood exited $rc: $(tr '\n' ' ' <<<"$out")"
[[ $code == 200 ]] || fail "curl after the flood: HTTP ${code:-?}: $out"
got=$(sha256sum <"$TSK_WORK/got" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "sha256 differs after the flood: got $size bytes with $got, want $want"
log "curl: HTTP 200, $size bytes, sha256 ok, connected in $tconn s, done in $secs s"

# What the stack answered, as seen on tap0.
kill -INT "$(pid_of watch)"
wait "$(pid_of watch)" || true
grep -E '^(synacks|rsts) ' "$TSK_WORK/watch.log" | sed 's/^/    /' >&2 || true
dropped=$(ip netns exec "$NS" nft list table inet tsk_flood | grep -o 'packets [0-9]*' | cut -d' ' -f2)
log "nftables dropped $dropped SYN-ACKs to $flood_src"
read -r flood_synacks flood_cookies <<<"$(sed -nE "s/^synacks to $flood_src: ([0-9]+) .* cookies ([0-9]+),.*/\1 \2/p" "$TSK_WORK/watch.log")" || true
((${flood_synacks:-0} >= 1000)) || fail "the stack answered only ${flood_synacks:-0} of $syns flood SYNs"
((${flood_cookies:-0} > 0)) || fail "the flood never filled the SYN queue: no SYN cookie among ${flood_synacks} SYN-ACKs"
read -r curl_synacks curl_cookies <<<"$(sed -nE 's/^synacks to 198\.18\.0\.1: ([0-9]+) .* cookies ([0-9]+),.*/\1 \2/p' "$TSK_WORK/watch.log")" || true
log "curl's SYN got ${curl_synacks:-no} SYN-ACK(s), ${curl_cookies:-0} of them SYN cookies"

log "blind in-window attacks on a connection to the echo server (198.18.0.2:8001)"
rc=0
t0=$(date +%s.%N)
out=$(bounded 25 "$TSK_TOOL" ns exec "$NS" -- "$TSK_PY" "$inject" blind --dev tap0 --port 8001 2>&1) || rc=$?
t1=$(date +%s.%N)
mapfile -t lines <<<"$out"
printf '    %s\n' "${lines[@]}" >&2
((rc == 0)) || fail "blind attacks: $(grep '^error' <<<"$out" || tail -n 1 <<<"$out")"
log "blind attacks took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

# The server exits 2 s after its echo connection was reset; it prints the stack's counters.
srv=$(pid_of shim-srv)
wait_for 8 "the shimmed server to exit after its echo connection was reset" bash -c "! kill -0 $srv"
rc=0
wait "$srv" || rc=$?
((rc == 0)) || fail "the shimmed server exited $rc"
grep -q '^echo: connection ended (reset by the peer)' "$TSK_WORK/shim-srv.log" ||
	fail "the echo server did not see the control RST: $(grep '^echo: connection ended' "$TSK_WORK/shim-srv.log" || echo 'no end line')"
log "counters of the shimmed server:"
sed -n '/^tapsock counters/,$p' "$TSK_WORK/shim-srv.log" | grep -E '^(Tcp|Arp|LinkRxDropped)' | sed 's/^/    /' >&2
pass
