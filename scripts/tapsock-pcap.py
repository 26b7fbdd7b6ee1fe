#!/usr/bin/env python3
"""tapsock pcap: helpers around the capture files a shimmed process writes (TAPSOCK_PCAP).

  tapsock pcap where PID           the capture files of a running shimmed process, newest first
  tapsock pcap info FILE...        frames, bytes, time span and snap length of each file
  tapsock pcap summary [-c N] [--tool auto|tcpdump|tshark|builtin] FILE [FILTER...]
                                   one line per frame: tcpdump (or tshark) when installed,
                                   else a built-in reader (Ethernet, ARP, IPv4, TCP, UDP, ICMP)

A rotated capture is FILE (newest), FILE.1, FILE.2, ... (TAPSOCK_PCAP_SIZE, TAPSOCK_PCAP_FILES).
FILTER is a tcpdump filter expression (tcpdump and builtin: only with tcpdump; tshark: a display
filter). Exit status: 0, 1 on a bad file or process, 2 on bad usage.
"""
import os
import shutil
import socket
import struct
import subprocess
import sys

PROG = "tapsock pcap"


def die(msg, code=1):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(code)


def usage_error(msg):
    print(f"{PROG}: {msg}\ntry 'tapsock --help'", file=sys.stderr)
    sys.exit(2)


def rotated_files(path):
    """FILE and its rotated predecessors FILE.1, FILE.2, ... that exist, newest first."""
    out = [path] if os.path.exists(path) else []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        out.append(f"{path}.{i}")
        i += 1
    return out


def read_records(path):
    """Yields (seconds as float, caplen, orig_len, bytes) per record; raises ValueError if bad."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise ValueError("shorter than a pcap header")
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif struct.unpack(">I", head[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D):
            endian, magic = ">", struct.unpack(">I", head[:4])[0]
        else:
            raise ValueError("not a pcap file (bad magic)")
        scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
        snaplen, linktype = struct.unpack(endian + "II", head[16:24])
        yield ("header", snaplen, linktype, scale)
        while True:
            rec = f.read(16)
            if not rec:
                return
            if len(rec) < 16:
                raise ValueError("truncated record header at the end")
            sec, frac, caplen, length = struct.unpack(endian + "IIII", rec)
            data = f.read(caplen)
            if len(data) < caplen:
                raise ValueError("truncated record at the end")
            yield (sec + frac * scale, caplen, length, data)


def cmd_where(args):
    if len(args) != 1 or not args[0].isdigit():
        usage_error("where: which process? (tapsock pcap where PID)")
    pid = args[0]
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    except FileNotFoundError:
        die(f"where: no process {pid}")
    except PermissionError:
        die(f"where: cannot read the environment of process {pid} (permission denied)")
    path = env.get(b"TAPSOCK_PCAP", b"").decode()
    if not path:
        die(f"where: process {pid} was not started with TAPSOCK_PCAP (no capture)")
    if not os.path.isabs(path):  # relative to the process's working directory at start
        try:
            path = os.path.join(os.readlink(f"/proc/{pid}/cwd"), path)
        except OSError:
            pass
    files = rotated_files(path)
    if not files:
        die(f"where: process {pid} captures to {path}, which does not exist (yet)")
    for p in files:
        print(f"{p}\t{os.path.getsize(p)} bytes")


def cmd_info(args):
    if not args:
        usage_error("info: which file? (tapsock pcap info FILE...)")
    bad = 0
    for path in args:
        try:
            it = read_records(path)
            _, snaplen, linktype, scale = next(it)
            n = total = 0
            first = last = None
            for t, caplen, length, _ in it:
                n += 1
                total += length
                first = t if first is None else first
                last = t
        except (OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            bad = 1
            continue
        span = f"{last - first:.6f} s" if n else "empty"
        res = "ns" if scale == 1e-9 else "us"
        print(f"{path}: {n} frames, {total} bytes on the wire, {span}, snaplen {snaplen}, "
              f"linktype {linktype}, {res} timestamps")
    sys.exit(bad)


TCP_FLAGS = "FSRPAUEC"


def describe(data):
    """A one-line description of an Ethernet frame (the built-in reader)."""
    if len(data) < 14:
        return "runt frame"
    eth_type = struct.unpack("!H", data[12:14])[0]
    body = data[14:]
    if eth_type == 0x0806 and len(body) >= 28:
        op = struct.unpack("!H", body[6:8])[0]
        spa, tpa = socket.inet_ntoa(body[14:18]), socket.inet_ntoa(body[24:28])
        return f"ARP, {'Request who-has ' + tpa + ' tell ' + spa if op == 1 else 'Reply ' + spa + ' is-at ' + body[8:14].hex(':')}"
    if eth_type == 0x86DD:
        return f"IP6, {len(body)} bytes"
    if eth_type != 0x0800 or len(body) < 20:
        return f"ethertype 0x{eth_type:04x}, {len(body)} bytes"
    ihl = (body[0] & 0x0F) * 4
    total = struct.unpack("!H", body[2:4])[0]
    proto = body[9]
    src, dst = socket.inet_ntoa(body[12:16]), socket.inet_ntoa(body[16:20])
    l4 = body[ihl:total]
    if proto == 6 and len(l4) >= 20:
        sport, dport, seq, ack = struct.unpack("!HHII", l4[:12])
        off = (l4[12] >> 4) * 4
        flags = "".join(c for i, c in enumerate(TCP_FLAGS) if l4[13] & (1 << i)) or "."
        win = struct.unpack("!H", l4[14:16])[0]
        return (f"IP {src}.{sport} > {dst}.{dport}: Flags [{flags}], seq {seq}, ack {ack}, "
                f"win {win}, length {len(l4) - off}")
    if proto == 17 and len(l4) >= 8:
        sport, dport, length = struct.unpack("!HHH", l4[:6])
        return f"IP {src}.{sport} > {dst}.{dport}: UDP, length {length - 8}"
    if proto == 1 and len(l4) >= 2:
        return f"IP {src} > {dst}: ICMP type {l4[0]} code {l4[1]}, length {len(l4)}"
    return f"IP {src} > {dst}: protocol {proto}, length {len(l4)}"


def builtin_summary(path, count):
    it = read_records(path)
    next(it)
    for n, (t, _, _, data) in enumerate(it):
        if count is not None and n >= count:
            break
        print(f"{t:.9f} {describe(data)}")


def cmd_summary(args):
    count, tool, rest = None, "auto", []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-c", "--count") and i + 1 < len(args):
            if not args[i + 1].isdigit():
                usage_error(f"summary: -c wants a number, not '{args[i + 1]}'")
            count, i = int(args[i + 1]), i + 2
            continue
        if a.startswith("--tool="):
            tool, i = a.split("=", 1)[1], i + 1
            continue
        if a == "--tool" and i + 1 < len(args):
            tool, i = args[i + 1], i + 2
            continue
        rest.append(a)
        i += 1
    if tool not in ("auto", "tcpdump", "tshark", "builtin"):
        usage_error(f"summary: unknown --tool '{tool}' (auto, tcpdump, tshark, builtin)")
    if not rest:
        usage_error("summary: which file? (tapsock pcap summary [-c N] FILE [FILTER...])")
    path, filt = rest[0], rest[1:]
    if not os.path.isfile(path):
        die(f"summary: no file {path}")
    if tool == "auto":
        tool = next((t for t in ("tcpdump", "tshark") if shutil.which(t)), "builtin")
    if tool == "builtin":
        if filt:
            usage_error("summary: a filter needs tcpdump or tshark")
        try:
            builtin_summary(path, count)
        except ValueError as e:
            die(f"summary: {path}: {e}")
        return
    if not shutil.which(tool):
        die(f"summary: {tool} is not installed")
    if tool == "tcpdump":
        cmd = ["tcpdump", "-nn", "-tt", "--time-stamp-precision=nano", "-r", path] + (["-c", str(count)] if count is not None else []) + filt
    else:  # tshark's -c counts frames read, not shown: the limit is applied to its output
        cmd = ["tshark", "-n", "-r", path] + (["-Y", " ".join(filt)] if filt else [])
    if count is None or tool == "tcpdump":
        sys.exit(subprocess.call(cmd))
    stopped = False
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        for n, line in enumerate(proc.stdout):
            if n >= count:
                stopped = True
                proc.terminate()
                break
            sys.stdout.write(line)
    sys.exit(0 if stopped else proc.returncode)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return
    verb, args = argv[0], argv[1:]
    verbs = {"where": cmd_where, "info": cmd_info, "summary": cmd_summary}
    if verb not in verbs:
        usage_error(f"unknown pcap verb '{verb}' (where, info, summary)")
    verbs[verb](args)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BrokenPipeError:  # `| head`
        sys.exit(0)
