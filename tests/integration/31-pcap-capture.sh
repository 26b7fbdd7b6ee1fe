#!/usr/bin/env bash
# The capture: a shimmed curl fetches a page with TAPSOCK_PCAP set; the file opens in tcpdump and
# tshark without a warning and shows the whole connection: handshake, the HTTP exchange, both FINs.
# Then the size bound: a 6 MiB download captured with TAPSOCK_PCAP_SIZE=1M and TAPSOCK_PCAP_FILES=3
# leaves exactly FILE, FILE.1 and FILE.2, each a whole capture, and `tapsock pcap where PID` finds
# the capture of a running process.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib
command -v tcpdump >/dev/null || fail "tcpdump is not installed (scripts/install-deps installs it)"
command -v tshark >/dev/null || fail "tshark is not installed (scripts/install-deps installs it)"

www=$TSK_WORK/www
mkdir -p "$www"
echo "hello from the kernel's web server" >"$www/index.html"
head -c $((6 << 20)) /dev/urandom >"$www/blob"
ns_up
start_bg kernel-http "$TSK_TOOL" ns exec "$NS" -- \
	timeout 55 "$TSK_PY" -u -m http.server 8080 --bind 198.18.0.1 --directory "$www"
wait_line kernel-http '^Serving HTTP' 10
shim=(--ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1)

# Reads FILE with tool ARGS...; fails on anything on stderr but the tools' own banners.
quiet_read() {
	local file=$1 err
	shift
	err=$("$@" -r "$file" 2>&1 >/dev/null | grep -v -e '^reading from file' -e '^Running as user "root"' || true)
	[[ -z $err ]] || fail "$1 -r $file complained: $err"
}

# 1. One page, the whole connection.
cap=$TSK_WORK/curl.pcap
out=$(bounded 20 run_shim "${shim[@]}" --pcap "$cap" -- "${SHIM_FETCH[@]}" --max-time 15 \
	-o "$TSK_WORK/page" http://198.18.0.1:8080/index.html 2>&1) || fail "shimmed fetch failed: $out"
cmp -s "$TSK_WORK/page" "$www/index.html" || fail "the page arrived different"
quiet_read "$cap" tcpdump -nn
quiet_read "$cap" tshark -n
malformed=$(tshark -n -r "$cap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
((malformed == 0)) || fail "tshark finds $malformed malformed or erroneous frames: $(tshark -n -r "$cap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | head -n 3)"
# The connection frame by frame: who sent it (c: client, s: server), SYN, ACK, FIN, payload bytes.
flow=$(tshark -n -r "$cap" -Y 'tcp.port == 8080' -T fields -e ip.src -e tcp.flags.syn -e tcp.flags.ack \
	-e tcp.flags.fin -e tcp.len 2>/dev/null | awk '{ print ($1 == "198.18.0.2" ? "c" : "s"), ($2 ? "SYN" : "-"), ($3 ? "ACK" : "-"), ($4 ? "FIN" : "-"), $5 }')
log "the connection as tshark sees it: $(tr '\n' ',' <<<"$flow")"
grep -qx 'c SYN - - 0' <<<"$flow" || fail "no SYN from the client in the capture"
grep -qx 's SYN ACK - 0' <<<"$flow" || fail "no SYN-ACK from the server in the capture"
grep -qx 'c - ACK - 0' <<<"$flow" || fail "no bare ACK from the client in the capture"
grep -qE '^c - ACK - [1-9]' <<<"$flow" || fail "no request data from the client in the capture"
grep -qE '^s - ACK (-|FIN) [1-9]' <<<"$flow" || fail "no response data from the server in the capture"
grep -qE '^c - ACK FIN ' <<<"$flow" || fail "no FIN from the client in the capture"
grep -qE '^s - ACK FIN ' <<<"$flow" || fail "no FIN from the server in the capture"
http=$(tshark -n -r "$cap" -Y http -T fields -e http.request.method -e http.response.code 2>/dev/null | tr -s '\t\n' '  ')
[[ $http == *GET*200* ]] || fail "tshark does not see the GET and its 200: '$http'"
"$TSK_TOOL" pcap summary "$cap" >"$TSK_WORK/summary" || fail "tapsock pcap summary failed"
lines=$(wc -l <"$TSK_WORK/summary")
frames=$(tshark -n -r "$cap" 2>/dev/null | wc -l)
((lines == frames)) || fail "tapsock pcap summary printed $lines lines for $frames frames"
log "curl capture: $frames frames, tcpdump and tshark read it cleanly; HTTP: $http"

# 2. Rotation: 1 MiB files, three kept, and `pcap where` on the running process.
cap=$TSK_WORK/big.pcap
export TAPSOCK_PCAP_SIZE=1M TAPSOCK_PCAP_FILES=3
start_bg big run_shim "${shim[@]}" --pcap "$cap" -- "$TSK_PY" -c '
import socket, sys, time, urllib.request
body = urllib.request.urlopen("http://198.18.0.1:8080/blob", timeout=20).read()
open(sys.argv[1], "wb").write(body)
print("fetched", len(body), flush=True)
time.sleep(30)  # stays up for `tapsock pcap where`
' "$TSK_WORK/got"
unset TAPSOCK_PCAP_SIZE TAPSOCK_PCAP_FILES
wait_line big '^fetched' 25
cmp -s "$TSK_WORK/got" "$www/blob" || fail "the 6 MiB download arrived different"
where=$("$TSK_TOOL" pcap where "$(pid_of big)" 2>&1) || fail "tapsock pcap where: $where"
log "tapsock pcap where: $(tr '\n\t' '; ' <<<"$where")"
[[ $(wc -l <<<"$where") == 3 && $where == "$cap"$'\t'* && $where == *"$cap.2"$'\t'* ]] ||
	fail "expected $cap, $cap.1 and $cap.2, got: $where"
[[ ! -e $cap.3 ]] || fail "$cap.3 exists: more files than TAPSOCK_PCAP_FILES=3"
for f in "$cap.2" "$cap.1"; do
	size=$(stat -c %s "$f")
	((size <= 1 << 20 && size > 900000)) || fail "$f holds $size bytes, not close to the 1 MiB bound"
	quiet_read "$f" tcpdump -nn
	quiet_read "$f" tshark -n
done
"$TSK_TOOL" pcap info "$cap" "$cap.1" "$cap.2" >&2 || fail "tapsock pcap info failed"
pass
