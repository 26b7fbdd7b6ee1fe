#!/usr/bin/env bash
# A python program with an open TCP connection runs subprocesses (subprocess vforks, then dups and
# closes every fd it does not pass on, then execs): the connection must carry bytes both ways
# afterwards, and a subprocess's output must come back. The same script passes natively first.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
need_lib

cat >"$TSK_WORK/conn_after_subprocess.py" <<'PY'
import socket, subprocess
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
c = socket.create_connection(l.getsockname(), timeout=5)
s, _ = l.accept()
s.settimeout(5)
subprocess.run(["true"], check=True)
out = subprocess.run(["echo", "child"], capture_output=True, check=True).stdout
c.sendall(b"ping")
assert s.recv(4) == b"ping", "the server side lost the connection"
s.sendall(b"pong")
assert c.recv(4) == b"pong", "the client side lost the connection"
assert out == b"child\n", out
print("ok")
PY

ns_up
native=$(bounded 20 "$TSK_TOOL" ns exec "$NS" -- "$TSK_PY" "$TSK_WORK/conn_after_subprocess.py" 2>&1) || true
[[ $native == ok ]] || fail "natively the script said: $native"
out=$(bounded 20 run_shim --ns "$NS" -- "$TSK_PY" "$TSK_WORK/conn_after_subprocess.py" 2>&1) ||
	fail "under the shim: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
[[ $out == ok ]] || fail "under the shim the script said: $out"
log "a connection survives subprocess.run, natively and on the stack"
pass
