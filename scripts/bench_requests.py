"""Benchmark: authenticated requests through nginx to A and B, and what each costs.

Prints requests per second and latency percentiles for a logged-in user's
/a/whoami, /b/whoami and /b/ (a page with a database list), one client at a
time, so the figures compare the services with each other and over time.
It is a measurement, not a test: it asserts nothing.

    .venv/bin/python scripts/bench_requests.py --base-url http://127.0.0.1:8080/ \\
        --username alice --password '...' [--requests 500]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from e2e.client import SiteClient  # noqa: E402 (after the path is set)

PATHS = ("/a/whoami", "/b/whoami", "/b/")


def measure(client: SiteClient, path: str, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}; is the user logged in?")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    client = SiteClient(args.base_url)
    if client.login(args.username, args.password).status_code != 302:
        raise SystemExit("login failed")
    print(f"{'path':<12} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   ({args.requests} requests each)")
    for path in PATHS:
        measure(client, path, 20)  # warm persistent connections and caches
        timings = measure(client, path, args.requests)
        p50 = statistics.median(timings) * 1000
        p95 = statistics.quantiles(timings, n=20)[18] * 1000
        print(f"{path:<12} {len(timings) / sum(timings):>8.0f} {p50:>8.2f} {p95:>8.2f} {max(timings) * 1000:>8.2f}")


if __name__ == "__main__":
    main()
