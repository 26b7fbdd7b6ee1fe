# shellcheck shell=bash
# The real-program matrix's row runner, sourced by tests/integration/4*-matrix-*.sh after lib.sh
# (the rows themselves are in matrix/rows.sh).
#
#   mx_need PROG...          FAIL unless root, the library and every PROG are there
#   mx_setup                 one namespace for every row: two TAPs on a bridge and the kernel-side
#                            services (echo, discard, web serving $MX_WWW: `ns up --services`)
#   row ID TEXT PROGS FUNC ARGS...
#                            one row: FUNC ARGS run the programs and check the bytes; PROGS are the
#                            programs the row runs under the shim (for the sanitizer skip). Prints
#                            "matrix: TEXT ..... VERDICT"
#   mx_finish                checks the expected-failure table against what ran; pass or fail
#
# The expected-failure table ($MX_XFAIL, set by the test before mx_setup) is one row per line:
# "ROW-ID  reason". A listed row that fails is an expected failure; one that passes fails the test
# until it is taken off the list.
#
# Inside a row function (which runs with errexit off: test every step, then `why MSG || return`):
#   on SIDE CMD...           CMD bounded in time ($MX_CMD_SECS) as the side's program: k = the
#                            kernel in the namespace (198.18.0.1), s0 = the shim on tap0
#                            (198.18.0.2), s1 = the shim on tap1 (198.18.0.3)
#   srv NAME [--in F] [--out F] SIDE CMD...
#                            a server for this row, stopped by PID when the row ends; log (and
#                            stdout unless --out) in $ROW_DIR/NAME.log
#   ready NAME PATTERN       waits for server NAME to print PATTERN
#   srv_end NAME             waits for server NAME to end by itself; its exit status
#   same GOT WANT WHAT       GOT and WANT are the same bytes (else why, with sizes and digests)
#   feed FILE WATCH WANT [FIRST]
#                            FILE to stdout, then holds stdout open until file WATCH has WANT bytes;
#                            with FIRST, only FIRST bytes until WATCH has FIRST bytes, then the rest
#   addr SIDE                the side's IPv4 address
# Row files go to $ROW_DIR ($TSK_WORK/rows/ID).

# shellcheck disable=SC2034 # MX_DIR and MX_SVC_DIR are for the tests
MX_DIR=$TSK_DIR/matrix
MX_K=198.18.0.1
MX_A=198.18.0.2
MX_B=198.18.0.3
MX_CMD_SECS=${MX_CMD_SECS:-20}
MX_WWW=$TSK_WORK/www
MX_START=$SECONDS
MX_PASS=0 MX_XFAILED=0 MX_SKIP=0 MX_FAILED=0
declare -A MX_REASON=() MX_RAN=() MX_PRELOAD_OK=() ROW_SRV=()
ROW_PIDS=()
ROW_DIR=""
ROW_WHY=""

mx_need() {
	need_root
	need_lib
	local prog
	for prog in "$@"; do
		command -v "$prog" >/dev/null || fail "$prog is not installed (scripts/install-deps installs it)"
	done
}

mx_setup() {
	local id reason
	while read -r id reason; do
		[[ -z $id || $id == \#* ]] && continue
		MX_REASON[$id]=$reason
	done <<<"${MX_XFAIL:-}"
	mkdir -p "$MX_WWW" "$TSK_WORK/rows"
	# 2 MiB of fresh random bytes for every TCP row, 64 KiB for the UDP streams, and a
	# datagram-sized text for ncat -u (one read of stdin is one datagram).
	head -c $((2 << 20)) /dev/urandom >"$MX_WWW/blob"
	head -c $((64 << 10)) /dev/urandom >"$TSK_WORK/small"
	head -c 600 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TSK_WORK/dgram"
	head -c 700 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TSK_WORK/dgram2"
	ns_up --taps 2 --services echo,discard,web --web-root "$MX_WWW"
	MX_SVC_DIR=/tmp/tapsock-ns-$NS
	# Fixed MACs: every row's shimmed program is a new stack on the same TAP, and the kernel's
	# neighbour cache must not keep the previous one's random MAC.
	MX_S0=(run_shim --ns "$NS" --tap tap0 --addr "$MX_A/24" --gw "$MX_K" --mac 02:00:00:00:00:02 --)
	MX_S1=(run_shim --ns "$NS" --tap tap1 --addr "$MX_B/24" --gw "$MX_K" --mac 02:00:00:00:00:03 --)
	MX_KX=("$TSK_TOOL" ns exec "$NS" --)
}

addr() {
	case $1 in
	k) echo "$MX_K" ;;
	s0) echo "$MX_A" ;;
	s1) echo "$MX_B" ;;
	*) echo "bad side $1" >&2; return 1 ;;
	esac
}

# The command prefix for SIDE in MX_SIDE.
side_cmd() {
	case $1 in
	k) MX_SIDE=("${MX_KX[@]}") ;;
	s0) MX_SIDE=("${MX_S0[@]}") ;;
	s1) MX_SIDE=("${MX_S1[@]}") ;;
	*) echo "bad side $1" >&2; return 1 ;;
	esac
}

why() {
	ROW_WHY=$*
	return 1
}

on() {
	local side=$1
	shift
	side_cmd "$side" || return
	bounded "$MX_CMD_SECS" "${MX_SIDE[@]}" "$@"
}

srv() {
	local name=$1 in=/dev/null out=""
	shift
	while :; do
		case $1 in
		--in) in=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		*) break ;;
		esac
	done
	local side=$1
	shift
	side_cmd "$side" || return
	tsk_expand "${MX_SIDE[@]}" timeout "$((MX_CMD_SECS + 5))" "$@"
	local log=$ROW_DIR/$name.log
	if [[ -n $out ]]; then
		"${TSK_CMD[@]}" <"$in" >"$out" 2>"$log" &
	else
		"${TSK_CMD[@]}" <"$in" >"$log" 2>&1 &
	fi
	ROW_SRV[$name]=$!
	ROW_PIDS+=("$!")
	TSK_PIDS+=("$!")
}

ready() {
	local name=$1 pattern=$2 pid=${ROW_SRV[$1]} i
	for ((i = 0; i < 150; i++)); do
		grep -qE -- "$pattern" "$ROW_DIR/$name.log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || why "$name exited before it was ready: $(tail -n 2 "$ROW_DIR/$name.log" | tr '\n' ' ')" || return
		sleep 0.1
	done
	why "$name did not print '$pattern' within 15 s"
}

srv_end() {
	local name=$1 pid=${ROW_SRV[$1]} i rc=0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && { why "$name did not end by itself within 10 s"; return; }
	wait "$pid" || rc=$?
	return "$rc"
}

digest() { sha256sum <"$1" | cut -c1-12; }

same() {
	local got=$1 want=$2 what=$3
	cmp -s "$got" "$want" && return 0
	why "$what: got $(stat -c %s "$got" 2>/dev/null || echo 0) bytes (sha256 $(digest "$got" 2>/dev/null)...), want $(stat -c %s "$want") (sha256 $(digest "$want")...)"
}

feed() {
	local file=$1 watch=$2 want=$3 first=${4:-} i
	if [[ -n $first ]]; then
		head -c "$first" "$file"
		for ((i = 0; i < 100; i++)); do
			(($(stat -c %s "$watch" 2>/dev/null || echo 0) >= first)) && break
			sleep 0.05
		done
		tail -c +"$((first + 1))" "$file"
	else
		cat "$file"
	fi
	for ((i = 0; i < 100; i++)); do
		(($(stat -c %s "$watch" 2>/dev/null || echo 0) >= want)) && return 0
		sleep 0.1
	done
}

# Under a preloaded sanitizer runtime, can PROG run at all (even without tapsock)? curl and wget
# print nothing under a preloaded ASan runtime, for one.
preload_ok() {
	local prog=$1 out
	[[ -n ${MX_PRELOAD_OK[$prog]:-} ]] && { [[ ${MX_PRELOAD_OK[$prog]} == yes ]]; return; }
	local -a cmd
	case $prog in
	curl | wget | ncat | iperf3) cmd=("$prog" --version) ;;
	socat) cmd=(socat -V) ;;
	nc) cmd=(nc -h) ;;
	python3) cmd=("$TSK_PY" -c 'print("ok")') ;;
	*) cmd=("$prog" --version) ;;
	esac
	out=$(LD_PRELOAD=$TAPSOCK_PRELOAD_EXTRA timeout 10 "${cmd[@]}" 2>&1 </dev/null || true)
	if [[ -n $out ]]; then MX_PRELOAD_OK[$prog]=yes; else MX_PRELOAD_OK[$prog]=no; fi
	[[ ${MX_PRELOAD_OK[$prog]} == yes ]]
}

mx_line() {
	local text=$1 verdict=$2 dots
	dots=$(printf '%*s' $((62 - ${#text} > 3 ? 62 - ${#text} : 3)) '' | tr ' ' .)
	printf 'matrix: %s %s %s\n' "$text" "$dots" "$verdict"
}

# PIDs of the descendants of the given processes (children of a forking server, say), deepest last.
descendants() {
	local pid kid
	for pid in "$@"; do
		for kid in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
			echo "$kid"
			descendants "$kid"
		done
	done
}

taps_free() {
	local i
	for ((i = 0; i < 50; i++)); do
		has_carrier "$NS" tap0 || has_carrier "$NS" tap1 || return 0
		sleep 0.1
	done
	return 1
}

row() {
	local id=$1 text=$2 progs=$3 prog pid rc=0 t0=$SECONDS
	shift 3
	[[ -z ${MX_RAN[$id]:-} ]] || fail "matrix: row id $id is used twice"
	MX_RAN[$id]=1
	if [[ -n ${TAPSOCK_PRELOAD_EXTRA:-} ]]; then
		for prog in $progs; do
			if ! preload_ok "$prog"; then
				mx_line "$text" "skip (sanitizer: $prog cannot run under the preloaded runtime)"
				MX_SKIP=$((MX_SKIP + 1))
				return 0
			fi
		done
	fi
	ROW_DIR=$TSK_WORK/rows/$id
	mkdir -p "$ROW_DIR"
	ROW_WHY="" ROW_PIDS=() ROW_SRV=()
	if taps_free; then
		"$@" >>"$ROW_DIR/row.log" 2>&1 || rc=$?
	else
		rc=1 ROW_WHY="a TAP is still held by an earlier row's program"
	fi
	# A forked child can outlive its parent, holding the TAP: stop those too, by PID.
	local -a kids
	mapfile -t kids < <(descendants "${ROW_PIDS[@]}")
	for pid in "${ROW_PIDS[@]}" "${kids[@]}"; do stop_pid "$pid"; done
	((rc == 0)) || [[ -n $ROW_WHY ]] || ROW_WHY="exit status $rc"
	local reason=${MX_REASON[$id]:-}
	if ((rc == 0)) && [[ -z $reason ]]; then
		mx_line "$text" pass
		MX_PASS=$((MX_PASS + 1))
	elif ((rc == 0)); then
		mx_line "$text" "FAIL (unexpectedly passed: remove it from the expected-failure list)"
		MX_FAILED=$((MX_FAILED + 1))
	elif [[ -n $reason ]]; then
		mx_line "$text" "expected-failure ($reason)"
		printf '    [%s] what happened: %s\n' "$id" "$ROW_WHY"
		MX_XFAILED=$((MX_XFAILED + 1))
	else
		mx_line "$text" "FAIL ($ROW_WHY)"
		MX_FAILED=$((MX_FAILED + 1))
		local f
		for f in "$ROW_DIR"/*.log "$ROW_DIR"/*.err; do
			[[ -s $f ]] || continue
			echo "    [$id] --- ${f##*/} (last 5 lines)"
			tail -n 5 "$f" | sed "s/^/    [$id] /"
		done
	fi
	log "row $id: $((SECONDS - t0)) s"
}

mx_finish() {
	local id
	for id in "${!MX_REASON[@]}"; do
		[[ -n ${MX_RAN[$id]:-} ]] || fail "the expected-failure list names $id, which is not a row of this test"
	done
	echo "matrix: ${#MX_RAN[@]} rows in $((SECONDS - MX_START)) s: $MX_PASS pass, $MX_XFAILED expected-failure, $MX_SKIP skip, $MX_FAILED FAIL"
	((MX_FAILED == 0)) || fail "$MX_FAILED matrix row(s) failed (lines above)"
	pass
}
