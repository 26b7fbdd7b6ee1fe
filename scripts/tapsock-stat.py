#!/usr/bin/env python3
"""The client side of a shimmed process's control socket (shim/control.h): `tapsock stat` and
`tapsock log`. Called by scripts/tapsock, with the verb first:

  tapsock-stat.py stat [PID [--watch [SECS]] [--json]]
  tapsock-stat.py log PID [LEVEL]

The process answers one request per connection: `stat` (a JSON document, shim/stat_json.h),
`level`, or `log LEVEL`. The socket is <pid>.sock in $TAPSOCK_CONTROL_DIR, /run/tapsock, or
${XDG_RUNTIME_DIR:-/tmp}/tapsock-<euid>; sockets of processes that no longer exist are removed.
Exit status: 0 done, 1 an error (printed on stderr), 2 a usage error.
"""
import json
import os
import socket
import sys
import time

PROG = "tapsock"
LEVELS = ("off", "error", "warn", "info", "debug", "trace")
TIMEOUT_S = 5


class Failure(Exception):
    """An error for the user: printed as `tapsock: <message>`, exit status 1."""


def usage_error(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    print(f"try '{PROG} --help'", file=sys.stderr)
    sys.exit(2)


# ------------------------------------------------------------------------------ finding the socket

def read_proc(pid, name):
    """/proc/PID/NAME as bytes; None when unreadable (permission), Failure when no such process."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            raise Failure(f"no such process: {pid}")
        return None
    except (PermissionError, ProcessLookupError):
        return None


def comm_of(pid):
    data = read_proc(pid, "comm")
    return data.decode(errors="replace").strip() if data else "?"


def environ_of(pid):
    data = read_proc(pid, "environ")
    env = {}
    for item in (data or b"").split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def euid_of(pid):
    data = read_proc(pid, "status") or b""
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])
    return os.geteuid()


def candidate_dirs(pid=None):
    """Where control sockets may be, most specific first."""
    dirs = []
    if os.environ.get("TAPSOCK_CONTROL_DIR"):
        dirs.append(os.environ["TAPSOCK_CONTROL_DIR"])
    uids = {os.geteuid()}
    xdgs = [os.environ.get("XDG_RUNTIME_DIR")]
    if pid is not None:
        env = environ_of(pid)
        if env.get("TAPSOCK_CONTROL_DIR"):
            dirs.append(env["TAPSOCK_CONTROL_DIR"])
        uids = {euid_of(pid)}
        xdgs.append(env.get("XDG_RUNTIME_DIR"))
    dirs.append("/run/tapsock")
    for uid in sorted(uids):
        for xdg in xdgs:
            if xdg and xdg.startswith("/"):
                dirs.append(f"{xdg}/tapsock-{uid}")
        dirs.append(f"/run/user/{uid}/tapsock-{uid}")
        dirs.append(f"/tmp/tapsock-{uid}")
    seen, out = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def remove_stale(dirs):
    """Removes <pid>.sock files whose process is gone (left by a crash or a SIGKILL)."""
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            stem = name[:-5] if name.endswith(".sock") else ""
            if stem.isdigit() and not os.path.exists(f"/proc/{stem}"):
                try:
                    os.unlink(os.path.join(d, name))
                except OSError:
                    pass


def shim_loaded(pid):
    """True or False when /proc/PID/maps says whether libtapsock is mapped; None if unreadable."""
    data = read_proc(pid, "maps")
    if data is None:
        return None
    return b"libtapsock" in data


def find_socket(pid):
    if not os.path.exists(f"/proc/{pid}"):
        raise Failure(f"no such process: {pid}")
    dirs = candidate_dirs(pid)
    remove_stale(dirs)
    denied = []
    for d in dirs:
        path = os.path.join(d, f"{pid}.sock")
        try:
            os.stat(path)
            return path
        except PermissionError:
            denied.append(d)
        except OSError:
            pass
    comm = comm_of(pid)
    if denied:
        raise Failure(f"permission denied looking for the control socket of process {pid} ({comm}) "
                      f"in {', '.join(denied)}: run as root or as the process's user")
    loaded = shim_loaded(pid)
    if loaded is False:
        raise Failure(f"process {pid} ({comm}) is not running under tapsock (libtapsock.so is not loaded)")
    why = ("it has not opened an AF_INET/AF_INET6 socket yet (the stack starts on the first one), "
           "runs with TAPSOCK_CONTROL=0, or is a fork() child of a shimmed process")
    if loaded is None:
        why = "it is not running under tapsock, or " + why + " (cannot read its memory map: permission)"
    raise Failure(f"process {pid} ({comm}) has no control socket: {why}; looked in {', '.join(dirs)}")


def request(pid, line):
    """Sends one request line to PID's control socket; returns the whole answer as text."""
    path = find_socket(pid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT_S)
    try:
        try:
            s.connect(path)
        except PermissionError:
            raise Failure(f"permission denied on {path}: run as root or as the user of process {pid}")
        except ConnectionRefusedError:
            raise Failure(f"nobody answers on {path}: process {pid} is not the one that made it, "
                          "or its control thread stopped")
        except FileNotFoundError:
            raise Failure(f"process {pid} went away (its control socket {path} is gone)")
        s.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout:
        raise Failure(f"no answer from process {pid} on {path} within {TIMEOUT_S} s")
    except ConnectionResetError:
        raise Failure(f"process {pid} closed its control socket without answering")
    finally:
        s.close()
    answer = b"".join(chunks).decode(errors="replace")
    if answer.startswith("error:"):
        raise Failure(f"process {pid}: {answer[6:].strip()}")
    return answer


# --------------------------------------------------------------------------------------- formatting

def ms(us):
    """Microseconds as `ss` prints milliseconds: up to three decimals, no trailing zeros."""
    text = f"{us / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def format_counters(groups):
    lines = []
    for counters in groups.values():
        for name, value in counters.items():
            if value:
                lines.append(f"{name:<32}{value}")
    return lines


def format_tcp(doc):
    rows = [("State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Process")]
    details = [None]
    for c in doc.get("tcp", []):
        fd = c.get("fd")
        process = f'users:(("{doc.get("program", "?")}",pid={doc.get("pid")},fd={fd}))' if fd is not None else ""
        conn = f"c{c['id']}" + (" orphan" if c.get("orphan") and fd is None else "")
        rows.append((c["state"], str(c["recv_q"]), str(c["send_q"]), c["local"], c["remote"],
                     (process + " " + conn).strip()))
        if c["state"] == "LISTEN":
            details.append(None)
            continue
        parts = [f"rtt:{ms(c['rtt_us'])}/{ms(c['rttvar_us'])}", f"rto:{ms(c['rto_us'])}",
                 f"cwnd:{c['cwnd']}"]
        if c.get("ssthresh") is not None:
            parts.append(f"ssthresh:{c['ssthresh']}")
        parts += [f"mss:{c['mss']}", f"retrans:{c['retrans']}/{c['total_retrans']}",
                  f"bytes_acked:{c['bytes_acked']}", f"bytes_received:{c['bytes_received']}",
                  f"segs_out:{c['segs_out']}", f"segs_in:{c['segs_in']}"]
        if c.get("in_recovery"):
            parts.append("recovery")
        details.append("\t " + " ".join(parts))
    return table(rows, details)


def format_udp(doc):
    rows = [("State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Process")]
    for u in doc.get("udp", []):
        fd = u.get("fd")
        process = f'users:(("{doc.get("program", "?")}",pid={doc.get("pid")},fd={fd}))' if fd is not None else ""
        rows.append((u["state"], str(u["recv_q"]), "0", u["local"], u["remote"], process))
    return table(rows, [None] * len(rows))


def table(rows, details):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for row, detail in zip(rows, details):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        out.append(("  ".join(cells) + "  " + row[-1]).rstrip())
        if detail:
            out.append(detail)
    return out


def format_stat(doc):
    lines = [f"pid {doc.get('pid')} ({doc.get('program')}), up {doc.get('uptime_s', 0):.1f} s, "
             f"log level {doc.get('log_level')}"]
    for nic in doc.get("interfaces", []):
        addrs = " ".join(nic.get("addresses", [])) or "-"
        lines.append(f"  {nic['name']:<8} index {nic['index']:<3} mtu {nic['mtu']:<6} {nic['mac']}  {addrs}")
    lines.append("")
    lines.append("Counters (non-zero):")
    lines += format_counters(doc.get("counters", {})) or ["(none)"]
    lines.append("")
    tcp = doc.get("tcp", [])
    lines.append(f"TCP ({len(tcp)}):")
    lines += format_tcp(doc) if tcp else ["(none)"]
    udp = doc.get("udp", [])
    if udp:
        lines.append("")
        lines.append(f"UDP ({len(udp)}):")
        lines += format_udp(doc)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ verbs

def parse_pid(text):
    if not text.isdigit() or int(text) <= 0:
        usage_error(f"'{text}' is not a process id")
    return int(text)


def list_sockets():
    """`tapsock stat` without a PID: the processes that have a control socket."""
    dirs = candidate_dirs()
    remove_stale(dirs)
    found = []
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            if name.endswith(".sock") and name[:-5].isdigit():
                found.append((int(name[:-5]), os.path.join(d, name)))
    if not found:
        print(f"no shimmed process with a control socket (looked in {', '.join(dirs)})")
        return 0
    print(f"{'PID':>8}  {'PROGRAM':<16} SOCKET")
    for pid, path in found:
        print(f"{pid:>8}  {comm_of(pid):<16} {path}")
    return 0


def cmd_stat(args):
    pid = None
    watch = None
    as_json = False
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--json":
            as_json = True
        elif a == "--watch" or a.startswith("--watch="):
            watch = 1.0
            value = a.partition("=")[2] if "=" in a else None
            if value is None and i + 1 < len(args) and not args[i + 1].startswith("-") and pid is not None:
                value = args[i + 1]
                i += 1
            if value is not None:
                try:
                    watch = float(value)
                except ValueError:
                    usage_error(f"stat: --watch wants seconds, not '{value}'")
                if not 0.1 <= watch <= 3600:
                    usage_error("stat: --watch wants 0.1 to 3600 seconds")
        elif a in ("-h", "--help"):
            print("usage: tapsock stat [PID [--watch [SECS]] [--json]]")
            return 0
        elif a.startswith("-"):
            usage_error(f"stat: unknown option '{a}'")
        elif pid is None:
            pid = parse_pid(a)
        else:
            usage_error(f"stat: unexpected argument '{a}'")
        i += 1
    if pid is None:
        if watch is not None or as_json:
            usage_error("stat: --watch and --json need a PID")
        return list_sockets()

    def once():
        answer = request(pid, "stat")
        if as_json:
            return answer.rstrip("\n")
        try:
            doc = json.loads(answer)
        except ValueError as e:
            raise Failure(f"process {pid} sent something that is not JSON: {e}")
        return format_stat(doc)

    if watch is None:
        print(once())
        return 0
    clear = sys.stdout.isatty() and not as_json
    try:
        while True:
            try:
                text = once()
            except Failure:
                if not os.path.exists(f"/proc/{pid}"):
                    print(f"{PROG}: process {pid} exited", file=sys.stderr)
                    return 0
                raise
            if clear:
                sys.stdout.write("\033[H\033[2J")
            if not as_json:
                print(time.strftime("%H:%M:%S") + f"  every {watch:g} s (Ctrl-C stops)")
            print(text, flush=True)
            time.sleep(watch)
    except KeyboardInterrupt:
        return 0


def cmd_log(args):
    if not args or args[0] in ("-h", "--help"):
        if args:
            print("usage: tapsock log PID [LEVEL]")
            return 0
        usage_error("log: no PID given (tapsock log PID [LEVEL])")
    if len(args) > 2:
        usage_error(f"log: unexpected argument '{args[2]}'")
    pid = parse_pid(args[0])
    if len(args) == 1:
        print(request(pid, "level").strip())
        return 0
    level = args[1].lower()
    if level not in LEVELS:
        usage_error(f"log: LEVEL is one of {', '.join(LEVELS)}, not '{args[1]}'")
    was = request(pid, "level").strip()
    request(pid, f"log {level}")
    print(f"process {pid} ({comm_of(pid)}): log level {level} (was {was})")
    return 0


def main(argv):
    if not argv:
        usage_error("tapsock-stat.py: verb stat or log expected")
    verb, args = argv[0], argv[1:]
    try:
        if verb == "stat":
            return cmd_stat(args)
        if verb == "log":
            return cmd_log(args)
        usage_error(f"unknown verb '{verb}'")
    except Failure as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tapsock stat PID | head`
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
