#!/usr/bin/env python3
"""Crafted TCP segments against a private stack, for the integration tests (standard library only).

Modes (all run inside the test's namespace; all but `serve` on the kernel side, as root):
  serve --www DIR [--http-port 8000] [--echo-port 8001] [--lifetime S]
      runs under the shim: an HTTP server for DIR (http.server's ThreadingHTTPServer, as
      `python3 -m http.server` uses) and a line echo server, both on 198.18.0.2. The echo server
      takes one connection, echoes each line, and --linger seconds after that connection ends
      (EOF or reset) the process exits normally (so TAPSOCK_STATS=exit prints the stack's counters). Prints
      "serving ..." once both listen.
  watch --dev DEV [--seconds S]
      sniffs (AF_PACKET, incoming frames only) what the stack sends into DEV until SIGINT/SIGTERM
      or S seconds, then prints one summary line per destination of the stack's SYN-ACKs: how many,
      and how many were SYN cookies (a cookie SYN-ACK carries the MSS option only; a stateful one
      answers our SYNs' window scale, SACK and timestamp options too).
  flood --dev DEV --src ADDR --port P [--count N]
      sends N SYNs from ADDR (random, distinct source ports; random ISNs; Linux-like options)
      to 198.18.0.2:P as fast as it can, and prints how long that took.
  blind --dev DEV --port P
      RFC 5961 blind in-window attacks on one live connection: connects a kernel TCP socket to
      198.18.0.2:P (the echo server), learns both sides' sequence numbers from the handshake as
      seen on DEV, then sends with that connection's 4-tuple, phase by phase: RSTs far out of the
      window, RSTs in the window but not exact, RSTs with random sequence numbers, ACKs with
      unacceptable ack numbers (and a zero window), SYNs in the window, data with an unacceptable
      ack number, data without ACK. After all of them the connection must still echo a line, and
      nothing injected may have been delivered. Last, as a control, one RST with the exact
      sequence number must reset the connection (proof that the crafted segments reach the stack).
      Exits 0 when all holds, 1 with "error: ..." otherwise.

Crafted segments leave through a raw IPv4 socket bound to DEV (the TAP's kernel side) and may only
be addressed to the private stack, 198.18.0.2: every send checks that.
"""
import argparse
import errno
import http.server
import random
import select
import signal
import socket
import struct
import sys
import threading
import time
from functools import partial

STACK = "198.18.0.2"  # the only address crafted segments may go to
KERNEL = "198.18.0.1"

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33
ETH_P_IP = 0x0800
MOD = 1 << 32


# ---------------------------------------------------------------------------------------- packets


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_packet(src, dst, sport, dport, seq, ack, flags, window, options=b"", payload=b""):
    """A whole IPv4 packet (header included) carrying one TCP segment, both checksums computed."""
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)  # end-of-options padding
    offset = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq % MOD, ack % MOD, offset << 4, flags, window, 0, 0)
    tcp += options + payload
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0x4000, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def linux_syn_options(tsval):
    """MSS 1460, SACK permitted, timestamps, NOP, window scale 7: what a Linux SYN carries."""
    return struct.pack("!BBH", 2, 4, 1460) + bytes([4, 2]) + struct.pack("!BBII", 8, 10, tsval, 0) + bytes([1, 3, 3, 7])


class Injector:
    """A raw IPv4 socket (IP_HDRINCL) bound to the TAP's kernel side; sends only to the stack."""

    def __init__(self, dev):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        self.sent = 0
        self.retries = 0

    def send(self, packet):
        dst = socket.inet_ntoa(packet[16:20])
        if dst != STACK:
            raise SystemExit(f"error: refusing to send a crafted packet to {dst} (only {STACK} is allowed)")
        for _ in range(1000):  # bounded: a full transmit queue is retried briefly, then given up
            try:
                self.sock.sendto(packet, (dst, 0))
                self.sent += 1
                return
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                self.retries += 1
                time.sleep(0.0005)
        raise SystemExit("error: the TAP's transmit queue stayed full for 0.5 s")


# ---------------------------------------------------------------------------------------- sniffing


class Seg:
    __slots__ = ("src", "dst", "sport", "dport", "seq", "ack", "flags", "window", "opts", "payload")


def parse_frame(frame):
    """A TCP segment from an Ethernet frame, or None."""
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP or len(ip) < ihl + 20:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    t = ip[ihl:total]
    s = Seg()
    s.src, s.dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    s.sport, s.dport, s.seq, s.ack, off, s.flags, s.window = struct.unpack("!HHIIBBH", t[:16])
    hlen = (off >> 4) * 4
    s.opts = {}
    o = t[20:hlen]
    i = 0
    while i < len(o):
        kind = o[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(o) or o[i + 1] < 2:
            break
        s.opts[kind] = o[i + 2:i + o[i + 1]]
        i += o[i + 1]
    s.payload = t[hlen:]
    return s


def is_cookie_synack(s):
    """A cookie SYN-ACK offers the MSS only: it cannot remember window scale, SACK or timestamps."""
    return 2 in s.opts and not (3 in s.opts or 4 in s.opts or 8 in s.opts)


class Sniffer:
    """Frames DEV's kernel side receives, i.e. what the stack sends; our own frames are ignored."""

    def __init__(self, dev):
        # Protocol 0 first: no frame from any device is queued before bind() picks DEV.
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.sock.bind((dev, ETH_P_IP))
        self.sock.setblocking(False)

    def segments(self, wait=0.0):
        """Every TCP segment queued now (after waiting up to `wait` s for the first one)."""
        out = []
        if wait > 0:
            select.select([self.sock], [], [], wait)
        while True:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return out
            if addr[2] == PACKET_OUTGOING:
                continue
            s = parse_frame(frame)
            if s is not None:
                out.append(s)


# ---------------------------------------------------------------------------------------- serve


def serve(args):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=args.www)
    httpd = http.server.ThreadingHTTPServer((STACK, args.http_port), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((STACK, args.echo_port))
    lsock.listen(1)
    print(f"serving http on {STACK}:{args.http_port}, line echo on {STACK}:{args.echo_port}", flush=True)
    deadline = time.monotonic() + args.lifetime
    lsock.settimeout(args.lifetime)
    try:
        conn, peer = lsock.accept()
    except socket.timeout:
        print(f"echo: no connection within {args.lifetime} s", flush=True)
        httpd.shutdown()
        return 1
    print(f"echo: connection from {peer[0]}:{peer[1]}", flush=True)
    lines = 0
    buf = b""
    how = "eof"
    try:
        while True:
            conn.settimeout(max(0.1, deadline - time.monotonic()))
            data = conn.recv(65536)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                conn.sendall(line + b"\n")
                lines += 1
                print(f"echo: line {lines}: {line[:60]!r}", flush=True)
    except ConnectionResetError:
        how = "reset by the peer"
    except socket.timeout:
        how = "lifetime over"
    conn.close()
    print(f"echo: connection ended ({how}) after {lines} lines", flush=True)
    # Still listening for a moment: a segment for the ended connection then gets an RST (what the
    # blind attacker's control checks), where a stack that had gone away would say nothing.
    time.sleep(args.linger)
    httpd.shutdown()
    lsock.close()
    return 0


# ---------------------------------------------------------------------------------------- watch


def watch(args):
    sn = Sniffer(args.dev)
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(1))
    print(f"watching {args.dev}", flush=True)
    synacks = {}  # dst -> [count, cookies, set of ports]
    rsts = {}

    def count(segs):
        for s in segs:
            if s.src != STACK:
                continue
            if s.flags & (SYN | ACK) == SYN | ACK:
                e = synacks.setdefault(s.dst, [0, 0, set()])
                e[0] += 1
                e[1] += is_cookie_synack(s)
                e[2].add(s.dport)
            elif s.flags & RST:
                rsts[s.dst] = rsts.get(s.dst, 0) + 1

    end = time.monotonic() + args.seconds
    while not stop and time.monotonic() < end:
        count(sn.segments(wait=0.2))
    count(sn.segments())  # what is left
    for dst, (n, cookies, ports) in sorted(synacks.items()):
        print(f"synacks to {dst}: {n} for {len(ports)} ports, cookies {cookies}, stateful {n - cookies}", flush=True)
    for dst, n in sorted(rsts.items()):
        print(f"rsts to {dst}: {n}", flush=True)
    print("watch done", flush=True)
    return 0


# ---------------------------------------------------------------------------------------- flood


def flood(args):
    inj = Injector(args.dev)
    rng = random.Random()
    ports = rng.sample(range(1024, 65536), args.count)
    packets = [tcp_packet(args.src, STACK, p, args.port, rng.getrandbits(32), 0, SYN, 64240,
                          linux_syn_options(rng.getrandbits(32))) for p in ports]
    start = time.monotonic()
    for p in packets:
        inj.send(p)
    elapsed = time.monotonic() - start
    rate = inj.sent / elapsed if elapsed > 0 else 0
    print(f"sent {inj.sent} SYNs from {args.src} to {STACK}:{args.port} in {elapsed:.3f} s "
          f"({rate:.0f}/s, {inj.retries} full-queue retries)", flush=True)
    return 0


# ---------------------------------------------------------------------------------------- blind


class Blind:
    def __init__(self, args):
        self.args = args
        self.sn = Sniffer(args.dev)
        self.inj = Injector(args.dev)
        self.rng = random.Random()
        self.sock = None
        self.cport = 0
        self.sent_bytes = 0   # bytes the client sent (the stack's rcv_nxt follows)
        self.echoed = 0       # bytes the stack sent (its snd_nxt follows)
        self.synack = None
        self.last = None      # the stack's latest segment of this connection
        self.rcv_wnd = 0

    def ours(self, s):
        return s.src == STACK and s.sport == self.args.port and s.dst == KERNEL and s.dport == self.cport

    def collect(self, wait):
        segs = [s for s in self.sn.segments(wait=wait) if self.ours(s)]
        for s in segs:
            if s.flags & SYN and s.flags & ACK:
                self.synack = s
            self.last = s
        return segs

    def echo(self, line):
        self.sock.sendall(line)
        self.sent_bytes += len(line)
        got = b""
        while not got.endswith(b"\n"):
            data = self.sock.recv(4096)
            if not data:
                raise RuntimeError(f"the connection ended (EOF) while waiting for the echo of {line!r}")
            got += data
        self.echoed += len(got)
        if got != line:
            raise RuntimeError(f"sent {line!r}, the echo was {got!r}")

    def rcv_nxt(self):
        return (self.synack.ack + self.sent_bytes) % MOD  # the SYN-ACK's ack is the client's ISN + 1

    def snd_nxt(self):
        return (self.synack.seq + 1 + self.echoed) % MOD

    def send(self, flags, seq, ack=0, window=65535, payload=b""):
        self.inj.send(tcp_packet(KERNEL, STACK, self.cport, self.args.port, seq, ack, flags, window,
                                 payload=payload))

    def phase(self, name, count, make):
        """Sends `count` crafted segments; returns how the stack answered: (acks, rsts, fins, data)."""
        start = time.monotonic()
        self.collect(0)  # forget what came before
        for _ in range(count):
            make()
        time.sleep(0.3)
        segs = self.collect(0.05)
        acks = sum(1 for s in segs if s.flags & ACK and not s.flags & (RST | FIN | SYN) and not s.payload)
        rsts = sum(1 for s in segs if s.flags & RST)
        fins = sum(1 for s in segs if s.flags & FIN)
        data = sum(len(s.payload) for s in segs)
        print(f"  {name}: sent {count}; the stack answered with {acks} ACKs, {rsts} RSTs, "
              f"{fins} FINs, {data} data bytes", flush=True)
        # The stack limits challenge ACKs to 100 a second per connection: give each phase its own second.
        time.sleep(max(0.0, 1.05 - (time.monotonic() - start)))
        return acks, rsts, fins, data

    def far_from(self, x, margin):
        """A random 32-bit number at least `margin` away from x (mod 2^32)."""
        while True:
            v = self.rng.getrandbits(32)
            if margin <= (v - x) % MOD <= MOD - margin:
                return v

    def run(self):
        a = self.args
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((KERNEL, 0))
        self.sock.settimeout(5)
        self.cport = self.sock.getsockname()[1]
        self.sock.connect((STACK, a.port))
        print(f"connected {KERNEL}:{self.cport} -> {STACK}:{a.port}", flush=True)
        self.echo(b"hello before the attacks\n")
        time.sleep(0.3)  # the kernel's ACK of the echo, any window update
        self.collect(0.05)
        if self.synack is None:
            raise RuntimeError(f"did not see the stack's SYN-ACK on {a.dev}")
        if self.last.ack != self.rcv_nxt():
            raise RuntimeError(f"sequence numbers not learnt: the stack acks {self.last.ack}, "
                               f"expected {self.rcv_nxt()}")
        ws = self.synack.opts[3][0] if 3 in self.synack.opts else 0
        self.rcv_wnd = min(self.synack.window, self.last.window << ws)
        if self.rcv_wnd < 1000:
            raise RuntimeError(f"the stack's receive window is only {self.rcv_wnd} bytes")
        rn, sn = self.rcv_nxt(), self.snd_nxt()
        print(f"learnt: stack rcv_nxt {rn}, snd_nxt {sn}, receive window {self.rcv_wnd} (wscale {ws})", flush=True)

        w = self.rcv_wnd
        results = {}
        results["rst-out-of-window"] = self.phase(
            "RST, seq rcv_nxt + 2^30 + r (far out of window)", 50,
            lambda: self.send(RST, rn + (1 << 30) + self.rng.randrange(1 << 20)))
        results["rst-in-window"] = self.phase(
            f"RST, seq rcv_nxt + 1..{w - 1} (in window, not exact)", 50,
            lambda: self.send(RST, rn + self.rng.randrange(1, w)))
        results["rst-random"] = self.phase(
            "RST, random seq (a blind guess; never exactly rcv_nxt)", 50,
            lambda: self.send(RST, self.far_from(rn, 1)))
        results["ack-random"] = self.phase(
            "ACK, seq rcv_nxt, random unacceptable ack, window 0", 50,
            lambda: self.send(ACK, rn, self.far_from(sn, 1 << 24), window=0))
        results["syn-in-window"] = self.phase(
            "SYN, seq in window", 20,
            lambda: self.send(SYN, rn + self.rng.randrange(0, w)))
        results["data-bad-ack"] = self.phase(
            "data, seq rcv_nxt, ack snd_nxt + 2^30 + r", 10,
            lambda: self.send(ACK | PSH, rn, sn + (1 << 30) + self.rng.randrange(1 << 20),
                              payload=b"INJECTED bad ack\n"))
        results["data-no-ack"] = self.phase(
            "data, seq rcv_nxt, no ACK flag", 10,
            lambda: self.send(PSH, rn, 0, payload=b"INJECTED no ack\n"))

        bad = [n for n, (acks, rsts, fins, data) in results.items() if rsts or fins or data]
        if bad:
            raise RuntimeError(f"the stack sent RST/FIN/data to the client in phase(s) {', '.join(bad)}")
        if results["rst-in-window"][0] == 0:
            raise RuntimeError("no challenge ACK for 50 in-window RSTs (RFC 5961 3.2): did they arrive?")
        # Nothing injected was delivered (the server would have echoed it), and nothing reset us.
        # (A socket with a timeout waits for readability even with MSG_DONTWAIT: ask select instead.)
        if select.select([self.sock], [], [], 0)[0]:
            try:
                early = self.sock.recv(4096)
            except ConnectionResetError:
                raise RuntimeError("the connection was reset by the attacks")
            raise RuntimeError(f"unexpected bytes or EOF on the connection after the attacks: {early!r}")
        t0 = time.monotonic()
        self.echo(b"still here after the attacks\n")
        print(f"echo after the attacks: ok in {(time.monotonic() - t0) * 1000:.1f} ms", flush=True)
        challenge = sum(r[0] for n, r in results.items() if n != "rst-out-of-window" and n != "data-no-ack")
        print(f"connection survived {self.inj.sent} crafted segments ({challenge} challenge/duplicate ACKs seen)",
              flush=True)

        # Control: the exact sequence number resets, so the crafted segments really reach the stack.
        time.sleep(0.3)
        self.collect(0.05)
        if self.last.ack != self.rcv_nxt():
            raise RuntimeError(f"lost track: the stack acks {self.last.ack}, expected {self.rcv_nxt()}")
        self.send(RST, self.rcv_nxt())
        time.sleep(0.3)
        try:
            self.sock.sendall(b"anyone there?\n")
            self.sock.settimeout(3)
            data = self.sock.recv(4096)
            if data:
                raise RuntimeError(f"an RST with the exact sequence number did not reset the connection "
                                   f"(the echo answered {data!r})")
            outcome = "EOF"
        except ConnectionResetError:
            outcome = "ECONNRESET"
        except socket.timeout:
            raise RuntimeError("after an exact-sequence RST the connection neither answered nor was reset")
        print(f"control: an RST with seq = rcv_nxt reset the connection (client saw {outcome})", flush=True)
        self.sock.close()
        return 0


def blind(args):
    try:
        return Blind(args).run()
    except (RuntimeError, OSError) as e:
        print(f"error: {e}", flush=True)
        return 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--www", required=True)
    s.add_argument("--http-port", type=int, default=8000)
    s.add_argument("--echo-port", type=int, default=8001)
    s.add_argument("--lifetime", type=float, default=50.0)
    s.add_argument("--linger", type=float, default=2.0, help="seconds to stay after the echo connection")
    w = sub.add_parser("watch")
    w.add_argument("--dev", default="tap0")
    w.add_argument("--seconds", type=float, default=40.0)
    f = sub.add_parser("flood")
    f.add_argument("--dev", default="tap0")
    f.add_argument("--src", required=True)
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--count", type=int, default=10000)
    b = sub.add_parser("blind")
    b.add_argument("--dev", default="tap0")
    b.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    if args.mode == "flood" and not 1 <= args.count <= 64512:
        p.error("--count must be from 1 to 64512 (one SYN per source port)")
    return {"serve": serve, "watch": watch, "flood": flood, "blind": blind}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
