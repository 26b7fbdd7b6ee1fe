#!/usr/bin/env python3
"""Checks an iperf3 -J report for the real-program matrix: no error, at least the bytes the client
was told to send (-n) sent (a sender that met short writes finishes its last block, so it may send
a little more), and some but not more received (and no datagram lost, for UDP).

The receiver's count cannot be held to equal the sender's: iperf3 ends the test when the sender has
written its -n bytes and tells the receiver so on the control connection; whatever is still in
flight on the data connection then is not counted (esnet/iperf#382). Between two kernel stacks in
one namespace nothing is in flight; across any real path (a TAP, a shaped veth) it reports less,
on the kernel's own stack as well (0 of 2 MiB received through a 200 Mbit/s tbf on lo). So the
rows send enough (16 MiB) for the receiver to have read some of it before the end for sure.

usage: iperf_check.py REPORT.json BYTES      prints "ok ..." and exits 0, or says what is wrong
"""
import json
import sys


def main():
    path, want = sys.argv[1], int(sys.argv[2])
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"no JSON report from iperf3: {e}")
    if j.get("error"):
        sys.exit(f"iperf3 error: {j['error']}")
    end = j.get("end", {})
    sent = end.get("sum_sent", {}).get("bytes")
    received = end.get("sum_received", {}).get("bytes")
    if sent is None or sent < want:
        sys.exit(f"bytes sent {sent}, want at least {want} (received {received})")
    if not received or received > sent:
        sys.exit(f"bytes received {received}, want 1..{sent} (the bytes sent)")
    udp = j.get("start", {}).get("test_start", {}).get("protocol") == "UDP"
    if udp:
        lost = end.get("sum", {}).get("lost_packets")
        if lost != 0:
            sys.exit(f"{lost} datagrams lost")
    print(f"ok {sent} bytes sent, {received} received{' (UDP, none lost)' if udp else ''}")


if __name__ == "__main__":
    main()
