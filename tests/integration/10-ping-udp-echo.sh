#!/usr/bin/env bash
# The kernel pings a shimmed program's stack, then UDP-echoes 1000 datagrams of 1..1472 bytes off it.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

ns_up
start_bg server run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	"$TSK_PY" "$TSK_DIR/udp_echo.py" --bind 0.0.0.0 --port 7000 --lifetime 55
wait_line server '^listening' 15
wait_carrier "$NS" tap0 10

log "ping from the kernel side"
out=$(bounded 15 "$TSK_TOOL" ns exec "$NS" -- ping -c 20 -i 0.05 -W 1 198.18.0.2 2>&1) || true
got=$(sed -n 's/.* \([0-9][0-9]*\) received.*/\1/p' <<<"$out")
[[ $got == 20 ]] || fail "ping 198.18.0.2: ${got:-no} replies to 20 echo requests: $(tail -n 2 <<<"$out" | tr '\n' ' ')"

log "UDP echo: 1000 datagrams, 1..1472 bytes"
out=$(bounded 45 "$TSK_TOOL" ns exec "$NS" -- "$TSK_PY" "$TSK_DIR/udp_echo.py" \
	--client 198.18.0.2 --port 7000 --count 1000 --min 1 --max 1472 2>&1) ||
	fail "UDP echo from the kernel side: $(tail -n 1 <<<"$out")"
[[ $out == "ok 1000"* ]] || fail "UDP echo client said: $out"
alive server || fail "the shimmed echo server died"
pass
