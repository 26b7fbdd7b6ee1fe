"""A small HTTP GET for the sanitizer runs, where the unmodified curl cannot run under a
preloaded sanitizer runtime at all (it prints nothing even without tapsock). Prints curl's
-w '%{http_code} %{size_download} %{speed_download} %{time_total}' line.

usage: fetch.py [--max-time S] -o FILE URL
"""
import argparse
import sys
import time
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--max-time", type=float, default=50)
    p.add_argument("-o", dest="out", required=True)
    p.add_argument("url")
    args = p.parse_args()
    start = time.monotonic()
    size = 0
    with urllib.request.urlopen(args.url, timeout=args.max_time) as r, open(args.out, "wb") as f:
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            f.write(chunk)
            size += len(chunk)
        code = r.status
    secs = time.monotonic() - start
    print(f"{code} {size} {size / secs if secs else 0:.0f} {secs:.6f}")
    return 0 if code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
