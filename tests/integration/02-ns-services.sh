#!/usr/bin/env bash
# `tapsock ns up NS --services echo,discard,web`: each service answers a kernel-side client inside
# the namespace with the right bytes (TCP and UDP echo, discard's logged byte count and sha256, the
# default web root's files with their fixed digests); `ns down` stops exactly the printed PIDs and
# removes the logs and default web root. Then --web-root with a directory of the test's own, and
# services that end by themselves when their namespace is deleted behind tapsock's back.
# (No library needed: everything here is on the kernel's stack.)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root

# The default files are SHAKE-128 of fixed seeds: the same digests on every machine.
want_1m=cc100f14eae8091cb9f7e1cc4c1649f8b70959497c320c4bd4025e01569e9aeb
want_10m=4793f520fafc27b64b2267c99df3d1975cc22f34a9d2c861256f2039e04c52a5

# PID of service $1 from the lines `ns up` printed ("echo: tcp+udp 198.18.0.1 port 7 pid 123").
svc_pid() {
	local pid
	pid=$(ns_settings "$1" | sed -nE 's/.* pid ([0-9]+).*/\1/p')
	[[ -n $pid ]] || fail "ns up printed no line for service $1: $(cat "$TSK_WORK/$NS.settings")"
	echo "$pid"
}

# True when no PID given still runs (an exited service may stay a zombie until init reaps it).
all_gone() {
	local pid
	for pid in "$@"; do
		[[ ! -e /proc/$pid ]] || [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] || return 1
	done
}

ns_up --services echo,discard,web
pids=()
for svc in echo discard web; do pids+=("$(svc_pid "$svc")"); done
log "services: echo ${pids[0]}, discard ${pids[1]}, web ${pids[2]}"
svc_dir=/tmp/tapsock-ns-$NS
[[ -d $svc_dir/www ]] || fail "no default web root $svc_dir/www"

# Echo (TCP 1 MiB, UDP datagrams of 1..1400 bytes) and discard (TCP 1 MiB), from the kernel side.
cat >"$TSK_WORK/client.py" <<'PY'
import hashlib, random, socket, threading
rng = random.Random(2)
data = rng.randbytes(1 << 20)

def tcp_echo(addr):
    s = socket.create_connection((addr, 7), timeout=10)
    got = bytearray()
    def reader():
        while chunk := s.recv(1 << 16):
            got.extend(chunk)
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(10)
    s.close()
    assert bytes(got) == data, f"tcp echo via {addr}: {len(got)} bytes back, not the {len(data)} sent"

tcp_echo("198.18.0.1")
tcp_echo("2001:db8::1")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
for size in (1, 100, 1400):
    d = rng.randbytes(size)
    u.sendto(d, ("198.18.0.1", 7))
    back, peer = u.recvfrom(2000)
    assert back == d and peer == ("198.18.0.1", 7), f"udp echo of {size} bytes: {len(back)} bytes from {peer}"
s = socket.create_connection(("198.18.0.1", 9), timeout=10)
s.sendall(data)
s.close()
print(f"sent {len(data)} sha256 {hashlib.sha256(data).hexdigest()}")
PY
rc=0
out=$(bounded 20 "$TSK_TOOL" ns exec "$NS" -- "$TSK_PY" "$TSK_WORK/client.py" 2>&1) || rc=$?
((rc == 0)) || fail "echo/discard client: $out"
read -r _ sent _ digest <<<"$(tail -n 1 <<<"$out")"
wait_for 5 "discard to log the connection" grep -q "^discard .*: $sent bytes sha256 $digest" "$svc_dir/discard.log"
log "echo tcp (IPv4 and IPv6) and udp, discard ($sent bytes, sha256 checked): ok"

# Web: the default files, by their pinned digests and SHA256SUMS.
for f in index.html 1M.bin 10M.bin SHA256SUMS; do
	out=$(bounded 15 "$TSK_TOOL" ns exec "$NS" -- curl -sS --max-time 10 -o "$TSK_WORK/$f" \
		-w '%{http_code}' "http://198.18.0.1/$f" 2>&1) || fail "curl $f: $out"
	[[ $out == 200 ]] || fail "curl $f: HTTP $out"
done
[[ $(sha256sum <"$TSK_WORK/1M.bin" | cut -d' ' -f1) == "$want_1m" ]] || fail "1M.bin has not its fixed sha256"
[[ $(sha256sum <"$TSK_WORK/10M.bin" | cut -d' ' -f1) == "$want_10m" ]] || fail "10M.bin has not its fixed sha256"
(cd "$TSK_WORK" && sha256sum --quiet -c SHA256SUMS) || fail "the files do not match the SHA256SUMS the server gave"
log "web: index.html, 1M.bin, 10M.bin match SHA256SUMS and the pinned digests"

# ns down stops exactly those PIDs and removes what ns up made.
out=$("$TSK_TOOL" ns down "$NS" 2>&1) || fail "ns down: $out"
for pid in "${pids[@]}"; do
	grep -q "stopped service .* (pid $pid)" <<<"$out" || fail "ns down did not say it stopped pid $pid: $out"
	all_gone "$pid" || fail "service pid $pid still runs after ns down"
done
[[ ! -e $svc_dir ]] || fail "$svc_dir is still there after ns down"
[[ ! -e /run/netns/$NS ]] || fail "$NS still exists after ns down"
log "ns down stopped ${pids[*]} and removed $svc_dir"

# --web-root: the test's own directory, which ns down leaves alone. The namespace is then deleted
# behind tapsock's back: the services must end by themselves.
www=$TSK_WORK/www
mkdir -p "$www"
head -c 300000 /dev/urandom >"$www/blob"
ns_up --services web,echo --web-root "$www"
web_pid=$(svc_pid web) echo_pid=$(svc_pid echo)
out=$(bounded 15 "$TSK_TOOL" ns exec "$NS" -- curl -sS --max-time 10 -o "$TSK_WORK/blob" \
	-w '%{http_code}' http://198.18.0.1/blob 2>&1) || fail "curl from --web-root: $out"
cmp -s "$www/blob" "$TSK_WORK/blob" || fail "the file from --web-root differs (HTTP $out)"
ip netns delete "$NS"
wait_for 5 "the services of a deleted namespace to exit" all_gone "$web_pid" "$echo_pid"
out=$("$TSK_TOOL" ns down "$NS" 2>&1) || fail "ns down after the namespace went: $out"
[[ -f $www/blob ]] || fail "ns down removed the --web-root directory"
[[ ! -e /tmp/tapsock-ns-$NS ]] || fail "/tmp/tapsock-ns-$NS is still there"
log "--web-root served and was kept; services exited when their namespace was deleted"
pass
