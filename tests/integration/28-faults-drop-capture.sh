#!/usr/bin/env bash
# The stack's own fault injection: a shimmed client downloads 50 MiB from the kernel's http.server
# with TAPSOCK_FAULTS dropping 5% of the frames each way (seeded) and the bytes must arrive exactly
# (sha256). The fault link sits below the stack's capture, so the two captures account for every
# drop: what the stack captured sending but the kernel never saw is FaultTxDropped, and what the
# kernel sent into tap0 (tcpdump on the kernel side) but the stack never captured receiving is
# FaultRxDropped, as the stack's own counters (TAPSOCK_STATS=exit) say.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib
command -v tcpdump >/dev/null || fail "tcpdump is not installed (scripts/install-deps installs it)"

size_mib=50
faults=drop=0.05,seed=27
stack_mac=02:54:53:4b:00:02
www=$TSK_WORK/www
mkdir -p "$www"
head -c "$((size_mib << 20))" /dev/urandom >"$www/blob"
want=$(sha256sum <"$www/blob" | cut -d' ' -f1)

ns_up
# The stack speaks IPv4 only: without the kernel's IPv6 chatter (MLD reports) on tap0, no frame
# reaches the TAP around the stack's exit, when it would be in one count and not the other.
ip netns exec "$NS" sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1
start_bg kernel-http "$TSK_TOOL" ns exec "$NS" -- \
	timeout 55 "$TSK_PY" -u -m http.server 8080 --bind 198.18.0.1 --directory "$www"
wait_line kernel-http '^Serving HTTP' 10
# The kernel's view of tap0: headers are enough to tell frames apart (-s 96), and a 64 MiB buffer
# keeps tcpdump from losing frames at full speed. -Z root: the work directory is root's alone.
start_bg kernel-capture "$TSK_TOOL" ns exec "$NS" -- \
	tcpdump -i tap0 -nn --immediate-mode -B 65536 -s 96 -Z root -w "$TSK_WORK/kernel.pcap"
capture_pid=$LAST_PID
wait_line kernel-capture 'listening on' 10
tap_stat() { ip netns exec "$NS" cat "/sys/class/net/tap0/statistics/$1"; }
kernel_rx_dropped0=$(tap_stat rx_dropped) kernel_tx_dropped0=$(tap_stat tx_dropped)

# The client hashes as it reads, then stays a moment so the connection's last frames (FINs and
# their ACKs, retransmitted if dropped) are over before the process and its stack go away.
log "a shimmed client fetches $size_mib MiB with TAPSOCK_FAULTS=$faults and both captures on"
export TAPSOCK_STATS=exit
rc=0
bounded 50 run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 --mac "$stack_mac" \
	--faults "$faults" --pcap "$TSK_WORK/stack.pcap" -- "$TSK_PY" -c '
import hashlib, sys, time, urllib.request
start, h, n = time.monotonic(), hashlib.sha256(), 0
with urllib.request.urlopen("http://198.18.0.1:8080/blob", timeout=45) as r:
    while block := r.read(1 << 20):
        h.update(block)
        n += len(block)
print("fetched", n, h.hexdigest(), "in %.1f s" % (time.monotonic() - start), flush=True)
time.sleep(3)
' >"$TSK_WORK/client.out" 2>"$TSK_WORK/client.err" || rc=$?
unset TAPSOCK_STATS
((rc == 0)) || fail "the shimmed client exited $rc: $(tail -n 5 "$TSK_WORK/client.err" | tr '\n' ' ')"
read -r _ got_bytes got took <<<"$(grep '^fetched' "$TSK_WORK/client.out")" || true
[[ $got == "$want" ]] || fail "sha256 differs: got ${got_bytes:-0} bytes with ${got:-nothing}, want $want"
log "fetched $got_bytes bytes $took, sha256 as sent"
grep -q "fault injection on tap0: TAPSOCK_FAULTS=drop=0.05,dir=both,seed=27" "$TSK_WORK/client.err" ||
	fail "no log line naming the faults and their seed: $(head -n 3 "$TSK_WORK/client.err" | tr '\n' ' ')"

sleep 1.5 # the kernel capture has seen the last frames; now it may stop and say what it lost
stop_pid "$capture_pid"
grep -q '^0 packets dropped by kernel' "$TSK_WORK/kernel-capture.log" ||
	fail "tcpdump lost frames, the kernel-side count is unusable: $(tail -n 3 "$TSK_WORK/kernel-capture.log" | tr '\n' ' ')"

counter() { awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }' "$TSK_WORK/client.err"; }
tx_dropped=$(counter FaultTxDropped) rx_dropped=$(counter FaultRxDropped)
link_tx_dropped=$(counter LinkTxDropped)
# Frames the kernel itself refused (a full backlog, no reader left on the TAP): not the faults'.
kernel_rx_dropped=$(($(tap_stat rx_dropped) - kernel_rx_dropped0))
kernel_tx_dropped=$(($(tap_stat tx_dropped) - kernel_tx_dropped0))

# "FROM_MAC OTHERS": frames of a capture sent by the stack's MAC, and all the others.
count_frames() {
	"$TSK_PY" - "$stack_mac" "$1" <<'EOF'
import struct, sys
mac, path = bytes.fromhex(sys.argv[1].replace(":", "")), sys.argv[2]
ours = others = 0
with open(path, "rb") as f:
    head = f.read(24)
    endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    while len(rec := f.read(16)) == 16:
        caplen = struct.unpack(endian + "IIII", rec)[2]
        frame = f.read(caplen)
        if frame[6:12] == mac:
            ours += 1
        else:
            others += 1
print(ours, others)
EOF
}
read -r stack_sent stack_received <<<"$(count_frames "$TSK_WORK/stack.pcap")"
read -r kernel_got kernel_sent <<<"$(count_frames "$TSK_WORK/kernel.pcap")"
log "stack capture: $stack_sent sent, $stack_received received; kernel capture: $kernel_got from the stack, $kernel_sent to it"
log "FaultTxDropped $tx_dropped, FaultRxDropped $rx_dropped (LinkTxDropped $link_tx_dropped, tap0 rx_dropped $kernel_rx_dropped, tx_dropped $kernel_tx_dropped)"
((tx_dropped > 0 && rx_dropped > 0)) || fail "no drops counted at 5%: FaultTxDropped $tx_dropped, FaultRxDropped $rx_dropped"
lost_tx=$((stack_sent - kernel_got - link_tx_dropped - kernel_rx_dropped))
lost_rx=$((kernel_sent - kernel_tx_dropped - stack_received))
((lost_tx == tx_dropped)) || fail "the stack sent $stack_sent frames and the kernel saw $kernel_got: $lost_tx lost, but FaultTxDropped is $tx_dropped"
((lost_rx == rx_dropped)) || fail "the kernel sent $kernel_sent frames and the stack captured $stack_received: $lost_rx lost, but FaultRxDropped is $rx_dropped"
# 5% of each direction, loosely (the exact rate is the unit tests' business).
awk -v d="$tx_dropped" -v n="$stack_sent" -v e="$rx_dropped" -v m="$kernel_sent" \
	'BEGIN { exit !(d > 0.03 * n && d < 0.07 * n && e > 0.03 * m && e < 0.07 * m) }' ||
	fail "drop rates far from 5%: $tx_dropped of $stack_sent sent, $rx_dropped of $kernel_sent received"
pass
