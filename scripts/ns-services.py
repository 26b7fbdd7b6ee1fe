#!/usr/bin/python3
"""Kernel-side helper services for `tapsock ns up NS --services LIST`.

One service per process, started by `ns up` inside the namespace (on the kernel's stack, never
preloaded) and stopped by `ns down` by its PID:
    echo      TCP and UDP port 7 (RFC 862): every byte or datagram goes back to its sender
    discard   TCP port 9 (RFC 863): reads and drops; logs each connection's byte count and sha256
    web       TCP port 80: a static web server for --root (http.server, one thread per request)
    mkroot    not a service: fills --root with the default files (index.html, 1M.bin, 10M.bin,
              SHA256SUMS), made from fixed seeds so their sha256 are the same on every machine
Each listens on every address of the namespace (IPv6 and IPv4 on one socket when the kernel has
IPv6), prints "ready ..." once listening, and exits by itself when the namespace it serves is gone
(--ns: /run/netns/NS disappears), so a namespace deleted behind tapsock's back does not leave it
running for ever.

usage: ns-services.py echo|discard|web [--port P] [--root DIR] [--ns NS]
       ns-services.py mkroot --root DIR
"""
import argparse
import functools
import hashlib
import http.server
import os
import socket
import sys
import threading
import time

DEFAULT_PORTS = {"echo": 7, "discard": 9, "web": 80}

# The default web root: name -> size. Contents are SHAKE-128 of a fixed seed, so anyone can
# recompute them (docs/debugging.md lists the digests).
DEFAULT_FILES = {"1M.bin": 1 << 20, "10M.bin": 10 << 20}
INDEX_HTML = b"""<!DOCTYPE html>
<html><head><title>tapsock ns web</title></head>
<body><p>tapsock ns web service: 1M.bin and 10M.bin are SHAKE-128("tapsock/NAME") bytes;
SHA256SUMS lists their digests.</p></body></html>
"""


def log(*args):
    print(*args, flush=True)


def seeded_bytes(name, size):
    return hashlib.shake_128(b"tapsock/" + name.encode()).digest(size)


def make_root(root):
    os.makedirs(root, exist_ok=True)
    files = {"index.html": INDEX_HTML}
    for name, size in DEFAULT_FILES.items():
        files[name] = seeded_bytes(name, size)
    sums = []
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    with open(os.path.join(root, "SHA256SUMS"), "w") as f:
        f.writelines(sums)


def listener(kind, port):
    """A socket on every address: dual-stack [::] when the kernel has IPv6, else 0.0.0.0."""
    err = None
    for family, addr in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            s = socket.socket(family, kind)
        except OSError:
            continue
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((addr, port))
            if kind == socket.SOCK_STREAM:
                s.listen(128)
            return s
        except OSError as e:
            s.close()
            err = e
    raise SystemExit(f"cannot listen on port {port}: {err}")


def watch_namespace(ns):
    """Exits the process once /run/netns/NS is gone (checked every second)."""
    if not ns:
        return
    path = f"/run/netns/{ns}"

    def run():
        while os.path.exists(path):
            time.sleep(1)
        log(f"namespace {ns} is gone; exiting")
        os._exit(0)

    threading.Thread(target=run, daemon=True).start()


def peer(addr):
    host, port = addr[:2]
    if host.startswith("::ffff:"):
        host = host[7:]
    return f"{host}:{port}"


def serve_stream(lsock, handle):
    while True:
        conn, addr = lsock.accept()
        threading.Thread(target=handle, args=(conn, peer(addr)), daemon=True).start()


def echo_conn(conn, who):
    total = 0
    try:
        with conn:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    break
                conn.sendall(data)
                total += len(data)
            conn.shutdown(socket.SHUT_WR)
    except OSError as e:
        log(f"echo tcp {who}: {e} after {total} bytes")
        return
    log(f"echo tcp {who}: {total} bytes")


def discard_conn(conn, who):
    total = 0
    digest = hashlib.sha256()
    try:
        with conn:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    break
                digest.update(data)
                total += len(data)
    except OSError as e:
        log(f"discard {who}: {e} after {total} bytes")
        return
    log(f"discard {who}: {total} bytes sha256 {digest.hexdigest()}")


def run_echo(port):
    tcp = listener(socket.SOCK_STREAM, port)
    udp = listener(socket.SOCK_DGRAM, port)
    threading.Thread(target=serve_stream, args=(tcp, echo_conn), daemon=True).start()
    log(f"ready echo tcp and udp port {port}")
    while True:
        data, addr = udp.recvfrom(1 << 16)
        try:
            udp.sendto(data, addr)
        except OSError as e:
            log(f"echo udp {peer(addr)}: {e}")


def run_discard(port):
    tcp = listener(socket.SOCK_STREAM, port)
    log(f"ready discard tcp port {port}")
    serve_stream(tcp, discard_conn)


class WebServer(http.server.ThreadingHTTPServer):
    """Dual-stack like the other services; IPv4 only when the kernel has no IPv6."""

    daemon_threads = True
    address_family = socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        log(f"web {peer(self.client_address)}: {fmt % args}")


def run_web(port, root):
    if not os.path.isdir(root):
        raise SystemExit(f"web root {root} is not a directory")
    handler = functools.partial(Handler, directory=root)
    try:
        server = WebServer(("::", port), handler)
    except OSError:
        WebServer.address_family = socket.AF_INET
        server = WebServer(("0.0.0.0", port), handler)
    log(f"ready web tcp port {port} root {root}")
    server.serve_forever(poll_interval=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("service", choices=["echo", "discard", "web", "mkroot"])
    p.add_argument("--port", type=int)
    p.add_argument("--root")
    p.add_argument("--ns")
    args = p.parse_args()
    if args.service == "mkroot":
        if not args.root:
            p.error("mkroot needs --root")
        make_root(args.root)
        return 0
    port = args.port or DEFAULT_PORTS[args.service]
    watch_namespace(args.ns)
    if args.service == "echo":
        run_echo(port)
    elif args.service == "discard":
        run_discard(port)
    else:
        if not args.root:
            p.error("web needs --root")
        run_web(port, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
