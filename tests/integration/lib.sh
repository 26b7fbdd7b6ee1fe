# shellcheck shell=bash
# Shared helpers for the integration tests. A test sources this first, then calls:
#   need_root, need_lib          preconditions (a clear FAIL line when not met)
#   ns_up [ARGS]                 a fresh namespace tsk-<pid>-<n> via `tapsock ns up`; name in $NS
#   start_bg NAME CMD...         a background process, output in $TSK_WORK/NAME.log, PID in $LAST_PID
#   run_shim [tapsock run options] -- PROG ARGS...   PROG under the shim (honours $TAPSOCK_LIB,
#                                $TAPSOCK_PRELOAD_EXTRA)
#   bounded SECS CMD...          CMD with a time limit
#   wait_line NAME PATTERN SECS, wait_carrier NS DEV SECS, wait_for SECS WHAT CMD...
#   rx_frames NS DEV             frames the stack on TAP DEV has sent (kernel side RX counter)
#   pass, fail REASON            print the final "PASS name" / "FAIL name: reason" line and exit
# Everything started is stopped by PID and every namespace removed, whatever way the test ends.
# The whole test runs under a time limit ($TSK_TEST_TIMEOUT, default 60 s).
set -euo pipefail

TSK_NAME=$(basename "$0" .sh)
TSK_LIMIT=${TSK_TEST_TIMEOUT:-60}

# Put the whole test under `timeout`. On expiry every process of the test gets SIGTERM; the trap
# below then cleans up and reports. (Inner limits use `bounded`, which stays in this process group.)
if [[ -z ${TSK_UNDER_TIMEOUT:-} ]]; then
	export TSK_UNDER_TIMEOUT=1
	exec timeout -k 5 "$TSK_LIMIT" bash "$(readlink -f "$0")" "$@"
fi

TSK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # TSK_DIR and TSK_PY are for the tests that source this file
TSK_DIR=$TSK_ROOT/tests/integration
TSK_TOOL=$TSK_ROOT/scripts/tapsock
TSK_LIB=${TAPSOCK_LIB:-$TSK_ROOT/build/libtapsock.so}
[[ $TSK_LIB == /* ]] || TSK_LIB=$PWD/$TSK_LIB
# Debian's interpreter: a version manager's shim would put extra (shimmed) processes in the way.
# shellcheck disable=SC2034
if [[ -x /usr/bin/python3 ]]; then TSK_PY=${TSK_PYTHON:-/usr/bin/python3}; else TSK_PY=${TSK_PYTHON:-python3}; fi
TSK_WORK=$(mktemp -d "/tmp/tsk-$TSK_NAME.XXXXXX")
TSK_MAIN_PID=$$
TSK_PIDS=()
TSK_NAMES=()
TSK_NSS=()
TSK_NS_COUNT=0
TSK_DONE=""
TSK_ERR=""
LAST_PID=""
TSK_CMD=()
NS=""

# A test sees only the settings it gives itself.
unset TAPSOCK_TAP TAPSOCK_ADDR TAPSOCK_GW TAPSOCK_MAC TAPSOCK_MTU TAPSOCK_PCAP TAPSOCK_DISABLE TAPSOCK_TCP
unset TAPSOCK_CONTROL TAPSOCK_CONTROL_DIR
unset TAPSOCK_FAULTS

log() { printf '[%s] %s\n' "$TSK_NAME" "$*" >&2; }

# Stops one started process: TERM, up to 3 s to go, then KILL.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

tsk_cleanup() {
	local pid ns
	for pid in "${TSK_PIDS[@]}"; do stop_pid "$pid"; done
	TSK_PIDS=()
	for ns in "${TSK_NSS[@]}"; do "$TSK_TOOL" ns down "$ns" >>"$TSK_WORK/ns.log" 2>&1 || true; done
	TSK_NSS=()
	if [[ -z ${TSK_KEEP:-} ]]; then rm -rf "$TSK_WORK"; else log "logs kept in $TSK_WORK"; fi
}

# The logs of what the test started, for the reader of a failure.
dump_logs() {
	local f
	for f in "$TSK_WORK"/*.log; do
		[[ -s $f ]] || continue
		echo "--- ${f##*/} (last 20 lines)" >&2
		tail -n 20 "$f" >&2
	done
}

pass() {
	TSK_DONE=1
	trap - TERM INT
	tsk_cleanup
	echo "PASS $TSK_NAME"
	exit 0
}

fail() {
	if [[ $BASHPID != "$TSK_MAIN_PID" ]]; then
		# In a subshell ($(...)): hand the reason to the test's own shell, which ends the test.
		printf '%s\n' "$*" >"$TSK_WORK/reason"
		exit 1
	fi
	TSK_DONE=1
	trap - TERM INT
	dump_logs
	tsk_cleanup
	echo "FAIL $TSK_NAME: $*"
	exit 1
}

on_exit() {
	local rc=$?
	[[ -n $TSK_DONE ]] && return 0
	if [[ -s $TSK_WORK/reason ]]; then fail "$(cat "$TSK_WORK/reason")"; fi
	fail "stopped with status $rc${TSK_ERR:+ at $TSK_ERR}"
}

set -E
trap 'TSK_ERR="line $LINENO: $BASH_COMMAND"' ERR
trap on_exit EXIT
trap 'fail "timed out (limit ${TSK_LIMIT} s)"' TERM
trap 'fail "interrupted"' INT

need_root() {
	((EUID == 0)) || fail "needs root (network namespaces, TAP devices)"
}

need_lib() {
	[[ -f $TSK_LIB ]] || fail "library $TSK_LIB missing (build it with make, or set TAPSOCK_LIB)"
}

# A fresh namespace; extra arguments go to `tapsock ns up`. Name in $NS, settings lines in
# $TSK_WORK/$NS.settings.
ns_up() {
	TSK_NS_COUNT=$((TSK_NS_COUNT + 1))
	NS=tsk-$$-$TSK_NS_COUNT
	TSK_NSS+=("$NS")
	"$TSK_TOOL" ns up "$NS" "$@" >"$TSK_WORK/$NS.settings" 2>>"$TSK_WORK/ns.log" ||
		fail "tapsock ns up $NS $* failed: $(tail -n 3 "$TSK_WORK/ns.log")"
}

# The settings `ns up` printed for a TAP, e.g. "TAPSOCK_TAP=tap0 TAPSOCK_ADDR=... TAPSOCK_GW=...".
ns_settings() {
	sed -n "s/^$1: //p" "$TSK_WORK/$NS.settings"
}

# tapsock reads $TAPSOCK_LIB and $TAPSOCK_PRELOAD_EXTRA itself; export the library it must use.
export TAPSOCK_LIB=$TSK_LIB
# The shimmed HTTP client: the unmodified curl, except under a preloaded sanitizer runtime, which
# curl cannot run under at all (it prints nothing even without tapsock); python3's urllib then.
# Takes: [--max-time S] -o FILE URL; prints curl's '%{http_code} %{size_download} %{speed_download}
# %{time_total}' line.
if [[ -n ${TAPSOCK_PRELOAD_EXTRA:-} ]]; then
	SHIM_FETCH=("$TSK_PY" "$TSK_DIR/fetch.py")
else
	SHIM_FETCH=(curl -sS -w '%{http_code} %{size_download} %{speed_download} %{time_total}\n')
fi

run_shim() {
	"$TSK_TOOL" run "$@"
}

# bounded and start_bg run their command as a process of its own; `run_shim` there means the
# tapsock script itself, so the PID is the program's (tapsock execs it).
tsk_expand() {
	if [[ $1 == run_shim ]]; then
		TSK_CMD=("$TSK_TOOL" run "${@:2}")
	else
		TSK_CMD=("$@")
	fi
}

bounded() {
	local secs=$1
	shift
	tsk_expand "$@"
	set -- "${TSK_CMD[@]}"
	# --foreground: stay in the test's process group, so the test's own limit still reaches it.
	timeout --foreground -k 2 "$secs" "$@"
}

start_bg() {
	local name=$1
	shift
	tsk_expand "$@"
	set -- "${TSK_CMD[@]}"
	: >"$TSK_WORK/$name.log" # exists before the process does, for wait_line
	"$@" </dev/null >"$TSK_WORK/$name.log" 2>&1 &
	LAST_PID=$!
	TSK_PIDS+=("$LAST_PID")
	TSK_NAMES+=("$name")
	log "started $name (pid $LAST_PID): $*"
}

# PID of a process started as NAME.
pid_of() {
	local i
	for i in "${!TSK_NAMES[@]}"; do
		[[ ${TSK_NAMES[i]} == "$1" ]] && { echo "${TSK_PIDS[i]}"; return 0; }
	done
	fail "no process named $1 was started"
}

alive() { kill -0 "$(pid_of "$1")" 2>/dev/null; }

# Polls CMD every 0.1 s for up to SECS seconds.
wait_for() {
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "timed out after ${secs} s waiting for $what"
}

# Waits until background process NAME prints a line matching PATTERN; fails early if it exits.
wait_line() {
	local name=$1 pattern=$2 secs=$3 pid i
	pid=$(pid_of "$name")
	for ((i = 0; i < secs * 10; i++)); do
		grep -qE -- "$pattern" "$TSK_WORK/$name.log" && return 0
		kill -0 "$pid" 2>/dev/null || fail "$name exited before printing '$pattern': $(tail -n 2 "$TSK_WORK/$name.log" | tr '\n' ' ')"
		sleep 0.1
	done
	fail "timed out after ${secs} s waiting for $name to print '$pattern'"
}

# Frames the kernel side of DEV has received, i.e. frames a stack sent into the TAP.
rx_frames() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

has_carrier() { ip -n "$1" link show "$2" | grep -q LOWER_UP; }

# A TAP has carrier once some process holds it open: the shim has attached.
wait_carrier() {
	wait_for "$3" "$2 in $1 to get carrier (the shim attaching)" has_carrier "$1" "$2"
}
