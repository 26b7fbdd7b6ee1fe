#!/usr/bin/env bash
# TCP between two private stacks on one bridge (no kernel stack in the path): a shimmed client on
# tap1 sends 100 MiB of seeded pseudo-random bytes to a shimmed sink on tap0, which answers with
# their sha256; the client checks it.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

size=$((100 << 20))
ns_up --taps 2
start_bg server run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	"$TSK_PY" "$TSK_DIR/tcp_sink.py" --bind 0.0.0.0 --port 7002 --lifetime 55
wait_line server '^listening' 15
wait_carrier "$NS" tap0 10

before=$(rx_frames "$NS" tap1)
log "shimmed client on tap1 (198.18.0.3) sends $size bytes to the shimmed sink on tap0 (198.18.0.2)"
rc=0
out=$(bounded 50 run_shim --ns "$NS" --tap tap1 --addr 198.18.0.3/24 --gw 198.18.0.1 -- \
	"$TSK_PY" "$TSK_DIR/tcp_sink.py" --client 198.18.0.2 --port 7002 --bytes "$size" --timeout 45 2>&1) || rc=$?
((rc == 0)) || fail "shimmed client on tap1 (exit $rc): $(tail -n 2 <<<"$out" | tr '\n' ' ')"
[[ $out == "ok $size bytes"* ]] || fail "shimmed client said: $out"
wait_line server '^received' 5
grep -q "^received $size bytes" "$TSK_WORK/server.log" || fail "the sink says: $(grep '^received' "$TSK_WORK/server.log")"
sent=$(($(rx_frames "$NS" tap1) - before))
((sent >= 10000)) || fail "only $sent frames came out of the client's stack on tap1 for $size bytes"
log "client: $out ($sent frames out of tap1)"
pass
