#!/usr/bin/env python3
"""Urgent data (MSG_OOB) across one TCP connection, both ways, for the integration tests.

Server: urgent_peer.py --bind ADDR --port P [--lifetime S]
    prints "listening", accepts one connection, waits for the client's b"r" (ready), sends b"abc"
    with MSG_OOB and then b"de", and expects b"xy" in band and b"z" out of band from the client.
    Prints "server ok".
Client: urgent_peer.py --client HOST --port P
    sets F_SETOWN on its socket and sends b"r"; expects SIGURG, the exception condition in
    select(), b"ab" up to the mark (SIOCATMARK), b"c" out of band and b"de" after it; then sends
    b"xyz" with MSG_OOB. Prints "client ok".
Either side says what went wrong and exits 1. Plain socket calls only, so the same script runs on
the kernel and on tapsock: run one side on each to check the two agree on the urgent pointer.
"""
import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time

SIOCATMARK = 0x8905


def at_mark(sock):
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCATMARK, b"\0\0\0\0"))[0] == 1


def take_urgent(sock, timeout):
    """Waits for the exception condition, reads in-band data up to the mark, then the urgent byte."""
    _, _, ex = select.select([], [], [sock], timeout)
    if not ex:
        raise RuntimeError("no exception condition (POLLPRI) within %s s" % timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while not at_mark(sock):
        if time.monotonic() > deadline:
            raise RuntimeError("never reached the mark; read %r" % data)
        data += sock.recv(100)
    return data, sock.recv(1, socket.MSG_OOB)


def read_exactly(sock, n, timeout):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def check(what, got, want):
    if got != want:
        raise RuntimeError("%s: got %r, want %r" % (what, got, want))


def serve(args):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.bind, args.port))
    lsock.listen(1)
    lsock.settimeout(args.lifetime)
    print("listening", flush=True)
    conn, _ = lsock.accept()
    check("server: the client's ready", read_exactly(conn, 1, 10), b"r")
    conn.send(b"abc", socket.MSG_OOB)
    time.sleep(0.2)  # the client reads up to the mark first
    conn.sendall(b"de")
    data, oob = take_urgent(conn, 10)
    check("server: in band before the mark", data, b"xy")
    check("server: out of band", oob, b"z")
    print("server ok", flush=True)


def client(args):
    sigurgs = []
    signal.signal(signal.SIGURG, lambda *_: sigurgs.append(1))
    sock = socket.create_connection((args.client, args.port), timeout=10)
    fcntl.fcntl(sock.fileno(), fcntl.F_SETOWN, os.getpid())
    sock.sendall(b"r")  # SIGURG can come from now on
    data, oob = take_urgent(sock, 10)
    check("client: in band before the mark", data, b"ab")
    check("client: out of band", oob, b"c")
    check("client: after the mark", read_exactly(sock, 2, 10), b"de")
    if not sigurgs:
        raise RuntimeError("client: no SIGURG")
    sock.send(b"xyz", socket.MSG_OOB)
    time.sleep(0.5)  # let the server read before the connection goes
    print("client ok", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind")
    p.add_argument("--client")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lifetime", type=float, default=30)
    args = p.parse_args()
    try:
        serve(args) if args.bind else client(args)
    except (OSError, RuntimeError) as e:
        print("error:", e, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
