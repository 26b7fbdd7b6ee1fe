# shellcheck shell=bash
# The rows of the real-program matrix (tests/integration/4*-matrix-*.sh): one function per kind of
# row, called through `row` (matrix/lib.sh) with the row's sides and ports. Each checks the bytes.
# shellcheck disable=SC2317 # called through `row`

blob=$MX_WWW/blob

# --- HTTP: CLIENT (curl, wget, urllib) on CLI fetches the 2 MiB blob from SRV. On the kernel the
# server is the web service (port 80), on a shim python3 -m http.server on PORT.
r_http() {
	local client=$1 srv_side=$2 cli_side=$3 port=$4 host out=$ROW_DIR/got
	host=$(addr "$srv_side")
	if [[ $srv_side != k ]]; then
		srv http "$srv_side" "$TSK_PY" -u -m http.server "$port" --bind "$host" --directory "$MX_WWW"
		ready http '^Serving HTTP' || return
	fi
	local url=http://$host:$port/blob
	case $client in
	curl) on "$cli_side" curl -sS --max-time 15 -o "$out" -w '%{http_code}\n' "$url" >"$ROW_DIR/client.log" 2>&1 ;;
	wget) on "$cli_side" wget -q -T 15 -t 1 -O "$out" "$url" >"$ROW_DIR/client.log" 2>&1 ;;
	urllib) on "$cli_side" "$TSK_PY" "$TSK_DIR/fetch.py" --max-time 15 -o "$out" "$url" >"$ROW_DIR/client.log" 2>&1 ;;
	esac || why "$client exited $?: $(tail -n 2 "$ROW_DIR/client.log" | tr '\n' ' ')" || return
	same "$out" "$blob" "$client's download"
}

# --- TCP echo: CLIENT on CLI sends the 2 MiB blob to an echo SERVER on SRV and checks what came back.
#   servers: service (the kernel's echo, port 7), socat (TCP-LISTEN ... PIPE), socat-fork (the
#   same with fork), aio (python3 asyncio streams), forking (python3 socketserver's
#   ForkingTCPServer)
#   clients: socat, ncat, nc, aio
r_echo() {
	local client=$1 server=$2 srv_side=$3 cli_side=$4 port=$5 host out=$ROW_DIR/got
	host=$(addr "$srv_side")
	case $server in
	service) port=7 ;;
	socat)
		srv server "$srv_side" socat -d -d -t 5 "TCP-LISTEN:$port,bind=$host,reuseaddr" PIPE
		ready server 'listening on' || return
		;;
	socat-fork)
		srv server "$srv_side" socat -d -d -t 5 "TCP-LISTEN:$port,bind=$host,reuseaddr,fork" PIPE
		ready server 'listening on' || return
		;;
	forking)
		srv server "$srv_side" "$TSK_PY" -u "$MX_DIR/forking_echo.py" --bind "$host" --port "$port"
		ready server '^listening' || return
		;;
	aio)
		srv server "$srv_side" "$TSK_PY" -u "$MX_DIR/aio.py" tcp-server --bind "$host" --port "$port"
		ready server '^listening' || return
		;;
	esac
	case $client in
	socat) on "$cli_side" socat -t 10 STDIO "TCP:$host:$port" <"$blob" >"$out" 2>"$ROW_DIR/client.err" ;;
	ncat) on "$cli_side" ncat "$host" "$port" <"$blob" >"$out" 2>"$ROW_DIR/client.err" ;;
	nc) on "$cli_side" nc -N "$host" "$port" <"$blob" >"$out" 2>"$ROW_DIR/client.err" ;;
	aio)
		# aio.py sends its own seeded bytes and checks the echo itself.
		on "$cli_side" "$TSK_PY" "$MX_DIR/aio.py" tcp-client --host "$host" --port "$port" \
			--bytes $((2 << 20)) >"$out" 2>"$ROW_DIR/client.err"
		;;
	esac || why "$client exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	if [[ $client == aio ]]; then
		grep -q "^ok $((2 << 20)) bytes" "$out" || why "asyncio client: $(cat "$out" "$ROW_DIR/client.err")"
		return
	fi
	same "$out" "$blob" "echo of the $client client"
}

# --- socat on CLI sends the blob to the kernel's discard service, which logs its sha256; socat
# half-closes and waits for the service to close.
r_discard() {
	local cli_side=$1 want
	want=$(sha256sum <"$blob" | cut -d' ' -f1)
	on "$cli_side" socat -t 10 STDIO "TCP:$MX_K:9" <"$blob" >/dev/null 2>"$ROW_DIR/client.err" ||
		why "socat exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q "^discard $MX_A:[0-9]*: $((2 << 20)) bytes sha256 $want" "$MX_SVC_DIR/discard.log" && return 0
		sleep 0.1
	done
	why "the discard service did not log $((2 << 20)) bytes with sha256 ${want:0:12}...: $(grep "^discard $MX_A" "$MX_SVC_DIR/discard.log" | tail -n 1)"
}

# --- socat -u on CLI sends the blob and exits at once (as soon as its writes return) to a kernel
# reader that starts reading 1 s after the connection; it must get all of it (its receive window
# holds only a small part). On Linux the kernel delivers a socket's data after its process has
# exited; the stack's exit waits while the peer makes progress (shim/exit.h).
r_send_exit() {
	local cli_side=$1 port=$2 want
	want=$(sha256sum <"$blob" | cut -d' ' -f1)
	srv sink k "$TSK_PY" -u "$MX_DIR/aio.py" tcp-sink --bind "$MX_K" --port "$port" \
		--go "$ROW_DIR/go" --idle 1 --lifetime 20
	ready sink '^listening' || return
	# The reader starts 1 s after the connection, whenever socat exits: socat writes everything
	# into the stack's send buffer and exits at once, so its exit must deliver the rest.
	(sleep 1 && touch "$ROW_DIR/go") &
	on "$cli_side" socat -u "OPEN:$blob" "TCP:$MX_K:$port" 2>"$ROW_DIR/client.err" ||
		why "socat exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	srv_end sink || why "${ROW_WHY:-the reader: $(tail -n 1 "$ROW_DIR/sink.log")}" || return
	grep -q "^received $((2 << 20)) bytes sha256 $want" "$ROW_DIR/sink.log" ||
		why "the reader: $(tail -n 1 "$ROW_DIR/sink.log")"
}

# --- socat -u TCP-LISTEN on SRV saves what socat on CLI sends; the client half-closes and waits
# for the server's close, which comes once the server has read everything.
r_sink() {
	local srv_side=$1 cli_side=$2 port=$3 host
	host=$(addr "$srv_side")
	srv server "$srv_side" socat -d -d -u "TCP-LISTEN:$port,bind=$host,reuseaddr" "CREATE:$ROW_DIR/got"
	ready server 'listening on' || return
	on "$cli_side" socat -t 10 STDIO "TCP:$host:$port" <"$blob" >/dev/null 2>"$ROW_DIR/client.err" ||
		why "socat client exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	srv_end server || why "${ROW_WHY:-socat server exited $?: $(tail -n 2 "$ROW_DIR/server.log" | tr '\n' ' ')}" || return
	same "$ROW_DIR/got" "$blob" "what the socat server saved"
}

# --- Both ways on one connection: PROG -l on SRV sends 64 KiB and saves what it gets; PROG on CLI
# sends the 2 MiB blob and saves what it gets. ncat half-closes when its stdin ends and exits once
# the peer's EOF came too; the server's stdin stays open until it has the client's 2 MiB, so that
# neither side's exit races the other's last bytes.
r_exchange() {
	local prog=$1 srv_side=$2 cli_side=$3 port=$4 host fifo=$ROW_DIR/server.in
	host=$(addr "$srv_side")
	: >"$ROW_DIR/got-by-server"
	mkfifo "$fifo"
	feed "$TSK_WORK/small" "$ROW_DIR/got-by-server" $((2 << 20)) >"$fifo" &
	ROW_PIDS+=("$!")
	srv server --in "$fifo" --out "$ROW_DIR/got-by-server" "$srv_side" ncat -v -l "$host" "$port"
	ready server 'Listening on' || return
	on "$cli_side" ncat "$host" "$port" <"$blob" >"$ROW_DIR/got-by-client" 2>"$ROW_DIR/client.err" ||
		why "$prog client exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	srv_end server || why "${ROW_WHY:-$prog server exited $?: $(tail -n 2 "$ROW_DIR/server.log" | tr '\n' ' ')}" || return
	same "$ROW_DIR/got-by-server" "$blob" "what the $prog server got" || return
	same "$ROW_DIR/got-by-client" "$TSK_WORK/small" "what the $prog client got"
}

# --- OpenBSD nc: nc -l on SRV saves what nc -N on CLI sends (nc ends a connection at the peer's
# EOF even with data of its own still to send, so one way only).
r_nc_send() {
	local srv_side=$1 cli_side=$2 port=$3 host
	host=$(addr "$srv_side")
	srv server --out "$ROW_DIR/got" "$srv_side" nc -n -v -l "$host" "$port"
	ready server 'Listening on' || return
	on "$cli_side" nc -N "$host" "$port" <"$blob" 2>"$ROW_DIR/client.err" ||
		why "nc client exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	srv_end server || why "${ROW_WHY:-nc server exited $?: $(tail -n 2 "$ROW_DIR/server.log" | tr '\n' ' ')}" || return
	same "$ROW_DIR/got" "$blob" "what the nc server got"
}

# --- iperf3 -s -1 on SRV, iperf3 -c on CLI with -n BYTES and the extra options; the client's
# JSON report must say BYTES sent, some and no more received, no error (no loss for UDP). iperf3
# cannot count what was still in flight at the end (matrix/iperf_check.py).
r_iperf() {
	local srv_side=$1 cli_side=$2 port=$3 bytes=$4 host
	shift 4
	host=$(addr "$srv_side")
	srv server "$srv_side" iperf3 -s -1 -B "$host" -p "$port" --forceflush
	ready server 'Server listening' || return
	on "$cli_side" iperf3 -c "$host" -p "$port" -n "$bytes" -J "$@" >"$ROW_DIR/client.json" 2>"$ROW_DIR/client.err"
	local rc=$? line
	line=$("$TSK_PY" "$MX_DIR/iperf_check.py" "$ROW_DIR/client.json" "$bytes" 2>&1) || why "$line (client exit $rc)" || return
	((rc == 0)) || why "iperf3 client exited $rc: $line" || return
	srv_end server || why "${ROW_WHY:-iperf3 server exited $?: $(tail -n 2 "$ROW_DIR/server.log" | tr '\n' ' ')}"
}

# --- UDP echo: CLIENT on CLI, echo SERVER on SRV.
#   servers: service (kernel echo, port 7), socat (UDP-LISTEN ... PIPE, one datagram per 1400-byte
#   read), aio (asyncio datagram endpoint)
#   clients: socat (64 KiB as 1400-byte datagrams; the echoed stream must match), ncat (one
#   datagram), aio (50 datagrams of 1..1400 bytes, each echo checked), udp_echo (the same, plain
#   sockets: the checking peer for a server row)
r_udp() {
	local client=$1 server=$2 srv_side=$3 cli_side=$4 port=$5 host out=$ROW_DIR/got
	host=$(addr "$srv_side")
	case $server in
	service) port=7 ;;
	socat)
		srv server "$srv_side" socat -d -d -b 1400 "UDP-LISTEN:$port,bind=$host" PIPE
		ready server 'listening on' || return
		;;
	aio)
		srv server "$srv_side" "$TSK_PY" -u "$MX_DIR/aio.py" udp-server --bind "$host" --port "$port"
		ready server '^listening' || return
		;;
	esac
	: >"$out"
	# feed watches the size of the file the client writes: SC2094 is meant.
	# shellcheck disable=SC2094
	case $client in
	socat)
		# One datagram first, the rest once its echo is back: a burst sent while ARP is still
		# resolving loses all but 8 datagrams on the stack (ArpQueueDrops), not the point here.
		feed "$TSK_WORK/small" "$out" $((64 << 10)) 1400 |
			on "$cli_side" socat -t 0.5 -b 1400 STDIO "UDP:$host:$port" >"$out" 2>"$ROW_DIR/client.err"
		;;
	ncat)
		feed "$TSK_WORK/dgram" "$out" "$(stat -c %s "$TSK_WORK/dgram")" |
			on "$cli_side" ncat -u "$host" "$port" >"$out" 2>"$ROW_DIR/client.err"
		;;
	aio) on "$cli_side" "$TSK_PY" "$MX_DIR/aio.py" udp-client --host "$host" --port "$port" --count 50 >"$out" 2>"$ROW_DIR/client.err" ;;
	udp_echo) on "$cli_side" "$TSK_PY" "$TSK_DIR/udp_echo.py" --client "$host" --port "$port" --count 50 --min 1 --max 1400 >"$out" 2>"$ROW_DIR/client.err" ;;
	esac || why "$client exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	case $client in
	socat) same "$out" "$TSK_WORK/small" "the echoed datagrams" ;;
	ncat) same "$out" "$TSK_WORK/dgram" "the echoed datagram" ;;
	aio | udp_echo) grep -q '^ok 50' "$out" || why "$client: $(cat "$out" "$ROW_DIR/client.err" | tr '\n' ' ')" ;;
	esac
}

# --- ncat -u both ways: ncat -u -l on SRV answers the first datagram with its own; both checked.
r_ncat_udp() {
	local srv_side=$1 cli_side=$2 port=$3 host fifo=$ROW_DIR/server.in
	host=$(addr "$srv_side")
	local got_s=$ROW_DIR/got-by-server got_c=$ROW_DIR/got-by-client n2
	n2=$(stat -c %s "$TSK_WORK/dgram2")
	: >"$got_s"
	: >"$got_c"
	mkfifo "$fifo"
	# The server's stdin stays open until the client has the answer.
	feed "$TSK_WORK/dgram2" "$got_c" "$n2" >"$fifo" &
	ROW_PIDS+=("$!")
	srv server --in "$fifo" --out "$got_s" "$srv_side" ncat -v -u -l "$host" "$port"
	ready server 'Listening on' || return
	# shellcheck disable=SC2094
	feed "$TSK_WORK/dgram" "$got_c" "$n2" |
		on "$cli_side" ncat -u "$host" "$port" >"$got_c" 2>"$ROW_DIR/client.err" ||
		why "ncat -u client exited $?: $(tail -n 2 "$ROW_DIR/client.err" | tr '\n' ' ')" || return
	same "$got_s" "$TSK_WORK/dgram" "what the ncat -u server got" || return
	same "$got_c" "$TSK_WORK/dgram2" "what the ncat -u client got"
}
