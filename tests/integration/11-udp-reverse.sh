#!/usr/bin/env bash
# A shimmed client UDP-echoes 1000 datagrams of 1..1472 bytes off a kernel-side server.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

ns_up
start_bg kernel-server "$TSK_TOOL" ns exec "$NS" -- \
	"$TSK_PY" "$TSK_DIR/udp_echo.py" --bind 198.18.0.1 --port 7001 --lifetime 55
wait_line kernel-server '^listening' 10

before=$(rx_frames "$NS" tap0)
log "shimmed UDP client: 1000 datagrams, 1..1472 bytes, to the kernel"
out=$(bounded 45 run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	"$TSK_PY" "$TSK_DIR/udp_echo.py" --client 198.18.0.1 --port 7001 --count 1000 --min 1 --max 1472 2>&1) ||
	fail "shimmed UDP client: $(tail -n 1 <<<"$out")"
[[ $out == "ok 1000"* ]] || fail "shimmed UDP client said: $out"
# Proof the datagrams came through the private stack (a kernel-stack client would use lo).
sent=$(($(rx_frames "$NS" tap0) - before))
((sent >= 1000)) || fail "only $sent frames came out of the stack on tap0 for 1000 datagrams"
alive kernel-server || fail "the kernel-side echo server died"
pass
