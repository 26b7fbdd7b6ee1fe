#!/usr/bin/env bash
# Urgent data between the kernel and a private stack, both ways round: the urgent byte of a
# MSG_OOB send arrives out of band (SIGURG, select's exception set, SIOCATMARK, recv(MSG_OOB)),
# so the two agree on where the urgent pointer points (tests/integration/urgent_peer.py).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

ns_up

log "kernel server on 198.18.0.1, shimmed client on 198.18.0.2 (tap0)"
start_bg kernel-server "$TSK_TOOL" ns exec "$NS" -- \
	"$TSK_PY" -u "$TSK_DIR/urgent_peer.py" --bind 198.18.0.1 --port 7003 --lifetime 20
wait_line kernel-server '^listening' 10
rc=0
out=$(bounded 20 run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	"$TSK_PY" -u "$TSK_DIR/urgent_peer.py" --client 198.18.0.1 --port 7003 2>&1) || rc=$?
((rc == 0)) && [[ $out == *"client ok"* ]] || fail "shimmed client (exit $rc): $(tr '\n' ' ' <<<"$out")"
wait_for 10 "the kernel server's verdict" grep -qE '^(server ok|error)' "$TSK_WORK/kernel-server.log"
grep -q '^server ok' "$TSK_WORK/kernel-server.log" || fail "kernel server: $(tail -n 1 "$TSK_WORK/kernel-server.log")"

log "shimmed server on 198.18.0.2 (tap0), kernel client on 198.18.0.1"
start_bg shim-server run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	"$TSK_PY" -u "$TSK_DIR/urgent_peer.py" --bind 198.18.0.2 --port 7004 --lifetime 20
wait_line shim-server '^listening' 15
rc=0
out=$(bounded 20 "$TSK_TOOL" ns exec "$NS" -- \
	"$TSK_PY" -u "$TSK_DIR/urgent_peer.py" --client 198.18.0.2 --port 7004 2>&1) || rc=$?
((rc == 0)) && [[ $out == *"client ok"* ]] || fail "kernel client (exit $rc): $(tr '\n' ' ' <<<"$out")"
wait_for 10 "the shimmed server's verdict" grep -qE '^(server ok|error)' "$TSK_WORK/shim-server.log"
grep -q '^server ok' "$TSK_WORK/shim-server.log" || fail "shimmed server: $(tail -n 1 "$TSK_WORK/shim-server.log")"
pass
