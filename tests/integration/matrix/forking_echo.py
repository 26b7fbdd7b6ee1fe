#!/usr/bin/env python3
"""python3's socketserver.ForkingTCPServer as an echo server, for the real-program matrix: every
connection is handled in a child forked after accept().

usage: forking_echo.py --bind A --port P      prints "listening A:P" once ready
"""
import argparse
import socketserver


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1 << 16):
            self.request.sendall(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    socketserver.ForkingTCPServer.allow_reuse_address = True
    with socketserver.ForkingTCPServer((args.bind, args.port), Echo) as server:
        print(f"listening {args.bind}:{args.port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
