#!/usr/bin/env bash
# The unmodified curl on a private stack downloads a 100 MiB file of random bytes from the kernel's
# web server (python3 -m http.server on 198.18.0.1); the bytes must arrive exactly (sha256).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps installs it)"

size_mib=100
www=$TSK_WORK/www
mkdir -p "$www"
head -c "$((size_mib << 20))" /dev/urandom >"$www/blob"
want=$(sha256sum <"$www/blob" | cut -d' ' -f1)

ns_up
start_bg kernel-http "$TSK_TOOL" ns exec "$NS" -- \
	timeout 55 "$TSK_PY" -u -m http.server 8080 --bind 198.18.0.1 --directory "$www"
wait_line kernel-http '^Serving HTTP' 10

before=$(rx_frames "$NS" tap0)
log "curl on the private stack (198.18.0.2 on tap0) fetches $size_mib MiB from the kernel's 198.18.0.1"
rc=0
out=$(bounded 52 run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	"${SHIM_FETCH[@]}" --max-time 50 -o "$TSK_WORK/got" http://198.18.0.1:8080/blob 2>&1) || rc=$?
read -r code size speed secs <<<"$(tail -n 1 <<<"$out")" || true
got_bytes=$(stat -c %s "$TSK_WORK/got" 2>/dev/null || echo 0)
((rc == 0)) || fail "shimmed curl exited $rc after $got_bytes of $((size_mib << 20)) bytes: $(tr '\n' ' ' <<<"$out")"
[[ $code == 200 ]] || fail "shimmed curl: HTTP ${code:-?}: $out"
got=$(sha256sum <"$TSK_WORK/got" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "sha256 differs: got $got_bytes bytes with $got, want $want"
# Proof the bytes came through the private stack (a kernel-stack curl would use lo, not tap0).
sent=$(($(rx_frames "$NS" tap0) - before))
((sent >= 1000)) || fail "only $sent frames came out of the stack on tap0 for a $size_mib MiB download"
log "$size bytes in ${secs} s: $(awk -v s="$speed" 'BEGIN { printf "%.1f", s * 8 / 1e6 }') Mbit/s ($sent frames from the stack)"
pass
