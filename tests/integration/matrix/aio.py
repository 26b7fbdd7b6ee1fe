#!/usr/bin/env python3
"""asyncio streams and datagrams for the real-program matrix (40-matrix.sh): the program under test
when python3's asyncio is the row, or a checking peer otherwise. Only asyncio's own socket calls
(loop.sock_*, selectors over the fds), so the event loop's readiness path is what is exercised.

  aio.py tcp-server --bind A --port P [--once]      echo every connection until EOF, then close
  aio.py tcp-client --host H --port P --bytes N     send N seeded bytes while reading the echo;
                                                    check it byte for byte; "ok N bytes sha256 X"
  aio.py tcp-sink --bind A --port P --go FILE       one connection: read nothing until FILE exists
                                                    (the sender's data waits at the sender, beyond
                                                    the receive window), then read to EOF, or
                                                    until nothing came for --idle seconds;
                                                    "received N bytes sha256 X"
  aio.py udp-server --bind A --port P               echo every datagram to its sender
  aio.py udp-client --host H --port P --count N     N datagrams of 1..1400 seeded bytes, one at a
                                                    time (2 s wait, 3 resends); each echo checked
Servers print "listening ADDR:PORT" once ready and end after --lifetime seconds (default 30).
Exit status 0 and an "ok ..." line when every byte matched, else 1 and what went wrong.
"""
import argparse
import asyncio
import hashlib
import os
import random
import sys


async def tcp_server(args):
    done = asyncio.Event()

    async def handle(reader, writer):
        total = 0
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
                total += len(data)
            if writer.can_write_eof():
                writer.write_eof()
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
            print(f"echoed {total} bytes", flush=True)
            if args.once:
                done.set()

    server = await asyncio.start_server(handle, args.bind, args.port)
    print(f"listening {args.bind}:{args.port}", flush=True)
    async with server:
        try:
            await asyncio.wait_for(done.wait(), args.lifetime)
        except asyncio.TimeoutError:
            print("lifetime over", flush=True)
    return 0


async def tcp_sink(args):
    got = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        while args.go and not os.path.exists(args.go):
            await asyncio.sleep(0.05)
        digest, total = hashlib.sha256(), 0
        try:
            while chunk := await asyncio.wait_for(reader.read(1 << 16), args.idle):
                digest.update(chunk)
                total += len(chunk)
        except asyncio.TimeoutError:
            print(f"nothing more for {args.idle} s after {total} bytes", flush=True)
            total = -1
        finally:
            writer.close()
            if not got.done():
                got.set_result((total, digest.hexdigest()))

    server = await asyncio.start_server(handle, args.bind, args.port)
    print(f"listening {args.bind}:{args.port}", flush=True)
    async with server:
        try:
            total, hexdigest = await asyncio.wait_for(asyncio.shield(got), args.lifetime)
        except asyncio.TimeoutError:
            print("lifetime over before the connection ended", flush=True)
            return 1
    if total < 0:
        return 1
    print(f"received {total} bytes sha256 {hexdigest}", flush=True)
    return 0


async def tcp_client(args):
    data = random.Random(args.seed).randbytes(args.bytes)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(args.host, args.port), args.timeout)

    async def send():
        for off in range(0, len(data), 1 << 16):
            writer.write(data[off:off + (1 << 16)])
            await writer.drain()
        writer.write_eof()

    async def receive():
        got = bytearray()
        while chunk := await reader.read(1 << 16):
            got.extend(chunk)
        return bytes(got)

    _, got = await asyncio.wait_for(asyncio.gather(send(), receive()), args.timeout)
    writer.close()
    await writer.wait_closed()
    if got != data:
        print(f"error: {len(got)} bytes came back for {len(data)} sent, "
              f"{'a prefix' if data.startswith(got) else 'different'}", file=sys.stderr)
        return 1
    print(f"ok {len(data)} bytes sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


class EchoProtocol(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


async def udp_server(args):
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(EchoProtocol, local_addr=(args.bind, args.port))
    print(f"listening {args.bind}:{args.port}", flush=True)
    await asyncio.sleep(args.lifetime)
    transport.close()
    print("lifetime over", flush=True)
    return 0


class ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self):
        self.queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.queue.put_nowait((data, addr))

    def error_received(self, exc):
        self.queue.put_nowait((exc, None))


async def udp_client(args):
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(ClientProtocol, remote_addr=(args.host, args.port))
    rng = random.Random(args.seed)
    resends = 0
    for i in range(args.count):
        size = 1 + (i * 1399) // max(1, args.count - 1)
        payload = rng.randbytes(size)
        for attempt in range(4):
            transport.sendto(payload)
            try:
                while True:
                    data, addr = await asyncio.wait_for(proto.queue.get(), 2)
                    if isinstance(data, Exception):
                        print(f"error: datagram {i}: {data}", file=sys.stderr)
                        return 1
                    if data == payload:
                        break
                    # A late echo of an earlier datagram (after a resend) is not an error.
                break
            except asyncio.TimeoutError:
                resends += 1
        else:
            print(f"error: no echo of datagram {i} ({size} bytes) after 4 tries", file=sys.stderr)
            return 1
    transport.close()
    print(f"ok {args.count} datagrams ({resends} resends)")
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tcp-server", "tcp-client", "tcp-sink", "udp-server", "udp-client"])
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--host")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--once", action="store_true")
    p.add_argument("--go")
    p.add_argument("--idle", type=float, default=2)
    p.add_argument("--lifetime", type=float, default=30)
    p.add_argument("--timeout", type=float, default=15)
    args = p.parse_args()
    run = {"tcp-server": tcp_server, "tcp-client": tcp_client, "tcp-sink": tcp_sink,
           "udp-server": udp_server, "udp-client": udp_client}[args.mode]
    try:
        return asyncio.run(run(args))
    except (OSError, asyncio.TimeoutError) as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
