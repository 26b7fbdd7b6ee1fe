#!/usr/bin/env bash
# TCP both ways through a lossy link: the kernel side of each TAP drops 2% and duplicates 1% of the
# frames in each direction (`ns up --impair`). At the same time (to stay within the time limit):
#   - curl on a private stack (198.18.0.3, tap1) fetches 100 MiB from the kernel's http.server;
#   - the kernel's curl fetches 100 MiB from http.server on a private stack (198.18.0.2, tap0).
# Both files must arrive exactly (sha256).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=both_ways.sh
source "$(dirname "$0")/both_ways.sh"
need_root
need_lib
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps installs it)"

both_ways 100 --impair 'loss 2% dup 1%'
# The impairment really happened.
drops=$(ip netns exec "$NS" nft list table netdev tapsock | grep -c 'counter packets [1-9]') || true
((drops > 0)) || fail "the nftables impairment rules counted nothing"
log "impairment rules that fired: $drops; nft counters:"
ip netns exec "$NS" nft list table netdev tapsock | grep -o '.*counter packets [0-9]* bytes [0-9]*.*' | sed 's/^[[:space:]]*/    /' >&2
pass
