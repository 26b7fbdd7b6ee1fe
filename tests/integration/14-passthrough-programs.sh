#!/usr/bin/env bash
# Programs that open no AF_INET/AF_INET6 socket behave exactly as without the shim (stdout,
# stderr, exit status), and the shim never opens the TAP for them: tap0 keeps NO-CARRIER.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

ns_up
shim_opts=(--ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1)

# Runs one command natively and under the shim, in the same namespace, and compares.
same() {
	local nout nerr nrc sout serr src
	nrc=0
	bounded 15 "$TSK_TOOL" ns exec "$NS" -- "$@" >"$TSK_WORK/n.out" 2>"$TSK_WORK/n.err" || nrc=$?
	src=0
	bounded 15 run_shim "${shim_opts[@]}" -- "$@" >"$TSK_WORK/s.out" 2>"$TSK_WORK/s.err" || src=$?
	nout=$(cat "$TSK_WORK/n.out") sout=$(cat "$TSK_WORK/s.out")
	nerr=$(cat "$TSK_WORK/n.err") serr=$(cat "$TSK_WORK/s.err")
	[[ $src == "$nrc" ]] || fail "'$*': exit status $src under the shim, $nrc without (stderr: $serr)"
	[[ $sout == "$nout" ]] || fail "'$*': stdout differs under the shim: $(diff <(echo "$nout") <(echo "$sout") | head -n 4 | tr '\n' ' ')"
	[[ $serr == "$nerr" ]] || fail "'$*': stderr differs under the shim: '$serr' vs '$nerr'"
	has_carrier "$NS" tap0 && fail "'$*': tap0 has carrier afterwards: something attached to it"
	log "same with and without the shim: $*"
}

same ls /
same bash -c 'echo hi'
same "$TSK_PY" -c 'print(1)'
same bash -c 'echo to-stderr >&2; exit 3'

# The shimmed bash looks at the TAP while it runs: still nobody attached.
out=$(bounded 15 run_shim "${shim_opts[@]}" -- bash -c 'ip link show tap0; echo hi' 2>&1) ||
	fail "shimmed bash -c 'ip link show tap0': $out"
grep -q NO-CARRIER <<<"$out" || fail "tap0 had carrier while a shimmed bash ran: $out"
[[ $(tail -n 1 <<<"$out") == hi ]] || fail "shimmed bash printed: $out"
pass
