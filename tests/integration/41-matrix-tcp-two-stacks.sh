#!/usr/bin/env bash
# The real-program matrix, part 2 of 3 (see 40-matrix-tcp-kernel): over TCP, between two shimmed
# programs on two private stacks, the server on tap0 (198.18.0.2), the client on tap1
# (198.18.0.3), through the namespace's bridge. Every row checks the bytes; one line per row.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=matrix/lib.sh
source "$TSK_DIR/matrix/lib.sh"
# shellcheck source=matrix/rows.sh
source "$TSK_DIR/matrix/rows.sh"
mx_need curl wget socat ncat nc iperf3

# Expected failures: row id, then the reason (docs/compatibility.md, "Real programs").
MX_XFAIL=$(cat <<'TABLE'
TABLE
)

mx_setup
row tcp-curl-client-shim "curl client -> shim http.server" "curl python3" r_http curl s0 s1 5201
row tcp-wget-client-shim "wget client -> shim http.server" "wget python3" r_http wget s0 s1 5202
row tcp-urllib-client-shim "python3 urllib client -> shim http.server" python3 r_http urllib s0 s1 5203
row tcp-asyncio-shim "python3 asyncio client -> shim asyncio server" python3 r_echo aio aio s0 s1 5204
row tcp-socat-shim "socat client -> shim socat -u server" socat r_sink s0 s1 5205
row tcp-ncat-shim "ncat client <-> shim ncat server, both ways" ncat r_exchange ncat s0 s1 5206
row tcp-nc-shim "nc client -> shim nc server" nc r_nc_send s0 s1 5207
row tcp-iperf3-shim "iperf3 client -> shim iperf3 server" iperf3 r_iperf s0 s1 5208 $((16 << 20))
mx_finish
