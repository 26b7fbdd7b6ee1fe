#!/usr/bin/env python3
"""TCP sink server and checking client for the integration tests.

Server: tcp_sink.py --bind ADDR --port P [--lifetime S]
    accepts one connection, reads it to EOF, replies with the SHA-256 hex digest of what it read
    (one line), closes and exits. Prints "listening ADDR:PORT" once listening, then
    "received N bytes sha256 HEX". Gives up after --lifetime seconds, so a forgotten server never
    outlives its test for long.
Client: tcp_sink.py --client HOST --port P --bytes N [--seed S]
    connects, sends N deterministic pseudo-random bytes (seeded), shuts down its sending side,
    reads the reply to EOF and checks it is the digest of what it sent. Prints
    "ok N bytes in T s, R Mbit/s" and exits 0, or says what went wrong and exits 1.
Loopback: tcp_sink.py --loopback HOST --bytes N
    both in one process: the server on a thread bound to HOST port 0, the client in the main thread.
Plain socket calls only (no asyncio, no DNS), so the same script runs on the kernel and on tapsock.
"""
import argparse
import errno
import hashlib
import ipaddress
import random
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def family_of(addr):
    return socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET


def sockaddr(addr, port):
    return (addr, port, 0, 0) if family_of(addr) == socket.AF_INET6 else (addr, port)


def listen(addr, port):
    sock = socket.socket(family_of(addr), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(sockaddr(addr, port))
    sock.listen(1)
    return sock


def sink(lsock, lifetime, report):
    """Accepts one connection, reads to EOF, answers with the digest. Returns (bytes, hexdigest)."""
    lsock.settimeout(lifetime)
    conn, peer = lsock.accept()
    conn.settimeout(lifetime)
    h = hashlib.sha256()
    total = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = conn.recv_into(view)
        if n == 0:
            break
        h.update(view[:n])
        total += n
    digest = h.hexdigest()
    conn.sendall(digest.encode() + b"\n")
    conn.close()
    report(f"received {total} bytes sha256 {digest} from {peer[0]}:{peer[1]}")
    return total, digest


def serve(args):
    lsock = listen(args.bind, args.port)
    host, port = lsock.getsockname()[:2]
    print(f"listening {host}:{port}", flush=True)
    try:
        sink(lsock, args.lifetime, lambda line: print(line, flush=True))
    except socket.timeout:
        print(f"error: nothing (complete) within the lifetime of {args.lifetime} s", file=sys.stderr)
        return 1
    finally:
        lsock.close()
    return 0


def send_and_check(host, port, nbytes, seed, timeout):
    sock = socket.socket(family_of(host), socket.SOCK_STREAM)
    sock.settimeout(timeout)
    start = time.monotonic()
    sock.connect(sockaddr(host, port))
    rng = random.Random(seed)
    h = hashlib.sha256()
    left = nbytes
    try:
        while left > 0:
            chunk = rng.randbytes(min(CHUNK, left))
            h.update(chunk)
            sock.sendall(chunk)
            left -= len(chunk)
    except OSError as e:
        return f"error: send failed after {nbytes - left} of {nbytes} bytes: {e}"
    sock.shutdown(socket.SHUT_WR)
    reply = b""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
    except OSError as e:
        return f"error: all {nbytes} bytes sent, then the reply failed after {len(reply)} bytes: {e}"
    elapsed = time.monotonic() - start
    sock.close()
    want = h.hexdigest()
    got = reply.decode(errors="replace").strip()
    if got != want:
        return f"error: sent {nbytes} bytes with sha256 {want}, the server answered {got!r}"
    mbit = nbytes * 8 / elapsed / 1e6 if elapsed > 0 else 0.0
    return f"ok {nbytes} bytes in {elapsed:.2f} s, {mbit:.1f} Mbit/s"


def run_client(args):
    line = send_and_check(args.client, args.port, args.bytes, args.seed, args.timeout)
    print(line, flush=True, file=sys.stdout if line.startswith("ok") else sys.stderr)
    return 0 if line.startswith("ok") else 1


def run_loopback(args):
    lsock = listen(args.loopback, 0)
    port = lsock.getsockname()[1]
    result = {}

    def server():
        try:
            result["server"] = sink(lsock, args.timeout, lambda line: None)
        except Exception as e:  # reported by the main thread
            result["error"] = e

    t = threading.Thread(target=server, daemon=True)
    t.start()
    line = send_and_check(args.loopback, port, args.bytes, args.seed, args.timeout)
    t.join(args.timeout)
    lsock.close()
    if "error" in result:
        print(f"error: server thread: {result['error']}", file=sys.stderr)
        return 1
    if t.is_alive():
        print("error: the server thread did not finish", file=sys.stderr)
        return 1
    print(line, flush=True, file=sys.stdout if line.startswith("ok") else sys.stderr)
    return 0 if line.startswith("ok") else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", help="server mode: address to bind")
    p.add_argument("--client", metavar="HOST", help="client mode: server address")
    p.add_argument("--loopback", metavar="HOST", help="server thread and client in one process")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bytes", type=int, default=1 << 20, help="client: how many bytes to send")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lifetime", type=float, default=55.0, help="server: give up after this many seconds")
    p.add_argument("--timeout", type=float, default=50.0, help="client: socket timeout in seconds")
    args = p.parse_args()
    modes = [m for m in (args.bind, args.client, args.loopback) if m is not None]
    if len(modes) != 1:
        p.error("give exactly one of --bind (server), --client (client) or --loopback")
    try:
        if args.bind is not None:
            return serve(args)
        if args.client is not None:
            return run_client(args)
        return run_loopback(args)
    except OSError as e:
        print(f"error: {e} (errno {errno.errorcode.get(e.errno, e.errno)})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1


if __name__ == "__main__":
    sys.exit(main())
