#!/usr/bin/env bash
# Two userspace stacks on one bridge (ARP between them, no kernel stack in the path): a shimmed
# client on tap1 UDP-echoes 200 datagrams off a shimmed server on tap0.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

ns_up --taps 2
start_bg server run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	"$TSK_PY" "$TSK_DIR/udp_echo.py" --bind 0.0.0.0 --port 7000 --lifetime 55
wait_line server '^listening' 15
wait_carrier "$NS" tap0 10

before=$(rx_frames "$NS" tap1)
log "shimmed client on tap1 (198.18.0.3) to shimmed server on tap0 (198.18.0.2)"
out=$(bounded 40 run_shim --ns "$NS" --tap tap1 --addr 198.18.0.3/24 --gw 198.18.0.1 -- \
	"$TSK_PY" "$TSK_DIR/udp_echo.py" --client 198.18.0.2 --port 7000 --count 200 --min 1 --max 1472 2>&1) ||
	fail "shimmed UDP client on tap1: $(tail -n 1 <<<"$out")"
[[ $out == "ok 200"* ]] || fail "shimmed UDP client said: $out"
sent=$(($(rx_frames "$NS" tap1) - before))
((sent >= 200)) || fail "only $sent frames came out of the client's stack on tap1 for 200 datagrams"
alive server || fail "the shimmed echo server died"
pass
