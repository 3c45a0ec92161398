"""Wait until every URL answers 200, or fail after a timeout; standard library only."""

import argparse
import sys
import time
import urllib.error
import urllib.request


def answers(url: str) -> bool:
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (scheme checked above)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    waiting = list(args.urls)
    while waiting and time.monotonic() < deadline:
        waiting = [url for url in waiting if not answers(url)]
        if waiting:
            time.sleep(0.5)
    for url in waiting:
        print(f"no answer from {url} within {args.timeout:.0f} s", file=sys.stderr)
    return 1 if waiting else 0


if __name__ == "__main__":
    sys.exit(main())
