#!/usr/bin/env bash
# The real-program matrix, part 3 of 3 (see 40-matrix-tcp-kernel): over UDP, unmodified programs
# under the shim against the kernel's echo service or a kernel-side client (198.18.0.1), and
# against another shimmed program (server on tap0 198.18.0.2, client on tap1 198.18.0.3). Every row
# checks the bytes of every datagram; one line per row.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=matrix/lib.sh
source "$TSK_DIR/matrix/lib.sh"
# shellcheck source=matrix/rows.sh
source "$TSK_DIR/matrix/rows.sh"
mx_need socat ncat iperf3

# Expected failures: row id, then the reason (docs/compatibility.md, "Real programs").
MX_XFAIL=$(cat <<'TABLE'
TABLE
)

mx_setup
udp_iperf=(1400000 -u -l 1400 -b 50M)
row udp-socat-client-kernel "socat udp client -> kernel echo" socat r_udp socat service k s0 7
row udp-socat-server-kernel "socat udp server (PIPE) <- kernel udp client" socat r_udp udp_echo socat s0 k 5301
row udp-ncat-client-kernel "ncat -u client -> kernel echo" ncat r_udp ncat service k s0 7
row udp-ncat-server-kernel "ncat -u server <-> kernel ncat -u" ncat r_ncat_udp s0 k 5302
row udp-asyncio-client-kernel "python3 asyncio datagram client -> kernel echo" python3 r_udp aio service k s0 7
row udp-asyncio-server-kernel "python3 asyncio datagram server <- kernel udp client" python3 r_udp udp_echo aio s0 k 5303
row udp-iperf3-client-kernel "iperf3 -u client -> kernel iperf3 server" iperf3 r_iperf k s0 5304 "${udp_iperf[@]}"
row udp-iperf3-server-kernel "iperf3 server <- kernel iperf3 -u client" iperf3 r_iperf s0 k 5305 "${udp_iperf[@]}"
row udp-socat-shim "socat udp client -> shim socat udp server" socat r_udp socat socat s0 s1 5401
row udp-ncat-shim "ncat -u client <-> shim ncat -u server" ncat r_ncat_udp s0 s1 5402
row udp-asyncio-shim "python3 asyncio datagram client -> shim asyncio server" python3 r_udp aio aio s0 s1 5403
row udp-iperf3-shim "iperf3 -u client -> shim iperf3 server" iperf3 r_iperf s0 s1 5404 "${udp_iperf[@]}"
mx_finish
