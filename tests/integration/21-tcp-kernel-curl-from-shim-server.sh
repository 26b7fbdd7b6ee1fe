#!/usr/bin/env bash
# python3 -m http.server on a private stack (198.18.0.2 on tap0) serves a 100 MiB file of random
# bytes; the kernel's curl downloads it, and the bytes must arrive exactly (sha256).
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
start_bg shim-http run_shim --ns "$NS" --tap tap0 --addr 198.18.0.2/24 --gw 198.18.0.1 -- \
	timeout 55 "$TSK_PY" -u -m http.server 8080 --bind 198.18.0.2 --directory "$www"
wait_line shim-http '^Serving HTTP' 15
wait_carrier "$NS" tap0 10

log "the kernel's curl fetches $size_mib MiB from the shimmed http.server on 198.18.0.2"
rc=0
out=$(bounded 52 "$TSK_TOOL" ns exec "$NS" -- \
	curl -sS --max-time 50 -o "$TSK_WORK/got" \
	-w '%{http_code} %{size_download} %{speed_download} %{time_total}\n' \
	http://198.18.0.2:8080/blob 2>&1) || rc=$?
read -r code size speed secs <<<"$(tail -n 1 <<<"$out")" || true
got_bytes=$(stat -c %s "$TSK_WORK/got" 2>/dev/null || echo 0)
((rc == 0)) || fail "kernel curl exited $rc after $got_bytes of $((size_mib << 20)) bytes: $(tr '\n' ' ' <<<"$out")"
[[ $code == 200 ]] || fail "kernel curl: HTTP ${code:-?}: $out"
got=$(sha256sum <"$TSK_WORK/got" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "sha256 differs: got $got_bytes bytes with $got, want $want"
alive shim-http || fail "the shimmed http.server died"
log "$size bytes in ${secs} s: $(awk -v s="$speed" 'BEGIN { printf "%.1f", s * 8 / 1e6 }') Mbit/s"
pass
