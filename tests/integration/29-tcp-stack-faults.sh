#!/usr/bin/env bash
# TCP both ways through the stack's own fault injection: every shimmed process drops 2% and
# reorders 5% of its frames in each direction (TAPSOCK_FAULTS, seeded), while the kernel side also
# drops 2% and duplicates 1% (`ns up --impair`). At the same time, 100 MiB each way:
#   - curl on a private stack (198.18.0.3, tap1) fetches from the kernel's http.server;
#   - the kernel's curl fetches from http.server on a private stack (198.18.0.2, tap0).
# Both files must arrive exactly (sha256), and the stack must have counted its faults.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=both_ways.sh
source "$(dirname "$0")/both_ways.sh"
need_root
need_lib
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps installs it)"

export TAPSOCK_FAULTS=drop=2%,reorder=5%,seed=29
both_ways 100 --impair 'loss 2% dup 1%'
# The shimmed curl exited normally, so its counters are in its log.
for counter in FaultTxDropped FaultRxDropped FaultTxReordered FaultRxReordered; do
	n=$(awk -v c="$counter" '$1 == c { print $2 }' "$TSK_WORK/shim-curl.log")
	((${n:-0} > 0)) || fail "the shimmed curl counted no $counter"
	log "shimmed curl: $counter $n"
done
pass
