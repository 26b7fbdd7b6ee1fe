#!/usr/bin/env python3
"""UDP echo server and checking client for the integration tests.

Server: udp_echo.py --bind ADDR --port P [--lifetime S]
    echoes every datagram back to its sender; prints "listening ADDR:PORT" once bound; exits by
    itself after --lifetime seconds so a forgotten server never outlives its test for long.
Client: udp_echo.py --client HOST --port P --count N [--min A] [--max B] [--seed S]
    sends N datagrams whose sizes cycle A..B (spread evenly over A..B, both ends included, when N is
    smaller than the range), filled with seeded random bytes; waits up to 2 s for
    each echo, resending up to 3 times; checks every echo byte for byte and its source address.
    Prints "ok N" and exits 0, or says what went wrong and exits 1.
Plain socket calls only (no asyncio, no DNS), so the same script runs on the kernel and on tapsock.
"""
import argparse
import errno
import hashlib
import ipaddress
import random
import socket
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET


def sockaddr(addr, port):
    return (addr, port, 0, 0) if family_of(addr) == socket.AF_INET6 else (addr, port)


def serve(args):
    sock = socket.socket(family_of(args.bind), socket.SOCK_DGRAM)
    sock.bind(sockaddr(args.bind, args.port))
    # Wake up now and then to honour the lifetime.
    sock.settimeout(0.5)
    host, port = sock.getsockname()[:2]
    print(f"listening {host}:{port}", flush=True)
    deadline = time.monotonic() + args.lifetime
    echoed = 0
    while time.monotonic() < deadline:
        try:
            data, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        sock.sendto(data, peer)
        echoed += 1
    print(f"lifetime over after {echoed} echoes", flush=True)
    return 0


def run_client(args):
    if args.min < 0 or args.max < args.min:
        print(f"error: bad size range {args.min}..{args.max}", file=sys.stderr)
        return 1
    fam = family_of(args.client)
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    if args.src:
        sock.bind(sockaddr(args.src, 0))
    sock.settimeout(args.timeout)
    dest = sockaddr(args.client, args.port)
    want_peer = (str(ipaddress.ip_address(args.client)), args.port)
    rng = random.Random(args.seed)
    span = args.max - args.min + 1
    # Digests of datagrams already answered: a late or duplicated echo of one of them is not an error.
    answered = set()
    resends = 0
    deadline = time.monotonic() + args.deadline
    for i in range(args.count):
        if args.count >= span or args.count == 1:
            size = args.min + i % span
        else:
            size = args.min + (i * (span - 1) + (args.count - 1) // 2) // (args.count - 1)
        payload = rng.randbytes(size)
        got = False
        for attempt in range(1 + args.retries):
            if time.monotonic() > deadline:
                print(f"error: gave up after {args.deadline} s at datagram {i} ({i} echoed)", file=sys.stderr)
                return 1
            try:
                sock.sendto(payload, dest)
            except OSError as e:
                print(f"error: sendto datagram {i} ({size} bytes): {e}", file=sys.stderr)
                return 1
            if attempt > 0:
                resends += 1
            wait_until = time.monotonic() + args.timeout
            while True:
                left = wait_until - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    data, peer = sock.recvfrom(65535)
                except socket.timeout:
                    break
                except OSError as e:
                    print(f"error: recvfrom datagram {i}: {e}", file=sys.stderr)
                    return 1
                if (str(ipaddress.ip_address(peer[0])), peer[1]) != want_peer:
                    print(f"error: datagram {i}: echo came from {peer[:2]}, expected {want_peer}", file=sys.stderr)
                    return 1
                if data == payload:
                    got = True
                    break
                if hashlib.sha256(data).digest() in answered:
                    continue  # a late or duplicated echo of an earlier datagram
                print(
                    f"error: datagram {i}: echo differs: sent {size} bytes, got {len(data)} bytes "
                    f"(first difference at byte {first_difference(payload, data)})",
                    file=sys.stderr,
                )
                return 1
            if got:
                break
        if not got:
            print(f"error: no echo for datagram {i} ({size} bytes) after {1 + args.retries} tries", file=sys.stderr)
            return 1
        answered.add(hashlib.sha256(payload).digest())
    note = f" ({resends} resent)" if resends else ""
    print(f"ok {args.count}{note}", flush=True)
    return 0


def first_difference(a, b):
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return k
    return min(len(a), len(b))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", help="server mode: address to bind")
    p.add_argument("--client", metavar="HOST", help="client mode: server address")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lifetime", type=float, default=300.0, help="server: exit after this many seconds")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--min", type=int, default=1)
    p.add_argument("--max", type=int, default=1472)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--src", help="client: local address to bind")
    p.add_argument("--timeout", type=float, default=2.0, help="client: seconds to wait for each echo")
    p.add_argument("--retries", type=int, default=3, help="client: resends per datagram")
    p.add_argument("--deadline", type=float, default=50.0, help="client: give up after this many seconds")
    args = p.parse_args()
    if (args.bind is None) == (args.client is None):
        p.error("give exactly one of --bind (server) or --client (client)")
    try:
        return serve(args) if args.bind is not None else run_client(args)
    except OSError as e:
        print(f"error: {e} (errno {errno.errorcode.get(e.errno, e.errno)})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1


if __name__ == "__main__":
    sys.exit(main())
