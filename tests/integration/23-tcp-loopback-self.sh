#!/usr/bin/env bash
# Without TAPSOCK_TAP, TCP over the stack's own loopback: one shimmed python3 process sends 20 MiB
# to itself over 127.0.0.1 (a server thread and the client), and the digest must match. The
# namespace's kernel loopback is down, so only the private stack can pass (checked by running the
# same script natively first).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

size=$((20 << 20))
ns_up
ip -n "$NS" link set lo down
ip -n "$NS" link set tap0 down

native=$(bounded 20 "$TSK_TOOL" ns exec "$NS" -- \
	"$TSK_PY" "$TSK_DIR/tcp_sink.py" --loopback 127.0.0.1 --bytes "$size" --timeout 2 2>&1) || true
[[ $native != ok* ]] || fail "setup: the script passes on the kernel stack too, so it proves nothing"
log "natively, as intended, it fails: $native"

rc=0
out=$(bounded 45 run_shim --ns "$NS" -- \
	"$TSK_PY" "$TSK_DIR/tcp_sink.py" --loopback 127.0.0.1 --bytes "$size" --timeout 40 2>&1) || rc=$?
((rc == 0)) || fail "under the shim (exit $rc): $(tail -n 2 <<<"$out" | tr '\n' ' ')"
[[ $out == "ok $size bytes"* ]] || fail "under the shim the script said: $out"
log "under the shim: $out"
pass
