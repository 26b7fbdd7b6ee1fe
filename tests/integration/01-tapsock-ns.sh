#!/usr/bin/env bash
# The namespace tool itself (no library needed): `tapsock ns up` with one TAP, with a bridge of
# three, and with impairments; the printed settings; `ns exec`; `ns down` removing it all.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root

has_addr() { ip -n "$1" -br addr show dev "$2" | grep -qw -- "$3"; }

# One TAP: the addresses sit on tap0 itself.
ns_up
one=$NS
[[ $(ns_settings tap0) == "TAPSOCK_TAP=tap0 TAPSOCK_ADDR=198.18.0.2/24,2001:db8::2/64 TAPSOCK_GW=198.18.0.1,2001:db8::1" ]] ||
	fail "settings printed for tap0: '$(ns_settings tap0)'"
has_addr "$one" tap0 198.18.0.1/24 || fail "tap0 lacks 198.18.0.1/24"
has_addr "$one" tap0 2001:db8::1/64 || fail "tap0 lacks 2001:db8::1/64"
ip -n "$one" link show lo | grep -q LOWER_UP || fail "lo is not up"
ip -n "$one" -d link show tap0 | grep -q 'tun type tap' || fail "tap0 is not a TAP device"
ip -n "$one" link show tap0 | grep -q NO-CARRIER || fail "tap0 has carrier with nobody attached"
out=$(bounded 10 "$TSK_TOOL" ns exec "$one" -- ping -c 2 -i 0.1 -W 1 198.18.0.1 2>&1) || fail "ping 198.18.0.1 inside: $out"
out=$(bounded 10 "$TSK_TOOL" ns exec "$one" -- ping -c 2 -i 0.1 -W 1 2001:db8::1 2>&1) || fail "ping 2001:db8::1 inside: $out"
"$TSK_TOOL" ns up "$one" >/dev/null 2>&1 && fail "a second ns up $one succeeded"

# Three TAPs on a bridge that holds the addresses.
ns_up --taps 3 --mtu 9000
three=$NS
[[ $(ns_settings tap2) == "TAPSOCK_TAP=tap2 TAPSOCK_ADDR=198.18.0.4/24,2001:db8::4/64 TAPSOCK_GW=198.18.0.1,2001:db8::1" ]] ||
	fail "settings printed for tap2: '$(ns_settings tap2)'"
has_addr "$three" br0 198.18.0.1/24 || fail "br0 lacks 198.18.0.1/24"
for tap in tap0 tap1 tap2; do
	ip -n "$three" link show "$tap" | grep -q 'master br0' || fail "$tap is not in br0"
	ip -n "$three" link show "$tap" | grep -q 'mtu 9000' || fail "$tap has not mtu 9000"
done

# Impairments: nft table and tbf qdiscs on the kernel side.
ns_up --impair 'loss 2% dup 1% rate 200mbit'
imp=$NS
rules=$("$TSK_TOOL" ns exec "$imp" -- nft list table netdev tapsock) || fail "no nft table netdev tapsock"
grep -q 'hook ingress device "tap0"' <<<"$rules" || fail "no ingress chain on tap0"
grep -q 'hook egress device "tap0"' <<<"$rules" || fail "no egress chain on tap0"
grep -q 'numgen random mod 1000 < 20 counter packets 0 bytes 0 drop' <<<"$rules" || fail "no 2% loss rule: $rules"
grep -q 'mod 1000 < 10 .*dup to' <<<"$rules" || fail "no 1% dup rule"
[[ $("$TSK_TOOL" ns exec "$imp" -- tc qdisc show | grep -c 'tbf.*rate 200Mbit') == 2 ]] ||
	fail "expected tbf 200mbit both ways: $("$TSK_TOOL" ns exec "$imp" -- tc qdisc show)"

# ns down removes everything, and says so for a namespace that is gone.
for ns in "$one" "$three" "$imp"; do
	"$TSK_TOOL" ns down "$ns" 2>/dev/null || fail "ns down $ns failed"
	[[ ! -e /run/netns/$ns ]] || fail "$ns still exists after ns down"
done
out=$("$TSK_TOOL" ns down "$one" 2>&1) || fail "ns down of a missing namespace failed: $out"
grep -q 'does not exist' <<<"$out" || fail "ns down of a missing namespace said: $out"
pass
