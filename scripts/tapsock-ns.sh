# shellcheck shell=bash
# The `ns` verb of scripts/tapsock (sourced by it): network namespaces with TAP devices, kernel-side
# impairment (nftables, tbf) and helper services. Uses say/die/usage_error/take_value/int_between,
# STATE_DIR and the addressing plan from scripts/tapsock.

# ----------------------------------------------------------------------------------------------- ns

# "2%" / "0.5%" -> drops per thousand; fails on anything else.
percent_to_permille() {
	local p=${1%\%}
	[[ $1 == *% && $p =~ ^([0-9]+)(\.[0-9]+)?$ ]] || return 1
	awk -v p="$p" 'BEGIN { if (p > 100) exit 1; printf "%d\n", p * 10 + 0.5 }'
}

# tc rate ("200mbit", "1gbit", "10mbps") -> bytes per second, to size the tbf burst.
rate_to_bytes() {
	local r=${1,,}
	[[ $r =~ ^([0-9]+(\.[0-9]+)?)([kmgt]?)(bit|bps)?$ ]] || return 1
	local num=${BASH_REMATCH[1]} prefix=${BASH_REMATCH[3]} unit=${BASH_REMATCH[4]:-bit}
	awk -v n="$num" -v p="$prefix" -v u="$unit" 'BEGIN {
		m = 1; if (p == "k") m = 1e3; else if (p == "m") m = 1e6; else if (p == "g") m = 1e9; else if (p == "t") m = 1e12
		b = n * m; if (u == "bit") b = b / 8
		if (b < 1) exit 1
		printf "%d\n", b }'
}

# Parses an --impair spec into IMP_LOSS / IMP_DUP (per thousand) and IMP_RATE (tc rate or "").
parse_impair() {
	local -a words
	read -r -a words <<<"$1"
	IMP_LOSS=0 IMP_DUP=0 IMP_RATE=""
	local i=0
	while ((i < ${#words[@]})); do
		local key=${words[i]} val=${words[i + 1]:-}
		[[ -n $val ]] || usage_error "ns up: --impair: '$key' needs a value"
		case $key in
		loss) IMP_LOSS=$(percent_to_permille "$val") || usage_error "ns up: --impair: bad loss '$val' (want e.g. 2% or 0.5%)" ;;
		dup) IMP_DUP=$(percent_to_permille "$val") || usage_error "ns up: --impair: bad dup '$val' (want e.g. 1%)" ;;
		rate)
			rate_to_bytes "$val" >/dev/null || usage_error "ns up: --impair: bad rate '$val' (want e.g. 200mbit)"
			IMP_RATE=$val
			;;
		*) usage_error "ns up: --impair: unknown impairment '$key' (known: loss P%, dup P%, rate R)" ;;
		esac
		i=$((i + 2))
	done
}

# Commands inside the namespace being built.
nsx() { ip netns exec "$NS" "$@"; }

record() { printf '%s\n' "$*" >>"$STATE_DIR/$NS"; }

# Helper links (veth, ifb) get no IPv6 link-local address: no MLD/RS chatter, no second fe80 route.
# Usage: add_quiet_link NAME type KIND [peer name PEER]
add_quiet_link() {
	local name=$1
	shift
	ip -n "$NS" link add "$name" "$@"
	ip -n "$NS" link set "$name" addrgenmode none
	if [[ ${1:-} == type && ${2:-} == veth && ${3:-} == peer ]]; then
		ip -n "$NS" link set "${5:?}" addrgenmode none
	fi
}

# Applies the parsed impairments on the kernel side of every TAP, in both directions.
#   To the stack (netdev egress hook of tapK, kernel >= 5.16): loss, dup; tbf on tapK shapes the rate.
#   From the stack (netdev ingress hook of tapK): loss, dup; for the rate, frames meant for the
#   kernel are forwarded through a shaped veth pair whose far end wears the kernel side's MAC, so
#   they queue behind a tbf like frames on a slow wire and reach the kernel there (weak host model).
# Unicast between two stacks on the bridge is impaired once, at the receiving stack's TAP.
apply_impair() {
	local ntaps=$1 mtu=$2 kdev=$3 kmac k tap entry
	kmac=$(nsx cat "/sys/class/net/$kdev/address")
	local burst=0
	if [[ -n $IMP_RATE ]]; then
		# tbf needs a burst of a couple of frames at least, and ~1 ms worth to reach high rates.
		local bps
		bps=$(rate_to_bytes "$IMP_RATE")
		burst=$((bps / 1000))
		((burst >= 4000)) || burst=4000
		((burst >= 2 * (mtu + 18))) || burst=$((2 * (mtu + 18)))
	fi

	if ((IMP_LOSS > 0)); then
		# A plain drop on the way out is reported back to the kernel's sender (ENOBUFS, and TCP
		# just resends at once), so it tests nothing. Instead the frame is stolen: forwarded to a
		# veth that is down. The sender believes it went out, as on a lossy wire.
		add_quiet_link tsnull type veth peer name tsnullp
		record "veth tsnull (down: sink for frames lost on their way to the stack)"
	fi
	if ((IMP_DUP > 0)) || [[ -n $IMP_RATE ]]; then
		# `dup to` and `fwd to` can only transmit; a veth turns that back into a receive.
		nsx sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
		for ((k = 0; k < ntaps; k++)); do
			entry=tsk$k
			add_quiet_link "$entry" type veth peer name "${entry}k"
			ip -n "$NS" link set "${entry}k" address "$kmac"
			ip -n "$NS" link set "$entry" mtu "$mtu"
			ip -n "$NS" link set "${entry}k" mtu "$mtu"
			ip -n "$NS" link set "$entry" up
			ip -n "$NS" link set "${entry}k" up
			if [[ -n $IMP_RATE ]]; then
				nsx tc qdisc add dev "$entry" root tbf rate "$IMP_RATE" burst "$burst" latency 400ms
			fi
			record "veth $entry/${entry}k (kernel entry for frames from tap$k${IMP_RATE:+, tbf $IMP_RATE})"
		done
	fi

	local rules="table netdev tapsock {"
	for ((k = 0; k < ntaps; k++)); do
		tap=tap$k entry=tsk$k
		rules+=$'\n'"  chain from_stack_$tap {"
		rules+=$'\n'"    type filter hook ingress device \"$tap\" priority 0; policy accept;"
		if ((ntaps > 1)); then
			# Unicast to another stack on the bridge: impaired at that stack's TAP egress instead.
			rules+=$'\n'"    ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 ether daddr != $kmac accept"
		fi
		if ((IMP_LOSS > 0)); then
			rules+=$'\n'"    numgen random mod 1000 < $IMP_LOSS counter drop"
		fi
		if ((IMP_DUP > 0)); then
			rules+=$'\n'"    numgen random mod 1000 < $IMP_DUP counter dup to \"$entry\""
		fi
		if [[ -n $IMP_RATE ]]; then
			# Neighbour discovery must arrive on the TAP itself (the kernel resolves per device);
			# broadcast and multicast stay on the link, unshaped.
			rules+=$'\n'"    ether daddr != $kmac accept"
			rules+=$'\n'"    ether type arp accept"
			rules+=$'\n'"    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } accept"
			rules+=$'\n'"    counter fwd to \"$entry\""
		fi
		rules+=$'\n'"  }"
		rules+=$'\n'"  chain to_stack_$tap {"
		rules+=$'\n'"    type filter hook egress device \"$tap\" priority 0; policy accept;"
		if ((IMP_LOSS > 0)); then
			rules+=$'\n'"    numgen random mod 1000 < $IMP_LOSS counter fwd to \"tsnull\""
		fi
		if ((IMP_DUP > 0)); then
			# The copy passes this hook again; the mark keeps it from being copied once more.
			rules+=$'\n'"    meta mark != $DUP_MARK numgen random mod 1000 < $IMP_DUP meta mark set $DUP_MARK counter dup to \"$tap\""
		fi
		rules+=$'\n'"  }"
	done
	rules+=$'\n'"}"
	printf '%s\n' "$rules" | nsx nft -f - || die "ns up: nft rejected the impairment rules:"$'\n'"$rules"
	record "nft table netdev tapsock (loss ${IMP_LOSS}/1000, dup ${IMP_DUP}/1000, both directions)"

	if [[ -n $IMP_RATE ]]; then
		for ((k = 0; k < ntaps; k++)); do
			# To the stack: shape the TAP's own transmit queue.
			nsx tc qdisc add dev "tap$k" root tbf rate "$IMP_RATE" burst "$burst" latency 400ms
			record "tbf $IMP_RATE on tap$k (to the stack)"
		done
	fi
}

ns_up_build() {
	local ntaps=$1 mtu=$2 k tap kdev
	# Defaults first, so every device made below inherits them: no DAD delay, no RS noise.
	nsx sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
	ip -n "$NS" link set lo up
	say "ns up: namespace $NS, lo up"

	for ((k = 0; k < ntaps; k++)); do
		tap=tap$k
		# Single queue, no packet info; the shim picks IFF_NO_PI/IFF_VNET_HDR itself when it attaches.
		ip -n "$NS" tuntap add dev "$tap" mode tap
		if [[ -n $mtu ]]; then ip -n "$NS" link set "$tap" mtu "$mtu"; fi
		ip -n "$NS" link set "$tap" up
		record "tap $tap"
		say "ns up: TAP $tap${mtu:+ (mtu $mtu)}"
	done

	if ((ntaps == 1)); then
		kdev=tap0
	else
		kdev=br0
		# No STP (ports forward at once) and no multicast snooping (NDP between stacks just floods).
		ip -n "$NS" link add br0 type bridge stp_state 0 mcast_snooping 0
		for ((k = 0; k < ntaps; k++)); do
			ip -n "$NS" link set "tap$k" master br0
		done
		if [[ -n $mtu ]]; then ip -n "$NS" link set br0 mtu "$mtu"; fi
		# Pin the bridge's MAC: left alone it follows the lowest port MAC and changes with the ports.
		ip -n "$NS" link set br0 address "$(nsx cat /sys/class/net/br0/address)"
		ip -n "$NS" link set br0 up
		record "bridge br0 (tap0..tap$((ntaps - 1)))"
		say "ns up: bridge br0 with tap0..tap$((ntaps - 1))"
	fi
	ip -n "$NS" addr add "$GW4/24" dev "$kdev"
	ip -n "$NS" addr add "$GW6/64" dev "$kdev" nodad
	record "addresses $GW4/24 $GW6/64 on $kdev"
	say "ns up: kernel side $kdev holds $GW4/24 and $GW6/64"

	local effective_mtu=${mtu:-1500}
	if ((IMP_LOSS > 0 || IMP_DUP > 0)) || [[ -n $IMP_RATE ]]; then
		apply_impair "$ntaps" "$effective_mtu" "$kdev"
		say "ns up: impairment on the kernel side, both directions: loss ${IMP_LOSS}/1000, dup ${IMP_DUP}/1000, rate ${IMP_RATE:-unlimited}"
	fi
}

# Kernel-side helper services (scripts/ns-services.py): one process per service, in NS, on the
# kernel's stack. Each is recorded as "service NAME (...) pid P start T" in the state file, T being
# the process's start time (/proc/P/stat field 22), so `ns down` stops exactly that process and
# never a later one that reuses its PID.
SERVICES_PY=$SELF_DIR/ns-services.py
KNOWN_SERVICES=" echo discard web "

# The per-namespace directory for service logs and the default web root.
services_dir() { printf '/tmp/tapsock-ns-%s\n' "$1"; }

# Debian's interpreter, not a version manager's shim (which would add processes of its own).
service_python() {
	if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else command -v python3; fi
}

# True while PID is the live (not zombie) process that started at START.
proc_is() {
	local pid=$1 start=$2 stat
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	local -a f
	read -r -a f <<<"${stat##*) }"
	[[ ${f[0]} != Z && ${f[19]} == "$start" ]]
}

proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	local -a f
	read -r -a f <<<"${stat##*) }"
	printf '%s\n' "${f[19]}"
}

# Starts one service: NAME PROTOCOLS PORT DIR [--root ROOT]; waits up to 5 s until it listens.
# Adds its line for stdout to SVC_LINES.
start_service() {
	local name=$1 protos=$2 port=$3 dir=$4 py pid start i
	shift 4
	local log=$dir/$name.log extra=""
	[[ ${1:-} == --root ]] && extra=" root $2"
	py=$(service_python) || die "ns up: no python3 for the services"
	: >"$log"
	# setsid: the service outlives this command and the terminal's signals; LD_PRELOAD is dropped so a
	# caller's preload (tapsock's own, say) never reaches the kernel-side service. Every step execs,
	# so $! is the service's PID.
	setsid env -u LD_PRELOAD ip netns exec "$NS" "$py" -u "$SERVICES_PY" "$name" --ns "$NS" "$@" \
		</dev/null >"$log" 2>&1 &
	pid=$!
	start=$(proc_start "$pid") || start=0
	# Recorded at once, so a failure from here on stops it too.
	record "service $name ($protos port $port$extra) pid $pid start $start"
	for ((i = 0; i < 100; i++)); do
		grep -q '^ready ' "$log" && break
		kill -0 "$pid" 2>/dev/null || die "ns up: service $name exited at once: $(tail -n 3 "$log" | tr '\n' ' ')"
		sleep 0.05
	done
	grep -q '^ready ' "$log" || die "ns up: service $name did not start listening within 5 s (log $log)"
	say "ns up: service $name: $protos port $port on $GW4 and $GW6$extra, pid $pid, log $log"
	SVC_LINES+=("$name: $protos $GW4 port $port pid $pid$extra")
}

# Starts the services of the comma-separated list $1; $2 is the web root ("" for the default).
start_services() {
	local list=$1 web_root=$2 dir name
	dir=$(services_dir "$NS")
	mkdir -p "$dir"
	local what="service logs"
	[[ -z $web_root && ,$list, == *,web,* ]] && what+=", default web root"
	record "directory $dir ($what)"
	for name in ${list//,/ }; do
		case $name in
		echo) start_service echo tcp+udp 7 "$dir" ;;
		discard) start_service discard tcp 9 "$dir" ;;
		web)
			if [[ -z $web_root ]]; then
				web_root=$dir/www
				"$(service_python)" "$SERVICES_PY" mkroot --root "$web_root" ||
					die "ns up: could not fill the default web root $web_root"
			fi
			start_service web tcp 80 "$dir" --root "$web_root"
			;;
		esac
	done
}

# Stops the services recorded for $NS, each by its PID and only while it is still that process:
# SIGTERM, up to 3 s, then SIGKILL.
stop_services() {
	local verb=$1 state=$STATE_DIR/$NS line name pid start i
	[[ -f $state ]] || return 0
	while IFS= read -r line; do
		[[ $line =~ ^service\ ([a-z]+)\ .*\ pid\ ([0-9]+)\ start\ ([0-9]+)$ ]] || continue
		name=${BASH_REMATCH[1]} pid=${BASH_REMATCH[2]} start=${BASH_REMATCH[3]}
		if ! proc_is "$pid" "$start"; then
			say "$verb: service $name (pid $pid) had already exited"
			continue
		fi
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			proc_is "$pid" "$start" || break
			sleep 0.1
		done
		if proc_is "$pid" "$start"; then
			kill -KILL "$pid" 2>/dev/null || true
			say "$verb: stopped service $name (pid $pid) with SIGKILL"
		else
			say "$verb: stopped service $name (pid $pid)"
		fi
	done <"$state"
	# The directory ns up made for the logs and the default web root (never a --web-root).
	local dir
	dir=$(services_dir "$NS")
	if grep -q "^directory $dir " "$state" && [[ -d $dir ]]; then
		rm -rf -- "$dir"
		say "$verb: removed $dir"
	fi
}

cmd_ns_up() {
	CURRENT_VERB="ns up"
	(($# > 0)) || usage_error "ns up: which namespace? (tapsock ns up NS [--taps N] [--mtu M] [--impair SPEC])"
	NS=$1
	shift
	valid_ns_name "$NS" || usage_error "ns up: '$NS' is not a usable namespace name"
	local ntaps=1 mtu="" impair="" services="" web_root=""
	while (($# > 0)); do
		case $1 in
		--taps | --taps=*) take_value "$@"; ntaps=$OPT_VALUE ;;
		--mtu | --mtu=*) take_value "$@"; mtu=$OPT_VALUE ;;
		--impair | --impair=*) take_value "$@"; impair=$OPT_VALUE ;;
		--services | --services=*) take_value "$@"; services=$OPT_VALUE ;;
		--web-root | --web-root=*) take_value "$@"; web_root=$OPT_VALUE ;;
		*) usage_error "ns up: unknown argument '$1'" ;;
		esac
		shift "$OPT_SHIFT"
	done
	if [[ -n $services ]]; then
		local svc list=""
		for svc in ${services//,/ }; do
			[[ $KNOWN_SERVICES == *" $svc "* ]] ||
				usage_error "ns up: --services: unknown service '$svc' (known:$KNOWN_SERVICES)"
			[[ ,$list, == *,$svc,* ]] || list+=${list:+,}$svc
		done
		services=$list
	fi
	if [[ -n $web_root ]]; then
		[[ ,$services, == *,web,* ]] || usage_error "ns up: --web-root without the web service (--services web)"
		[[ -d $web_root ]] || usage_error "ns up: --web-root: '$web_root' is not a directory"
		web_root=$(cd "$web_root" && pwd)
	fi
	int_between "$ntaps" 1 "$MAX_TAPS" ||
		usage_error "ns up: --taps wants a number from 1 to $MAX_TAPS, not '$ntaps'"
	if [[ -n $mtu ]]; then
		int_between "$mtu" 68 65521 ||
			usage_error "ns up: --mtu wants a number from 68 to 65521, not '$mtu'"
	fi
	parse_impair "$impair"

	ns_exists "$NS" && die "ns up: namespace '$NS' already exists (remove it first: $PROG_NAME ns down $NS)"

	mkdir -p "$STATE_DIR"
	ip netns add "$NS"
	: >"$STATE_DIR/$NS"
	record "netns $NS"
	# A half-built namespace is worse than none: take it all down again on any failure.
	trap 'rc=$?; if ((rc != 0)); then say "ns up: failed, removing $NS"; stop_services "ns up"; ip netns delete "$NS" 2>/dev/null || true; rm -f "$STATE_DIR/$NS"; fi' EXIT
	ns_up_build "$ntaps" "$mtu"
	SVC_LINES=()
	[[ -z $services ]] || start_services "$services" "$web_root"
	trap - EXIT

	local k
	for ((k = 0; k < ntaps; k++)); do
		printf 'tap%d: TAPSOCK_TAP=tap%d TAPSOCK_ADDR=%s.%d/24,%s:%d/64 TAPSOCK_GW=%s,%s\n' \
			"$k" "$k" "$NET4" $((k + 2)) "$NET6" $((k + 2)) "$GW4" "$GW6"
	done
	# One line per service, e.g. "web: tcp port 80, root /tmp/tapsock-ns-NS/www 198.18.0.1 pid 4242".
	((${#SVC_LINES[@]} == 0)) || printf '%s\n' "${SVC_LINES[@]}"
}

cmd_ns_down() {
	CURRENT_VERB="ns down"
	(($# == 1)) || usage_error "ns down: usage: tapsock ns down NS"
	NS=$1
	valid_ns_name "$NS" || usage_error "ns down: '$NS' is not a usable namespace name"
	if ! ns_exists "$NS"; then
		# Services of a namespace deleted behind our back stop on their own within a second; stop
		# any still there anyway.
		stop_services "ns down"
		rm -f "$STATE_DIR/$NS"
		say "ns down: namespace $NS does not exist, nothing to do"
		return 0
	fi
	if [[ -f $STATE_DIR/$NS ]]; then
		while IFS= read -r line; do say "ns down: removing $line"; done <"$STATE_DIR/$NS"
	fi
	stop_services "ns down"
	local pids
	pids=$(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ' || true)
	# Deleting the namespace takes its TAPs, bridge, veths, ifbs, nft tables and qdiscs with it.
	ip netns delete "$NS"
	rm -f "$STATE_DIR/$NS"
	say "ns down: deleted namespace $NS"
	if [[ -n ${pids// /} ]]; then
		say "ns down: note: processes still inside it keep it alive until they exit: ${pids% }"
	fi
}

cmd_ns_exec() {
	CURRENT_VERB="ns exec"
	(($# >= 1)) || usage_error "ns exec: usage: tapsock ns exec NS -- CMD..."
	NS=$1
	shift
	[[ ${1:-} == -- ]] && shift
	(($# > 0)) || usage_error "ns exec: no command given (tapsock ns exec NS -- CMD...)"
	ns_exists "$NS" || die "ns exec: network namespace '$NS' does not exist"
	exec ip netns exec "$NS" "$@"
}

cmd_ns() {
	local sub=${1:-}
	(($# > 0)) && shift
	case $sub in
	up) cmd_ns_up "$@" ;;
	down) cmd_ns_down "$@" ;;
	exec) cmd_ns_exec "$@" ;;
	*) usage >&2; usage_error "ns: unknown or missing subcommand '${sub}' (up, down, exec)" ;;
	esac
}
