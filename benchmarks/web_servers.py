"""Measure gunicorn against granian serving Crowdmaker with real HTTP, under wrk.

    .venv/bin/python benchmarks/web_servers.py            # or: make bench
    .venv/bin/python benchmarks/web_servers.py --runs 2 --duration 3   # a quick try

Both servers run the production settings and the WSGI application `crowdmaker.config.wsgi:application` with 2
worker processes, on the same port, one at a time. Each round starts gunicorn, loads both endpoints, stops it,
then does the same with granian (its defaults) and with granian at one Python thread per worker (`granian-1t`),
so the servers alternate run by run (A B C A B C ...): this machine is shared and noisy, and slow phases then hit
every server alike. Figures quoted are medians over the rounds, with ratios against gunicorn (the baseline,
and the server `crowdmaker run` starts today) measured in the same run.

Database: DATABASE_URL when set; otherwise the embedded PostgreSQL in `var/bench/` (CROWDMAKER_VAR_DIR), which
this script starts, keeps running for the whole benchmark, and stops when it exits. Results are printed and
saved to benchmarks/results/web_servers.json (overwritten on every run). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "web_servers.json"
BENCH_DIR = ROOT / "var" / "bench"
BIN = Path(sys.executable).parent
APP = "crowdmaker.config.wsgi:application"
WORKERS = 2
HEALTH = "/api/v1/health"
HOME = "/"
HOME_FALLBACK = "/api/v1/openapi.json"
BASELINE = "gunicorn"


def server_commands(port: int) -> dict[str, list[str]]:
    """The servers, as production would start them (sync gunicorn workers; granian in WSGI mode)."""
    commands = {
        "gunicorn": [
            sys.executable,
            "-m",
            "gunicorn",
            APP,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--no-control-socket",
        ],
        "granian": [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            APP,
        ],
    }
    # granian's WSGI default allows backpressure/2 = 256 Python threads per worker (it warns about that on a
    # 2-core machine); this variant runs one request at a time per worker, as gunicorn's sync workers do.
    commands["granian-1t"] = [*commands["granian"][:-1], "--blocking-threads", "1", APP]
    return commands


# --- the machine ---------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    import psutil

    return round(psutil.virtual_memory().total / 2**30, 1)


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def wrk_version(wrk: str) -> str:
    # wrk -v prints its version then usage, and exits non-zero.
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    first = (output.stdout or output.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def describe_machine(database_url: str, wrk: str, embedded: bool) -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_version(database_url),
        "database": "embedded PostgreSQL (var/bench)" if embedded else "DATABASE_URL",
        "django": version("django"),
        "gunicorn": version("gunicorn"),
        "granian": version("granian"),
        "wrk": wrk_version(wrk),
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


# --- preparing the database and static files --------------------------------------------------------------


def crowdmaker(*args: str) -> None:
    """Run one `crowdmaker` command, showing its output; stop the benchmark if it fails."""
    print(f"$ crowdmaker {' '.join(args)}", flush=True)
    completed = subprocess.run([str(BIN / "crowdmaker"), *args], cwd=ROOT, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise SystemExit(f"web_servers: `crowdmaker {' '.join(args)}` failed with {completed.returncode}")


# --- one server ---------------------------------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is reported as it is: wrk would count it as a success


_opener = urllib.request.build_opener(_NoRedirect)


def http_status(url: str, timeout: float = 5.0) -> int:
    try:
        with _opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


class Server:
    """One server process (and its workers), started in its own process group, with its output in a log file."""

    def __init__(self, name: str, command: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until the health check answers 200; return how long that took."""
        if not port_is_free(self.port):
            raise SystemExit(f"web_servers: port {self.port} is in use; pass --port")
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {dt.datetime.now(dt.UTC).isoformat()} {' '.join(self.command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own interpreter
                self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"web_servers: {self.name} exited with {self.process.returncode} while starting; "
                    f"see {self.log_path}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                if http_status(self.url(HEALTH), timeout=2) == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
        self.stop()
        raise SystemExit(
            f"web_servers: {self.name} did not answer {HEALTH} within {timeout:.0f} s; see {self.log_path}"
        )

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Leftover workers of this server's own process group (never anything else).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class RssSampler:
    """Peak resident memory of a process tree (the master and its workers), sampled in a background thread.

    The sum over processes counts pages shared by forked workers once per process, so it overstates what the
    machine really spends; it is the figure a process monitor shows, and it is alike for both servers.
    """

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())


# --- wrk ----------------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not match:
        raise ValueError(f"cannot read wrk duration {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles, and every sign of failure from `wrk --latency` output."""
    result: dict[str, Any] = {"non_2xx_3xx": 0, "socket_errors": {}}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result["requests_per_second"] = float(match.group(1))
    if match := re.search(r"(\d+) requests in ([\d.]+\w+)", output):
        result["requests"] = int(match.group(1))
    for percent in ("50", "75", "90", "99"):
        if match := re.search(rf"^\s+{percent}(?:\.000)?%\s+([\d.]+\w+)\s*$", output, re.MULTILINE):
            result[f"p{percent}_ms"] = round(_ms(match.group(1)), 3)
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        result["non_2xx_3xx"] = int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        result["socket_errors"] = dict(
            zip(("connect", "read", "write", "timeout"), map(int, match.groups()), strict=True)
        )
    return result


def run_wrk(wrk: str, url: str, *, threads: int, connections: int, seconds: float, latency: bool) -> str:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    if latency:
        command.append("--latency")
    completed = subprocess.run([*command, url], capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise SystemExit(f"web_servers: wrk failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    return completed.stdout


# --- the benchmark ------------------------------------------------------------------------------------------


def choose_page(server: Server) -> tuple[str, str | None]:
    """The home page, unless it does not answer 200 (a colleague may still be writing its template)."""
    status = http_status(server.url(HOME))
    if status == 200:
        return HOME, None
    note = f"{HOME} answered HTTP {status} before the runs, so {HOME_FALLBACK} is measured instead"
    print(f"web_servers: NOTE: {note}", flush=True)
    return HOME_FALLBACK, note


def summarise(runs: list[dict[str, Any]], endpoints: list[str], servers: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for endpoint in endpoints:
        medians: dict[str, dict[str, float | None]] = {}
        for name in servers:
            valid = [r for r in runs if r["endpoint"] == endpoint and r["server"] == name and r["valid"]]
            medians[name] = {
                key: (statistics.median(r[key] for r in valid) if valid else None)
                for key in ("requests_per_second", "p50_ms", "p99_ms", "peak_rss_mib")
            }
            medians[name]["valid_runs"] = len(valid)
            medians[name]["invalid_runs"] = sum(
                1 for r in runs if r["endpoint"] == endpoint and r["server"] == name and not r["valid"]
            )
        base = medians[BASELINE]
        for name in servers:
            row: dict[str, Any] = {"endpoint": endpoint, "server": name}
            for key, value in medians[name].items():
                row[f"median_{key}" if key not in {"valid_runs", "invalid_runs"} else key] = (
                    round(value, 3) if isinstance(value, float) else value
                )
            for key in ("requests_per_second", "p50_ms", "p99_ms", "peak_rss_mib"):
                mine, theirs = medians[name][key], base[key]
                row[f"ratio_{key}"] = round(mine / theirs, 3) if mine is not None and theirs else None
            rows.append(row)
    return rows


def fmt(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else format(value, pattern)


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'endpoint':<22} {'server':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8} {'req/s vs gunicorn':>18}"
    print("\n" + header)
    print("-" * len(header))
    for row in rows:
        ratio = row["ratio_requests_per_second"]
        print(
            f"{row['endpoint']:<22} {row['server']:<10} {fmt(row['median_requests_per_second'], '8.0f')} "
            f"{fmt(row['median_p50_ms'], '8.2f')} {fmt(row['median_p99_ms'], '8.2f')} "
            f"{fmt(row['median_peak_rss_mib'], '8.0f')} {fmt(ratio, '17.2f')}x"
            + (f"   ({row['invalid_runs']} run(s) left out: non-2xx/3xx)" if row["invalid_runs"] else "")
        )
    print("(medians over the runs; ratio = server / gunicorn, measured in the same run)")


def write_results(payload: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    temporary = RESULTS.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    temporary.replace(RESULTS)


def prepare_environment() -> tuple[str, bool]:
    """Settings for the servers and commands; the database, started here when DATABASE_URL is unset."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CROWDMAKER_VAR_DIR", str(BENCH_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "crowdmaker.config.settings.production"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(45)  # 60 characters, new on every run
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["STATIC_ROOT"] = str(BENCH_DIR / "static")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    embedded = not os.environ.get("DATABASE_URL")

    sys.path.insert(0, str(ROOT / "src"))
    from crowdmaker.core import embedded_db

    # Starts the embedded PostgreSQL when DATABASE_URL is unset, exports its URL to every child, and stops it
    # when this script exits (after the servers, which `main` stops in its `finally`).
    return embedded_db.database_url(), embedded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="rounds per server and endpoint (default 5)")
    parser.add_argument("--duration", type=float, default=8, help="seconds of measured load per run (default 8)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--servers",
        default="gunicorn,granian,granian-1t",
        help="comma-separated, gunicorn (the baseline) always included (default gunicorn,granian,granian-1t)",
    )
    parser.add_argument("--port", type=int, default=8765, help="port both servers use in turn (default 8765)")
    options = parser.parse_args(argv)
    if options.runs < 1 or options.duration <= 0:
        parser.error("--runs must be at least 1 and --duration positive")

    wrk = shutil.which("wrk")
    if wrk is None:
        print("web_servers: wrk is missing; install it with `apt-get install wrk` and run again.", file=sys.stderr)
        return 2

    database_url, embedded = prepare_environment()
    print(f"web_servers: database {'embedded PostgreSQL in ' + str(BENCH_DIR) if embedded else 'from DATABASE_URL'}")
    crowdmaker("migrate", "--noinput", "-v", "0")
    crowdmaker("demo-data")
    crowdmaker("collectstatic", "--noinput", "-v", "0")
    machine = describe_machine(database_url, wrk, embedded)
    print("web_servers: machine " + ", ".join(f"{k}={v}" for k, v in machine.items()), flush=True)

    commands = server_commands(options.port)
    chosen = [name.strip() for name in options.servers.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(commands))
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(commands)}")
    servers = [BASELINE, *(name for name in commands if name in chosen and name != BASELINE)]
    commands = {name: commands[name] for name in servers}
    log_path = BENCH_DIR / "web_servers.log"
    log_path.write_text("")
    endpoints: list[str] = [HEALTH]
    page_note: str | None = None
    runs: list[dict[str, Any]] = []
    total = options.runs * len(servers) * 2
    current: Server | None = None
    print(
        f"web_servers: {options.runs} rounds x {len(servers)} servers, wrk -t{options.threads} "
        f"-c{options.connections}, {options.warmup:g} s warm-up + {options.duration:g} s per endpoint; "
        f"server output in {log_path}",
        flush=True,
    )
    try:
        for round_number in range(1, options.runs + 1):
            if round_number > 1:
                # Colleagues edit templates and static files while this runs; a manifest older than a template
                # that names a new file makes every page a 500 under WhiteNoise's manifest storage.
                crowdmaker("collectstatic", "--noinput", "-v", "0")
            for name in servers:
                current = Server(name, commands[name], options.port, log_path)
                startup = current.start()
                if len(endpoints) == 1:
                    page, page_note = choose_page(current)
                    endpoints.append(page)
                for endpoint in endpoints:
                    url = current.url(endpoint)
                    if options.warmup > 0:
                        run_wrk(
                            wrk,
                            url,
                            threads=options.threads,
                            connections=options.connections,
                            seconds=options.warmup,
                            latency=False,
                        )
                    assert current.process is not None
                    with RssSampler(current.process.pid) as sampler:
                        output = run_wrk(
                            wrk,
                            url,
                            threads=options.threads,
                            connections=options.connections,
                            seconds=options.duration,
                            latency=True,
                        )
                    figures = parse_wrk(output)
                    errors = sum(figures["socket_errors"].values())
                    valid = figures["non_2xx_3xx"] == 0 and "requests_per_second" in figures
                    run = {
                        "round": round_number,
                        "server": name,
                        "endpoint": endpoint,
                        "startup_seconds": round(startup, 2),
                        # The 1-minute load average when the run ended: how busy the shared machine was.
                        "load_average_1m": round(os.getloadavg()[0], 2),
                        **figures,
                        "peak_rss_mib": round(sampler.peak_bytes / 2**20, 1),
                        "valid": valid,
                    }
                    runs.append(run)
                    done = len(runs)
                    print(
                        f"[{done}/{total}] round {round_number} {name:<10} {endpoint:<21} "
                        f"{fmt(figures.get('requests_per_second'), '7.0f')} req/s  "
                        f"p50 {fmt(figures.get('p50_ms'), '6.2f')} ms  p99 {fmt(figures.get('p99_ms'), '7.2f')} ms  "
                        f"peak RSS {run['peak_rss_mib']:6.0f} MiB"
                        + (f"  NON-2xx/3xx: {figures['non_2xx_3xx']} (left out)" if figures["non_2xx_3xx"] else "")
                        + (f"  socket errors: {figures['socket_errors']}" if errors else ""),
                        flush=True,
                    )
                current.stop()
                current = None
    except KeyboardInterrupt:
        print("\nweb_servers: interrupted; nothing saved", file=sys.stderr)
        return 130
    finally:
        if current is not None:
            current.stop()

    rows = summarise(runs, endpoints, servers)
    print_table(rows)
    payload = {
        "benchmark": "web_servers",
        "machine": machine,
        "config": {
            "runs": options.runs,
            "duration_seconds": options.duration,
            "warmup_seconds": options.warmup,
            "wrk_threads": options.threads,
            "wrk_connections": options.connections,
            "server_workers": WORKERS,
            "order": "interleaved by round: " + " ".join(servers) + " ...; each server freshly started per round",
            "settings": "crowdmaker.config.settings.production, SECURE_SSL_REDIRECT=0, no access log",
            "commands": {
                name: " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
                for name, cmd in commands.items()
            },
            "baseline": BASELINE,
        },
        "endpoints": endpoints,
        "page_note": page_note,
        "summary": rows,
        "runs": runs,
    }
    write_results(payload)
    print(f"\nweb_servers: saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
