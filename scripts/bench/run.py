"""./stack bench's measuring part: the same authenticated requests against the stack and its control.

Logs in through each site's real login form, then, in rounds, runs wrk on each page against
each site, the order of the two sites swapped every round. Afterwards it counts the SQL
statements (each one a round trip) of one request of each page from PostgreSQL's own
statement log, turned on for that part only. Prints a table and writes it as JSON.
Standard library only (it runs with the stack's runtime environment); wrk does the load.

It is a measurement, not a test: it asserts nothing about speed.
"""

import argparse
import http.cookiejar
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

LOGIN_PATH = "/a/accounts/login/"
# path, method, the status every answer must have, wrk connections option name
PAGES = {
    "/b/whoami": {"method": "GET", "status": 200},
    "/b/": {"method": "GET", "status": 200},
    "login POST": {"method": "POST", "status": 302},
}
# wrk's Lua: count answers with another status, then print the figures as one JSON line.
WRK_REPORT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) unexpected = 0 end
function response(status, headers, body)
  if status ~= %(status)d then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("unexpected") end
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "errors": %%d, "unexpected": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout,
    wrong, latency:percentile(50), latency:percentile(99)))
end
"""


# --- CPU time: what a request costs the machine, whatever else runs on it -----------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(site: "Site") -> float:
    """CPU time (user + system) of the site's gunicorn processes (command lines holding one of its
    process marks) and of the PostgreSQL backends of its roles (children of our postmaster), with
    that of their children that ended (a recycled worker's time lands in its master's)."""
    backends = tuple(f"postgres: {role} " for role in site.roles)
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        ours = any(mark in command for mark in site.processes)
        ours = ours or (fields[1] == site.postmaster and command.startswith(backends))
        if ours:
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLOCK_TICKS


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Site:
    """One site (the stack or the control) and a logged-in visitor of it."""

    def __init__(self, name: str, base_url: str, roles: list[str], processes: list[str], postmaster: str):
        self.name, self.base_url, self.roles = name, base_url.rstrip("/"), roles
        self.processes, self.postmaster = processes, postmaster
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirects)

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.url(path), data=body, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as answer:  # 3xx (no redirects followed), 4xx, 5xx
            return answer.code, answer.read().decode(errors="replace")

    def login_form(self) -> dict:
        status, page = self.request(LOGIN_PATH)
        if status != 200:
            raise SystemExit(f"{self.name}: the login page answered {status}")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not token:
            raise SystemExit(f"{self.name}: no CSRF token in the login form")
        return {"csrfmiddlewaretoken": token[1], "next": ""}

    def log_in(self, username: str, password: str) -> None:
        form = {**self.login_form(), "username": username, "password": password}
        status, _ = self.request(LOGIN_PATH, form)
        if status != 302:
            raise SystemExit(f"{self.name}: logging in as {username} answered {status}, not a redirect")

    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)

    def fresh_visitor(self) -> "Site":
        return Site(self.name, self.base_url, self.roles, self.processes, self.postmaster)


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for this text


def wrk_script(site: Site, page: str, username: str, password: str) -> str:
    spec = PAGES[page]
    lines = []
    if page == "login POST":
        visitor = site.fresh_visitor()
        form = {**visitor.login_form(), "username": username, "password": password}
        lines += [
            'wrk.method = "POST"',
            f"wrk.body = {lua_string(urllib.parse.urlencode(form))}",
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
            f'wrk.headers["Cookie"] = {lua_string(visitor.cookie_header())}',
        ]
    else:
        lines.append(f'wrk.headers["Cookie"] = {lua_string(site.cookie_header())}')
    return "\n".join(lines) + WRK_REPORT % {"status": spec["status"]}


def page_path(page: str) -> str:
    return LOGIN_PATH if page == "login POST" else page


def run_wrk(script: Path, url: str, duration: float, connections: int, warm_up: bool = False) -> dict:
    """One wrk run; figures from its Lua report (WRK_REPORT)."""
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (our own arguments)
    line = next((line for line in result.stdout.splitlines() if line.startswith("BENCH ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed on {url}:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(line[len("BENCH ") :])
    if not warm_up and (
        figures["errors"] or figures["unexpected"]
    ):  # counted and shown, not hidden: part of the result
        print(
            f"  {url}: {figures['errors']} errors, {figures['unexpected']} answers with another status", file=sys.stderr
        )
    if warm_up:
        return figures
    if figures["requests"] == 0:
        raise SystemExit(f"{url}: no request completed")
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def measure_load(sites, pages, scripts, args) -> dict:
    """Rounds of wrk, each page against each site, the site order swapped every round."""
    runs = {(site.name, page): [] for site in sites for page in pages}
    for page in pages:  # warm-up: workers, connections, caches
        for site in sites:
            run_wrk(scripts[site.name, page], site.url(page_path(page)), 2, connections_for(page, args), warm_up=True)
    for round_number in range(args.rounds):
        order = sites if round_number % 2 == 0 else list(reversed(sites))
        for page in pages:
            for site in order:
                duration = args.login_duration if page == "login POST" else args.duration
                cpu_before = cpu_seconds(site)
                figures = run_wrk(
                    scripts[site.name, page], site.url(page_path(page)), duration, connections_for(page, args)
                )
                figures["cpu_ms_per_request"] = (cpu_seconds(site) - cpu_before) * 1000 / figures["requests"]
                runs[site.name, page].append(figures)
                print(
                    f"  round {round_number + 1} {site.name:<8} {page:<11} {figures['rps']:8.1f} req/s"
                    f"  p50 {figures['p50_us'] / 1000:6.1f} ms  p99 {figures['p99_us'] / 1000:7.1f} ms"
                    f"  CPU {figures['cpu_ms_per_request']:5.1f} ms/request",
                    file=sys.stderr,
                )
    return runs


def connections_for(page: str, args) -> int:
    return args.login_connections if page == "login POST" else args.connections


# --- SQL round trips, from PostgreSQL's statement log -------------------------------------

STATEMENT = re.compile(r"^\S+ \S+ \S+ \[(?P<pid>\d+)\] (?P<user>[^@\s]*)@(?P<db>\S*) LOG:  statement: ")


def psql(args, sql: str) -> str:
    environment = {**os.environ, "PGPASSWORD": os.environ["POSTGRES_PASSWORD"], "PGCONNECT_TIMEOUT": "5"}
    command = [
        "psql",
        "-X",
        "-q",
        "-At",
        "-h",
        "127.0.0.1",
        "-p",
        str(args.pg_port),
        "-U",
        "postgres",
        "-d",
        "postgres",
    ]
    run = subprocess.run  # our own arguments, no shell
    return run([*command, "-c", sql], env=environment, check=True, capture_output=True, text=True).stdout  # noqa: S603


def presence_connections(args) -> set[str]:
    """Each gunicorn worker's own connection holding its presence lock (sso_shared.agreement.presence): its keep-alive
    SELECT 1 every few seconds belongs to no request."""
    return set(psql(args, "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory'").split())


def statement_logging(args, on: bool) -> None:
    if on:
        psql(args, "ALTER SYSTEM SET log_statement = 'all'")
        psql(args, "ALTER SYSTEM SET log_line_prefix = '%m [%p] %u@%d '")
    else:
        psql(args, "ALTER SYSTEM RESET log_statement")
        psql(args, "ALTER SYSTEM RESET log_line_prefix")
    psql(args, "SELECT pg_reload_conf()")
    time.sleep(0.5)


def statements_since(log: Path, offset: int, roles: list[str], ignored_pids: set[str]) -> list[tuple[str, str]]:
    """(database, statement) of each statement the roles sent since offset, but from ignored_pids."""
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    found = []
    for line in text.splitlines():
        match = STATEMENT.match(line)
        if match and match["user"] in roles and match["pid"] not in ignored_pids:
            found.append((match["db"], line[match.end() :]))
    return found


def count_round_trips(site: Site, page: str, args, ignored_pids: set[str]) -> dict:
    """Statements of each of a few sequential requests, per database: the median request, and the mean.

    The median is the page's own cost; the mean also carries what happens now and then (a gunicorn
    worker recycled after max_requests connects anew: SET ROLE, the time zone, the presence lock).
    """
    log = Path(args.pg_log)
    requests, last = [], []
    for _ in range(args.count_requests):
        if page == "login POST":
            visitor = site.fresh_visitor()
            form = {**visitor.login_form(), "username": args.username, "password": os.environ["BENCH_PASSWORD"]}
            offset = log.stat().st_size
            status, _ = visitor.request(LOGIN_PATH, form)
        else:
            offset = log.stat().st_size
            status, _ = site.request(page)
        if status != PAGES[page]["status"]:
            raise SystemExit(f"{site.name} {page} answered {status}")
        time.sleep(0.05)  # the statement lines are written before the answer; a margin all the same
        last = statements_since(log, offset, site.roles, ignored_pids)
        requests.append(last)
    databases = sorted({database for statements in requests for database, _ in statements})
    median_request = sorted(requests, key=len)[len(requests) // 2]
    return {
        "per_request": {db: sum(1 for d, _ in median_request if d == db) for db in databases},
        "mean": {db: sum(1 for r in requests for d, _ in r if d == db) / len(requests) for db in databases},
        "median_request": [f"{db}: {sql[:100]}" for db, sql in median_request],
    }


def measure_round_trips(sites, pages, args) -> dict:
    statement_logging(args, on=True)
    try:
        for site in sites:  # a request each first, so every connection has read the new settings
            for page in pages:
                if page != "login POST":
                    site.request(page)
        ignored = presence_connections(args)
        return {(site.name, page): count_round_trips(site, page, args, ignored) for site in sites for page in pages}
    finally:
        statement_logging(args, on=False)


# --- the table ---------------------------------------------------------------------------


def paired_ratios(runs: list[dict], control_runs: list[dict]) -> dict:
    """Median over rounds of each round's ratio: the two runs of a round ran back to back, under the same load."""
    return {
        "rps_ratio": statistics.median(
            run["rps"] / control["rps"] for run, control in zip(runs, control_runs, strict=True)
        ),
        "cpu_ratio": statistics.median(
            run["cpu_ms_per_request"] / control["cpu_ms_per_request"]
            for run, control in zip(runs, control_runs, strict=True)
        ),
        "p99_ratio": statistics.median(
            run["p99_us"] / control["p99_us"] for run, control in zip(runs, control_runs, strict=True)
        ),
    }


def summarise(runs: list[dict]) -> dict:
    return {
        "rps": statistics.median(run["rps"] for run in runs),
        "p50_ms": statistics.median(run["p50_us"] for run in runs) / 1000,
        "p99_ms": statistics.median(run["p99_us"] for run in runs) / 1000,
        "cpu_ms_per_request": statistics.median(run["cpu_ms_per_request"] for run in runs),
        "failed_requests": sum(run["errors"] + run["unexpected"] for run in runs),
        "rounds": [
            {
                key: run[key]
                for key in ("rps", "p50_us", "p99_us", "requests", "cpu_ms_per_request", "errors", "unexpected")
            }
            for run in runs
        ],
    }


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(), "loadavg": os.getloadavg()}


def table(result: dict) -> str:
    rows = [
        f"{'page':<11} {'site':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s ratio':>11} {'p99 ratio':>9}"
        f" {'CPU ms/req':>10} {'CPU ratio':>9}  SQL round trips/request",
    ]
    for page, by_site in result["pages"].items():
        for name, figures in by_site.items():
            trips = figures["round_trips"]["per_request"]
            trips_text = f"{sum(trips.values()):g} (" + ", ".join(f"{db} {n:g}" for db, n in trips.items()) + ")"
            ratio = f"{figures['rps_ratio']:.2f}" if name != "control" else ""
            p99_ratio = f"{figures['p99_ratio']:.2f}" if name != "control" else ""
            cpu_ratio = f"{figures['cpu_ratio']:.2f}" if name != "control" else ""
            rows.append(
                f"{page:<11} {name:<8} {figures['rps']:8.1f} {figures['p50_ms']:8.2f} {figures['p99_ms']:8.2f} "
                f"{ratio:>11} {p99_ratio:>9} {figures['cpu_ms_per_request']:10.2f} {cpu_ratio:>9}  {trips_text}"
                + (f"  FAILED REQUESTS: {figures['failed_requests']}" if figures["failed_requests"] else "")
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--native", required=True, help="base URL of the stack")
    parser.add_argument("--control", required=True, help="base URL of the control")
    parser.add_argument("--native-roles", required=True, help="the services' database roles, comma-separated")
    parser.add_argument("--control-roles", default="bench_control")
    parser.add_argument(
        "--native-processes", required=True, help="comma-separated parts of the command lines of the stack's processes"
    )
    parser.add_argument("--control-processes", required=True, help="the same for the control")
    parser.add_argument("--username", default="bench")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=3, help="seconds of each wrk run")
    parser.add_argument("--login-duration", type=int, default=6, help="seconds of each login POST run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--login-connections", type=int, default=4)
    parser.add_argument("--count-requests", type=int, default=10)
    parser.add_argument("--pg-port", required=True)
    parser.add_argument("--pg-log", required=True)
    parser.add_argument("--pg-pid", required=True, help="the cluster's postmaster (./stack reads its postmaster.pid)")
    parser.add_argument("--json", required=True, help="where to write the result")
    parser.add_argument("--json-copy", help="a second file for the same result (e.g. one per data set)")
    parser.add_argument("--label", default="", help="a note kept in the JSON (e.g. the data set)")
    parser.add_argument("--workdir", required=True, help="a private folder for wrk's scripts")
    args = parser.parse_args()
    password = os.environ["BENCH_PASSWORD"]

    postmaster = args.pg_pid
    sites = [
        Site("native", args.native, args.native_roles.split(","), args.native_processes.split(","), postmaster),
        Site("control", args.control, args.control_roles.split(","), args.control_processes.split(","), postmaster),
    ]
    for site in sites:
        site.log_in(args.username, password)
    pages = list(PAGES)
    started = time.time()
    machine_at_start = machine()
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:  # the scripts hold the session cookie
        scripts = {}
        for site in sites:
            for page in pages:
                script = Path(folder) / f"{site.name}-{len(scripts)}.lua"
                script.write_text(wrk_script(site, page, args.username, password))
                scripts[site.name, page] = script
        runs = measure_load(sites, pages, scripts, args)
    trips = measure_round_trips(sites, pages, args)

    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "label": args.label,
        "machine": machine_at_start,
        "loadavg_at_end": os.getloadavg(),
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "login_duration_s": args.login_duration,
            "connections": args.connections,
            "login_connections": args.login_connections,
            "web_concurrency": os.environ.get("WEB_CONCURRENCY", "2"),
            "worker_class": os.environ.get("GUNICORN_WORKER_CLASS", "sync"),
            "threads": os.environ.get("GUNICORN_THREADS", "1"),
        },
        "pages": {
            page: {
                site.name: {
                    **summarise(runs[site.name, page]),
                    **paired_ratios(runs[site.name, page], runs["control", page]),
                    "round_trips": trips[site.name, page],
                }
                for site in sites
            }
            for page in pages
        },
    }
    for path in filter(None, (args.json, args.json_copy)):
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    load = ", ".join(f"{value:.1f}" for value in result["machine"]["loadavg"])
    print(f"\n{result['machine']['nproc']} cores, {result['machine']['cpu_model']}, load average {load} at the start")
    print(f"JSON in {args.json}")


if __name__ == "__main__":
    main()
