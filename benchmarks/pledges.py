"""Launch surge: many backers pledging to one limited tier of one campaign, over HTTP, on PostgreSQL.

    .venv/bin/python benchmarks/pledges.py                  # 5 rounds, 25-40 minutes on a busy machine
    .venv/bin/python benchmarks/pledges.py --runs 1 --duration 3 --pgbench-limit 50000   # a quick try
    .venv/bin/python benchmarks/pledges.py --summarise-only  # the summary again from the saved runs

What the issue asks: pledges/s, p50/p99 latency, errors and oversell of the whole pledge path (token auth,
Idempotency-Key, the payment's authorization through the gateway, its records), through the production server,
next to two baselines measured in the same run: the same server answering a one-row JSON read (the framework
floor) and pgbench running the pledge's own SQL; at C clients and at 4C.

Database: a database of its own, `crowdmaker_bench_pledges`, dropped and created afresh on every run, on the
server DATABASE_URL names when it is set (it never writes to the database the URL names), else on an embedded
PostgreSQL in `var/bench-pledges/` that this script starts and stops. Migrated, then filled through the
services: a maker and a design (`people.services`, `commons.services`), `--backers` backers with read-write API
tokens (`people.services.user_create` and `api_token_create`, one at a time: fast enough), and campaigns
(`funding.services.campaign_create`, `tier_add`, `campaign_publish`), each with one tier.

Every measured HTTP pledge run gets a campaign of its own, published just before it, whose tier has
`--run-limit` places (never sold out within a run), so that runs stay comparable (the first session needed it
because the pledge's campaign lookup read the campaign's totals; `funding.selectors.campaign_to_pledge` reads
none, see `totals_curve`). pgbench's slot scripts share one tier of `--pgbench-limit` places (10**6 by default,
the largest limit `tier_add` allows; the time `tier_add` takes for it is reported).

In order:
1. Profile one pledge in this process (Django's test client, production settings): its SQL statements and
   transactions, and where its time and CPU go (token auth, idempotency, the campaign and tier lookup, step 1's
   records, the payment's authorization, the gateway, the answer; Django's CPU and its PostgreSQL backend's),
   then the cost of the campaign lookups as a campaign accumulates pledges (pledges inserted by SQL for that curve
   only). `--profile-only` stops after the profile.
2. Rounds (`--runs`). In each, for each server configuration -- `gunicorn-2w`, exactly what `crowdmaker run`
   starts (2 sync workers, access log), and `gunicorn-4w`, the same with 4 workers, the best of the
   configurations tried on this machine (see the README) -- start the server afresh, warm it up, then with wrk
   (`-t2`, a Lua script: each request takes the next backer's token and a new Idempotency-Key):
   the floor `GET /api/v1/me` (token auth and a one-row read) at C, pledges at C, the floor at 4C, pledges at
   4C, each followed by a check of the tier in the database; then a sell-out phase on a tier of
   `--sellout-limit` places at 4C until it sold out and a few seconds more (exactly `limit` answers 201, every
   other one 409 `sold_out`). Then pgbench, `-M extended -j2`, at C and 4C clients: the pledge's own SQL with
   the slot design (`full-slots`) and with a counter row updated by every pledge (`full-counter`), and the
   transaction that takes a place alone, both ways (`record-slots`, `record-counter`).
3. Medians over the rounds, ratios within a round (pledges / floor, 4C / C), the targets, saved with the machine.

Every run records the 1-minute load average and the CPU the server, PostgreSQL, the load generator and every
other process used while it ran (sampled every 0.2 s); a run during which other processes used more than
`--others-max` cores is measured once more and the quieter of the two kept; before each server's part of a
round and before pgbench's, the script waits up to `--quiet-wait` seconds while other processes take more.
The summary also gives medians over the quiet runs (other work at most QUIET_OTHERS cores) and what the machine
would serve if the work were alone on it (its cores / CPU per request). Results are printed and saved to
benchmarks/results/pledges.json (overwritten on every run). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import glob
import json
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from web_servers import RssSampler, Server, cpu_model, git_commit, memory_gib, postgres_version, version, wrk_version

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "pledges.json"
BENCH_DIR = ROOT / "var" / "bench-pledges"
BENCH_DATABASE = "crowdmaker_bench_pledges"
APP = "crowdmaker.config.wsgi:application"
FLOOR = "/api/v1/me"
SCRIPTS = ("full-slots", "full-counter", "record-slots", "record-counter")
QUIET_OTHERS = 0.1  # cores: a run during which other work took at most this is "quiet" in the summary


def say(message: str) -> None:
    print(f"pledges bench: {message}", flush=True)


# --- the database -------------------------------------------------------------------------------------------


def build_url(params: dict[str, Any]) -> str:
    from urllib.parse import quote

    user = quote(str(params.get("user") or "postgres"), safe="")
    password = f":{quote(str(params['password']), safe='')}" if params.get("password") else ""
    host = quote(str(params.get("host") or "localhost"), safe="")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{password}@{host}{port}/{params['dbname']}"


def prepare_database() -> tuple[str, bool]:
    """A fresh benchmark database; its URL is exported as DATABASE_URL for Django and the servers started here."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    embedded = not os.environ.get("DATABASE_URL")
    if embedded:
        os.environ["CROWDMAKER_VAR_DIR"] = str(BENCH_DIR)
        sys.path.insert(0, str(ROOT / "src"))
        from crowdmaker.core import embedded_db

        # Starts the embedded server, and stops it when this script exits (unless another process uses it).
        embedded_db.database_url()
    server_url = os.environ["DATABASE_URL"]
    params = conninfo_to_dict(server_url)
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DATABASE)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    params["dbname"] = BENCH_DATABASE
    url = build_url(params)  # dj-database-url reads URLs, not psycopg's key=value strings
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "crowdmaker.config.settings.production"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(45)
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["STATIC_ROOT"] = str(BENCH_DIR / "static")
    (BENCH_DIR / "static").mkdir(exist_ok=True)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The servers started here import the application of this script's checkout, not the one the virtual
    # environment's editable install points at (measuring an older checkout served the newer code otherwise).
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return url, embedded


def setup_django() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def sql_rows(statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return list(cursor.fetchall()) if cursor.description else []


# --- the campaigns, their tiers and the backers ----------------------------------------------------------------

MAKER_HANDLE = "surge-maker"
PRICE = 4_000
UNIT_COST = 1_500
CARD = "sandbox-card-ok"


def bench_maker() -> tuple[Any, Any]:
    """The maker who owns every campaign of the benchmark, and the design version they fund."""
    from crowdmaker.commons import services as commons
    from crowdmaker.people import services as people

    maker = people.user_create(email="surge-maker@example.org", password=None, handle=MAKER_HANDLE)
    manifest = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": "Surge lamp",
        "security": "nosec_sc",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
    }
    design = commons.design_create(
        actor=maker, slug="surge-lamp", title="Surge lamp", licence="CERN-OHL-S-2.0", manifest=manifest
    )
    return maker, design.versions.get()


_campaigns = iter(range(1, 10**9))


def new_campaign(maker: Any, version: Any, label: str, limit: int | None) -> tuple[Any, Any]:
    """A published all-or-nothing campaign with one tier of `limit` places (None: no limit), made through
    `funding.services` as the funding tests make theirs: `tier_add` creates the tier's `limit` TierSlot rows."""
    from datetime import timedelta

    from django.utils import timezone

    from crowdmaker.funding import services

    now = timezone.now()
    slug = f"{label}-{next(_campaigns)}"[:50]
    campaign = services.campaign_create(
        actor=maker,
        slug=slug,
        title=f"Launch surge {slug}",
        design_versions=[version],
        goal=10**9,
        currency="EUR",
        starts_at=now - timedelta(minutes=1),
        deadline=now + timedelta(days=30),
    )
    tier = services.tier_add(
        actor=maker,
        campaign=campaign,
        title="Early bird",
        price=PRICE,
        unit_cost=UNIT_COST,
        limit=limit,
        items=[(version, 1)],
    )
    services.campaign_publish(actor=maker, campaign=campaign)
    return campaign, tier


def create_backers(count: int) -> tuple[list[Any], list[str], float]:
    """`count` backers, each with a read-write API token, through `people.services` (user_create and
    api_token_create, one transaction each). Returns the users, their raw tokens and the seconds it took."""
    from crowdmaker.people import services as people

    users: list[Any] = []
    tokens: list[str] = []
    started = time.monotonic()
    for number in range(count):
        user = people.user_create(email=f"backer-{number}@example.org", password=None, handle=f"backer-{number}")
        users.append(user)
        tokens.append(people.api_token_create(user=user, name="launch surge", scope="write")[1])
        if (number + 1) % 500 == 0 or number + 1 == count:
            say(f"backers [{number + 1}/{count}] with write tokens, {time.monotonic() - started:.1f} s")
    return users, tokens, time.monotonic() - started


def tier_state(tier_id: int, places: int | None) -> dict[str, Any]:
    """What the database says about a tier: its pledges by status, its places taken, and the oversell checks."""
    by_status = dict(
        sql_rows("SELECT status, count(*) FROM funding_pledge WHERE tier_id = %s GROUP BY status", [tier_id])
    )
    taken, slots = sql_rows("SELECT count(pledge_id), count(*) FROM funding_tierslot WHERE tier_id = %s", [tier_id])[0]
    live = sum(by_status.get(status, 0) for status in ("pending", "authorized", "captured"))
    without_place = sql_rows(
        "SELECT count(*) FROM funding_pledge p WHERE p.tier_id = %s AND p.status IN ('pending', 'authorized', "
        "'captured') AND NOT EXISTS (SELECT 1 FROM funding_tierslot s WHERE s.pledge_id = p.id)",
        [tier_id],
    )[0][0]
    return {
        "pledges_by_status": by_status,
        "places": places,
        "slots": slots,
        "places_taken": taken,
        "live_pledges": live,
        "live_pledges_without_place": without_place,
        # more live pledges than places, or a live pledge holding no place: both would be selling what is not there
        "oversell": max(0, live - (places or live)) + without_place,
    }


def settled_tier_state(tier_id: int, places: int | None) -> dict[str, Any]:
    """The tier's state once requests still in the server when wrk stopped have finished (two equal reads)."""
    previous = tier_state(tier_id, places)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = tier_state(tier_id, places)
        if current == previous and current["pledges_by_status"].get("pending", 0) == 0:
            return current
        previous = current
    return previous


# --- CPU: who used the machine during a run --------------------------------------------------------------------


def postmaster_pid(embedded: bool) -> int | None:
    if not embedded:
        return None
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((BENCH_DIR / "postgres" / "postmaster.pid").read_text().split()[0])
    return None


class BenchBackends:
    """The PostgreSQL backends connected to the benchmark database, on a server of DATABASE_URL's that runs on this
    machine and serves other databases too (its other backends are other work): asked of pg_stat_activity at every
    sample, through a connection of its own (left out)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url, autocommit=True)

    def __call__(self) -> list[int]:
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [BENCH_DATABASE]
        ).fetchall()
        return [row[0] for row in rows]

    @classmethod
    def local(cls, url: str) -> BenchBackends | None:
        """The backends, when the server's processes can be read here (same machine), else None."""
        import psutil

        backends = cls(url)
        own = backends.connection.execute("SELECT pg_backend_pid()").fetchone()
        with contextlib.suppress(psutil.Error, TypeError):
            if own is not None and "postgres" in " ".join(
                [psutil.Process(own[0]).name(), *psutil.Process(own[0]).cmdline()]
            ):
                return backends
        backends.connection.close()
        return None


def postgres_root(embedded: bool) -> int | BenchBackends | None:
    """What to count as PostgreSQL's CPU: the embedded server's process tree, or the benchmark database's backends
    on a local DATABASE_URL server; None (not counted) for a server elsewhere."""
    if embedded:
        return postmaster_pid(embedded)
    return BenchBackends.local(os.environ["DATABASE_URL"])


def machine_cores_busy(seconds: float = 2.0) -> float:
    """Cores the whole machine keeps busy over `seconds`."""
    before, started = CpuSampler.busy()[0], time.monotonic()
    time.sleep(seconds)
    return (CpuSampler.busy()[0] - before) / (time.monotonic() - started)


class CpuSampler:
    """CPU seconds used during a run by process trees (the web server, PostgreSQL), by this script's children
    (wrk, pgbench), by this script, and by the whole machine: what is left is what other work took. Trees are
    sampled every 0.2 s, so a process that exits during the run (pgbench's backends) counts to its last sample."""

    def __init__(self, roots: dict[str, int | BenchBackends | None], interval: float = 0.2) -> None:
        self.roots = {name: root for name, root in roots.items() if root}
        self.interval = interval
        self.first: dict[str, dict[int, float]] = {}
        self.last: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self, pid: int | BenchBackends) -> dict[int, float]:
        import psutil

        seen: dict[int, float] = {}
        try:
            if isinstance(pid, BenchBackends):
                processes = [psutil.Process(backend) for backend in pid()]
            else:
                root = psutil.Process(pid)
                processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return seen
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                seen[process.pid] = times.user + times.system
        return seen

    def _sample(self, first: bool = False) -> None:
        for name, pid in self.roots.items():
            for child, seconds in self._tree(pid).items():
                if first:
                    self.first.setdefault(name, {})[child] = seconds
                else:
                    self.first.setdefault(name, {}).setdefault(child, 0.0)  # born during the run
                self.last.setdefault(name, {})[child] = seconds

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    @staticmethod
    def busy() -> tuple[float, float]:
        import psutil

        t = psutil.cpu_times()
        return t.user + t.nice + t.system + t.irq + t.softirq, t.steal

    def __enter__(self) -> CpuSampler:
        self._sample(first=True)
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._self = resource.getrusage(resource.RUSAGE_SELF)
        self._machine = self.busy()
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = time.monotonic() - self._started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        busy, steal = self.busy()
        self.used = {
            name: sum(self.last[name][pid] - self.first[name][pid] for pid in self.last.get(name, {}))
            for name in self.roots
        }
        self.used["client"] = (children.ru_utime + children.ru_stime) - (
            self._children.ru_utime + self._children.ru_stime
        )
        self.used["this script"] = (own.ru_utime + own.ru_stime) - (self._self.ru_utime + self._self.ru_stime)
        self.machine = busy - self._machine[0]
        self.steal = steal - self._machine[1]

    def report(self, requests: int) -> dict[str, Any]:
        """Cores used on average by each, and CPU milliseconds per request of the server, PostgreSQL and client."""
        cores = {name: round(seconds / self.seconds, 2) for name, seconds in self.used.items()}
        cores["machine"] = round(self.machine / self.seconds, 2)
        known = "postgres" in self.roots
        cores["others"] = round((self.machine - sum(self.used.values())) / self.seconds, 2) if known else None
        cores["steal"] = round(self.steal / self.seconds, 2)
        per_request = {
            name: round(self.used[name] * 1000 / requests, 2) if requests else None
            for name in ("server", "postgres", "client")
            if name in self.used
        }
        return {"cores": cores, "cpu_ms_per_request": per_request}


# --- wrk ------------------------------------------------------------------------------------------------------

# One Lua state per wrk thread. Every request takes the next backer's token (threads start at different
# offsets), and a pledge carries an Idempotency-Key unique to the run, thread and request. Answers are counted
# by status; a 409 whose body names `sold_out` is counted apart. done() prints one JSON line.
WRK_SCRIPT = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  mode, path, tokens_path, run_id, tier = args[1], args[2], args[3], args[4], args[5]
  tokens = {}
  for line in io.lines(tokens_path) do table.insert(tokens, line) end
  sent = 0
  counts = {}
  sold_out = 0
  next_token = (tid - 1) * 7919
  body = '{"tier": ' .. (tier or "null") .. ', "payment_method": "sandbox-card-ok"}'
end

function request()
  sent = sent + 1
  next_token = next_token + 1
  local token = tokens[(next_token % #tokens) + 1]
  if mode == "read" then
    return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
  end
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = run_id .. "-" .. tid .. "-" .. sent,
  }, body)
end

function response(status, headers, response_body)
  local key = tostring(status)
  counts[key] = (counts[key] or 0) + 1
  if status == 409 and string.find(response_body, '"sold_out"', 1, true) then sold_out = sold_out + 1 end
end

function done(summary, latency, requests)
  local statuses, sold = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("counts")) do statuses[status] = (statuses[status] or 0) + count end
    sold = sold + thread:get("sold_out")
  end
  local parts = {}
  for status, count in pairs(statuses) do table.insert(parts, string.format('"%s": %d', status, count)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, "sold_out_409": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, table.concat(parts, ", "), sold, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def run_wrk(
    wrk: str,
    url: str,
    *,
    mode: str,
    path: str,
    connections: int,
    seconds: float,
    tokens_file: Path,
    run_id: str,
    tier: int | None = None,
    threads: int = 2,
) -> dict[str, Any]:
    """One wrk run; its figures (requests/s, latency percentiles in ms, answers by status, socket errors)."""
    script = BENCH_DIR / "surge.lua"
    if not script.exists() or script.read_text() != WRK_SCRIPT:
        script.write_text(WRK_SCRIPT)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url + path,
        "--",
        mode,
        path,
        str(tokens_file),
        run_id,
        str(tier or "null"),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    line = next((x for x in completed.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise SystemExit(f"pledges bench: wrk failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds_measured = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(seconds_measured, 3),
        "requests_per_second": round(raw["requests"] / seconds_measured, 1),
        "statuses": {int(k): v for k, v in sorted(raw["statuses"].items())},
        "sold_out_409": raw["sold_out_409"],
        "socket_errors": raw["socket_errors"],
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
    }


# --- pgbench: the pledge's own SQL ------------------------------------------------------------------------------

# The statements the pledge path runs inside its transactions, as the application sends them (captured from a pledge
# through the API: the JSON's `profile_in_process.pledge_sql`), with pgbench variables for what differs between
# pledges: `:backer` is a random backer, every key and reference is new. Left out: the autocommit reads around them
# (the campaign and tier, the retry lookup under the key), which `profile_in_process` times; kept: the token lookup,
# which decides the token's `last_used_at` write (once a minute per token, as the application does it). The
# `record` scripts are step 1 alone: the transaction that takes a place (with the pledge's payment and operation).
PGBENCH_AUTH_TOUCH = """\
\\set backer random(:first_backer, :last_backer)
SELECT t.id AS token_id, CASE WHEN t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds' THEN 1 ELSE 0 END AS stale FROM people_apitoken t WHERE t.user_id = :backer ORDER BY t.id LIMIT 1 \\gset
\\if :stale
UPDATE people_apitoken SET last_used_at = now() WHERE id = :token_id AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds');
\\endif
INSERT INTO core_idempotencyrecord (scope, key, fingerprint, method, path, response_body, response_content_type, created_at, expires_at) VALUES ('user:' || :backer, gen_random_uuid()::text, encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), 'POST', '/api/v1/campaigns/pgbench/pledges', '\\x'::bytea, '', now(), now() + interval '24 hours') ON CONFLICT (scope, key) DO NOTHING RETURNING id AS idempotency_id \\gset
"""

PGBENCH_RECORD_HEAD = """\
BEGIN;
INSERT INTO funding_pledge (campaign_id, backer_id, tier_id, reward_amount, extra_amount, shipping_amount, shipping_country, amount, unit_cost, referrer_id, status, payment_id, replaces_id, late, request_key, capture_attempts, next_capture_at, capture_grace_until, created_at, updated_at) VALUES (:campaign, :backer, :tier, 4000, 0, 0, '', 4000, 1500, NULL, 'pending', NULL, NULL, false, 'pledge-' || replace(gen_random_uuid()::text, '-', ''), 0, NULL, NULL, now(), now()) RETURNING id AS pledge_id \\gset
"""

# The slot design (what pledges.py does): take the first free slot no one else holds and fill it, in one statement.
PGBENCH_CLAIM_SLOT = """\
UPDATE funding_tierslot SET pledge_id = :pledge_id WHERE id = (SELECT id FROM funding_tierslot WHERE tier_id = :tier AND pledge_id IS NULL ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id AS slot_id \\gset
"""

# The hot-row design, for comparison: one counter row per tier, updated by every pledge (a table of the
# benchmark's own; the application has no such counter).
PGBENCH_CLAIM_COUNTER = """\
UPDATE bench_tier_counter SET sold = sold + 1 WHERE tier_id = :tier AND sold < places RETURNING sold \\gset
"""

# Step 1's end: the pledge's payment and its pending authorize operation, in the same transaction.
PGBENCH_RECORD_PAYMENT = """\
INSERT INTO ledger_payment (payer_id, payee_kind, payee_id, amount, currency, payment_method, gateway, reference, status, authorization_id, capture_id, captured_amount, fee_quoted, fee_amount, refunded_amount, failure_code, failure_message, created_at, updated_at) VALUES (:backer, 'campaign', :campaign, 4000, 'EUR', 'sandbox-card-ok', 'sandbox', 'pledge-' || :pledge_id, 'pending', '', '', 0, 250, 0, 0, '', '', now(), now()) ON CONFLICT (reference) DO NOTHING RETURNING id AS payment_id \\gset
INSERT INTO ledger_paymentoperation (payment_id, kind, amount, reference, status, gateway_id, failure_code, created_at, finished_at) VALUES (:payment_id, 'authorize', 4000, 'pledge-' || :pledge_id, 'pending', '', '', now(), NULL) RETURNING id AS operation_id \\gset
COMMIT;
"""

# Step 2, the sandbox gateway's own transaction; step 3, the payment's authorization and the pledge's in one; the
# answer stored.
PGBENCH_AUTHORIZE = """\
BEGIN;
SELECT * FROM ledger_sandboxcharge WHERE reference = 'pledge-' || :pledge_id LIMIT 21 FOR UPDATE;
SAVEPOINT s3;
INSERT INTO ledger_sandboxcharge (reference, payment_method, amount, currency, status, decline_reason, attempts, captured_amount, refunded_amount, created_at) VALUES ('pledge-' || :pledge_id, 'sandbox-card-ok', 4000, 'EUR', 'authorized', '', 1, 0, 0, now()) RETURNING id AS charge_id \\gset
RELEASE SAVEPOINT s3;
COMMIT;
BEGIN;
UPDATE ledger_payment SET status = 'authorized', authorization_id = 'sandbox-auth-' || :charge_id, updated_at = now() WHERE id = :payment_id AND status = 'pending';
UPDATE ledger_paymentoperation SET status = 'succeeded', gateway_id = 'sandbox-auth-' || :charge_id, failure_code = '', finished_at = now() WHERE id = :operation_id;
UPDATE funding_pledge SET status = 'authorized', payment_id = :payment_id, updated_at = now() WHERE id = :pledge_id AND status = 'pending';
COMMIT;
UPDATE core_idempotencyrecord SET response_status = 201, response_body = convert_to(repeat('x', 900), 'UTF8'), response_content_type = 'application/json; charset=utf-8', completed_at = now(), expires_at = now() + interval '24 hours' WHERE id = :idempotency_id;
"""

PGBENCH_SCRIPTS = {
    # the whole pledge: 5 commits (idempotency claim, step 1, sandbox, step 3, answer)
    "full-slots": PGBENCH_AUTH_TOUCH
    + PGBENCH_RECORD_HEAD
    + PGBENCH_CLAIM_SLOT
    + PGBENCH_RECORD_PAYMENT
    + PGBENCH_AUTHORIZE,
    "full-counter": PGBENCH_AUTH_TOUCH
    + PGBENCH_RECORD_HEAD
    + PGBENCH_CLAIM_COUNTER
    + PGBENCH_RECORD_PAYMENT
    + PGBENCH_AUTHORIZE,
    # step 1 alone: the transaction that takes a place (what the issue's pgbench figures measured, now with the
    # pledge's payment and operation, which the application records in it)
    "record-slots": "\\set backer random(:first_backer, :last_backer)\n"
    + PGBENCH_RECORD_HEAD
    + PGBENCH_CLAIM_SLOT
    + PGBENCH_RECORD_PAYMENT,
    "record-counter": "\\set backer random(:first_backer, :last_backer)\n"
    + PGBENCH_RECORD_HEAD
    + PGBENCH_CLAIM_COUNTER
    + PGBENCH_RECORD_PAYMENT,
}


def pgbench_environment(url: str) -> dict[str, str]:
    """libpq's variables for the benchmark database (pgbench takes no URL with a socket directory as host)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    env = dict(os.environ)
    env["PGHOST"] = unquote(parsed.hostname or "") if "%2F" not in url else unquote(url.split("@", 1)[1].split("/")[0])
    if parsed.port:
        env["PGPORT"] = str(parsed.port)
    env["PGUSER"] = unquote(parsed.username or "postgres")
    if parsed.password:
        env["PGPASSWORD"] = unquote(parsed.password)
    env["PGDATABASE"] = parsed.path.lstrip("/")
    return env


def run_pgbench(
    pgbench: str,
    env: dict[str, str],
    script: str,
    *,
    clients: int,
    seconds: float,
    variables: dict[str, int],
    log: bool = True,
) -> dict[str, Any]:
    """One pgbench run of one script (`-M extended`: parsed on every execution, as Django's statements are);
    transactions per second (one transaction = one whole script), latency percentiles from its per-transaction
    log, failures and aborted clients."""
    path = BENCH_DIR / f"pgbench-{script}.sql"
    path.write_text(PGBENCH_SCRIPTS[script])
    prefix = BENCH_DIR / "pgbench-log"
    for old in glob.glob(f"{prefix}*"):
        os.unlink(old)
    command = [
        pgbench,
        "-n",
        "-M",
        "extended",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(max(1, round(seconds))),
        "-f",
        str(path),
    ]
    for name, value in variables.items():
        command += ["-D", f"{name}={value}"]
    if log:
        command += ["--log", f"--log-prefix={prefix}"]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    output = completed.stdout + completed.stderr
    result: dict[str, Any] = {"exit_code": completed.returncode}
    if match := re.search(r"tps = ([\d.]+) \(without initial connection time\)", output):
        result["transactions_per_second"] = round(float(match.group(1)), 1)
    if match := re.search(r"number of transactions actually processed: (\d+)", output):
        result["transactions"] = int(match.group(1))
    match = re.search(r"number of failed transactions: (\d+)", output)
    result["failed"] = int(match.group(1)) if match else 0
    result["aborted_clients"] = len(re.findall(r"client \d+ aborted", output))
    if completed.returncode != 0 or "transactions_per_second" not in result:
        result["output_tail"] = output[-1500:]
    if log:
        latencies: list[int] = []
        for name in glob.glob(f"{prefix}*"):
            with open(name) as handle:
                latencies += [int(line.split()[2]) for line in handle if line.strip()]
            os.unlink(name)
        if latencies:
            cuts = statistics.quantiles(latencies, n=100, method="inclusive")
            result["p50_ms"] = round(cuts[49] / 1000, 2)
            result["p99_ms"] = round(cuts[98] / 1000, 2)
            result["mean_ms"] = round(statistics.fmean(latencies) / 1000, 2)
    return result


# --- profile: one pledge in this process --------------------------------------------------------------------------

# (module, attribute, label): wrapped with a timer while profiling. Nested ones are subtracted from their parent (see
# PROFILE_PARTS). A function the path no longer has is skipped (its part is then 0).
PROFILED = (
    ("crowdmaker.people.services", "api_token_authenticate", "token auth"),
    ("crowdmaker.core.idempotency", "idempotency_claim", "idempotency claim"),
    ("crowdmaker.funding.selectors", "campaign_visible", "campaign lookup"),
    ("crowdmaker.funding.selectors", "campaign_to_pledge", "campaign lookup"),
    ("crowdmaker.funding.selectors", "tier_of_campaign", "tier lookup"),
    ("crowdmaker.funding.pledges", "pledge_create", "pledge_create"),
    ("crowdmaker.funding.pledges", "_record", "record (pledge, place)"),
    ("crowdmaker.funding.pledges", "_authorization_start", "payment recorded"),
    ("crowdmaker.ledger.payments", "payment_authorize", "payment_authorize"),
    ("crowdmaker.ledger.payments", "payment_authorize_finish", "payment_authorize"),
    ("crowdmaker.ledger.gateways.sandbox:SandboxGateway", "authorize", "gateway authorize (sandbox)"),
    ("crowdmaker.funding.selectors", "pledge_of", "answer"),
    ("crowdmaker.funding.selectors", "pledge_answer", "answer"),
    ("crowdmaker.core.idempotency", "idempotency_finish", "idempotency finish (answer stored)"),
)

# The parts of a pledge shown: (part, timed label, labels timed inside it that are shown as parts of their own).
PROFILE_PARTS = (
    ("token auth", "token auth", ()),
    ("idempotency claim", "idempotency claim", ()),
    ("campaign lookup", "campaign lookup", ()),
    ("tier lookup", "tier lookup", ()),
    ("record: pledge and place", "record (pledge, place)", ()),
    ("record: payment and operation (payment_authorize_start)", "payment recorded", ()),
    (
        "payment_authorize without the gateway (outcome transaction, with the pledge's)",
        "payment_authorize",
        ("gateway authorize (sandbox)",),
    ),
    ("gateway authorize (sandbox: 1 transaction)", "gateway authorize (sandbox)", ()),
    (
        "rest of pledge_create (retry lookup, quote, BEGIN/COMMIT of the record)",
        "pledge_create",
        ("record (pledge, place)", "payment recorded", "payment_authorize"),
    ),
    ("answer (pledge_answer, or pledge_of)", "answer", ()),
    ("idempotency finish (answer stored)", "idempotency finish (answer stored)", ()),
)


def profile_parts(spent: dict[str, float], pledges: int, total: float) -> dict[str, float]:
    """Milliseconds per pledge by part; what the timed functions leave is Django, ninja, validation, JSON."""
    ms = {label: seconds * 1000 / pledges for label, seconds in spent.items()}
    parts = {part: ms[label] - sum(ms[inner] for inner in inside) for part, label, inside in PROFILE_PARTS}
    parts["Django, ninja, validation, serialisation (the rest)"] = total * 1000 / pledges - sum(parts.values())
    return {part: round(value, 2) for part, value in parts.items()}


@contextlib.contextmanager
def timers() -> Iterator[tuple[dict[str, float], dict[str, float]]]:
    """Wrap the PROFILED functions with timers (in this process only) and restore them afterwards: the wall time
    spent in each (Python and the database's answers) and the CPU time of this thread in each (Python alone)."""
    import importlib

    spent: dict[str, float] = {label: 0.0 for _, _, label in PROFILED}
    cpu: dict[str, float] = {label: 0.0 for _, _, label in PROFILED}
    originals: list[tuple[Any, str, Any]] = []

    def timed(function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started
                cpu[label] += time.thread_time() - cpu_started

        return wrapper

    for module_name, attribute, label in PROFILED:
        module_path, _, class_name = module_name.partition(":")
        owner: Any = importlib.import_module(module_path)
        if class_name:
            owner = getattr(owner, class_name)
        if not hasattr(owner, attribute):  # a step the path no longer has
            continue
        original = owner.__dict__[attribute] if class_name else getattr(owner, attribute)
        originals.append((owner, attribute, original))
        setattr(owner, attribute, timed(original, label))
    try:
        yield spent, cpu
    finally:
        for owner, attribute, original in originals:
            setattr(owner, attribute, original)


def classify(statements: list[str]) -> dict[str, int]:
    counts = {
        "statements": 0,
        "select": 0,
        "insert": 0,
        "update": 0,
        "delete": 0,
        "savepoint": 0,
        "transactions": 0,
        "autocommit_writes": 0,
    }
    in_transaction = False
    for sql in statements:
        word = sql.strip().split(None, 1)[0].upper() if sql.strip() else ""
        if word == "BEGIN":
            counts["transactions"] += 1
            in_transaction = True
            continue
        if word in ("COMMIT", "ROLLBACK"):
            in_transaction = False
            continue
        counts["statements"] += 1
        if word in ("SAVEPOINT", "RELEASE"):
            counts["savepoint"] += 1
        elif word.lower() in counts:
            counts[word.lower()] += 1
            if word in ("INSERT", "UPDATE", "DELETE") and not in_transaction:
                counts["autocommit_writes"] += 1
    counts["commits"] = counts["transactions"] + counts["autocommit_writes"]
    return counts


def profile_in_process(
    maker: Any, version: Any, tokens: list[str], pledges: int, per_campaign: int = 20
) -> dict[str, Any]:
    """One pledge through Django's test client (the whole WSGI stack but the HTTP server): its statements, then
    where the time of `pledges` sequential pledges goes, `per_campaign` per fresh campaign (so that the campaign
    lookup stays at the cost of a small campaign; `totals_curve` measures its growth), and the floor."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    counter = iter(range(10**9))

    def pledge(campaign: Any, tier: Any) -> int:
        number = next(counter)
        response = client.post(
            f"/api/v1/campaigns/{campaign.slug}/pledges",
            json.dumps({"tier": tier.pk, "payment_method": CARD}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {tokens[number % len(tokens)]}",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        if response.status_code != 201:
            raise SystemExit(
                f"pledges bench: a pledge in process answered {response.status_code}: {response.content!r}"
            )
        return response.status_code

    def me() -> None:
        number = next(counter)
        response = client.get(FLOOR, HTTP_AUTHORIZATION=f"Bearer {tokens[number % len(tokens)]}")
        if response.status_code != 200:
            raise SystemExit(f"pledges bench: {FLOOR} in process answered {response.status_code}")

    campaign, tier = new_campaign(maker, version, "profile", per_campaign * 2)
    for _ in range(5):
        pledge(campaign, tier)
        me()
    with CaptureQueriesContext(connection) as captured:
        pledge(campaign, tier)
    statements = [query["sql"] for query in captured.captured_queries]
    with CaptureQueriesContext(connection) as captured_me:
        me()
    # Copied now: connection.queries keeps only the last 9 000 queries, and the timed pledges below run more.
    floor_statements = [query["sql"] for query in captured_me.captured_queries]
    say(f"profile: one pledge = {len(statements)} statements; {FLOOR} = {len(floor_statements)}")

    total = cpu_here = cpu_postgres = 0.0
    backend = postgres_backend(connection)
    with timers() as (spent, cpu_spent):
        for batch in range(max(1, pledges // per_campaign)):
            campaign, tier = new_campaign(maker, version, "profile", per_campaign)
            postgres_before = backend_cpu_seconds(backend)
            cpu_before = time.process_time()
            started = time.perf_counter()
            for _ in range(per_campaign):
                pledge(campaign, tier)
            total += time.perf_counter() - started
            cpu_here += time.process_time() - cpu_before
            cpu_postgres += backend_cpu_seconds(backend) - postgres_before
            if (batch + 1) % 5 == 0:
                say(f"profile [{(batch + 1) * per_campaign}/{pledges}] pledges in process")
    done = max(1, pledges // per_campaign) * per_campaign
    total_ms = total * 1000 / done
    postgres_before, cpu_before = backend_cpu_seconds(backend), time.process_time()
    started = time.perf_counter()
    for _ in range(done):
        me()
    floor_ms = (time.perf_counter() - started) * 1000 / done
    floor_cpu = {
        "django": round((time.process_time() - cpu_before) * 1000 / done, 2),
        "postgres": round((backend_cpu_seconds(backend) - postgres_before) * 1000 / done, 2)
        if backend is not None
        else None,
    }
    return {
        "pledges_timed": done,
        "pledge_ms": round(total_ms, 2),
        # CPU of this process (Django) and of its PostgreSQL backend during the timed pledges; None where the
        # backend's process cannot be read (a server on another machine)
        "pledge_cpu_ms": {
            "django": round(cpu_here * 1000 / done, 2),
            "postgres": round(cpu_postgres * 1000 / done, 2) if backend is not None else None,
        },
        "floor_ms": round(floor_ms, 2),
        "floor_cpu_ms": floor_cpu,
        "pledge_to_floor_time_ratio": round(total_ms / floor_ms, 1),
        "pledge_ms_by_part": profile_parts(spent, done, total),
        # the same parts in CPU time of this process (Python alone, without the database's share)
        "pledge_cpu_ms_by_part": profile_parts(cpu_spent, done, cpu_here),
        "pledge_statements": classify(statements),
        "floor_statements": classify(floor_statements),
        "pledge_sql": [re.sub(r"\s+", " ", sql)[:160] for sql in statements],
    }


def postgres_backend(connection: Any) -> Any:
    """The process of this connection's PostgreSQL backend when the server runs on this machine, else None."""
    import psutil

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        if "postgres" in process.name() or "postgres" in " ".join(process.cmdline()):
            process.cpu_times()
            return process
    return None


def backend_cpu_seconds(backend: Any) -> float:
    if backend is None:
        return 0.0
    times = backend.cpu_times()
    return float(times.user + times.system)


def totals_curve(maker: Any, version: Any, first_backer: int, backers: int, points: list[int]) -> list[dict[str, Any]]:
    """The campaign lookup of the pages and the API's detail (`campaign_by_slug`, with the totals), and the one every
    pledge request makes (`campaign_to_pledge`, with the tier, no totals), as the campaign holds more pledges. The
    pledges are inserted by SQL, authorized, without payments: only the cost of reading them matters here."""
    from crowdmaker.funding import selectors
    from crowdmaker.funding.selectors import campaign_by_slug

    # (an older checkout, measured for comparison, has no lookup of its own for the pledge: it used campaign_by_slug)
    campaign_to_pledge = getattr(selectors, "campaign_to_pledge", None)

    campaign, tier = new_campaign(maker, version, "totals-curve", None)
    inserted = 0
    curve: list[dict[str, Any]] = []

    def median_ms(lookup: Callable[[], Any]) -> float:
        lookup()
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            lookup()
            samples.append(time.perf_counter() - started)
        return round(statistics.median(samples) * 1000, 2)

    for target in points:
        if target > inserted:
            sql_rows(
                "INSERT INTO funding_pledge (campaign_id, backer_id, tier_id, reward_amount, extra_amount, "
                "shipping_amount, shipping_country, amount, unit_cost, status, late, request_key, capture_attempts, "
                "created_at, updated_at) "
                "SELECT %s, %s + n %% %s, %s, 4000, 0, 0, '', 4000, 1500, 'authorized', false, 'curve-' || n, 0, "
                "now(), now() FROM generate_series(%s, %s) AS n",
                [campaign.pk, first_backer, backers, tier.pk, inserted + 1, target],
            )
            sql_rows("ANALYZE funding_pledge")
            inserted = target
        point = {
            "pledges": target,
            "campaign_lookup_ms": median_ms(lambda: campaign_by_slug(slug=campaign.slug)),
            "pledge_lookup_ms": median_ms(lambda: campaign_to_pledge(slug=campaign.slug, viewer=None, tier_id=tier.pk))
            if campaign_to_pledge is not None
            else None,
        }
        curve.append(point)
        say(
            f"with {target:,} pledges in the campaign: campaign lookup {point['campaign_lookup_ms']:,.1f} ms, the "
            f"pledge's lookup {point['pledge_lookup_ms']} ms"
        )
        if point["campaign_lookup_ms"] > 5000:
            break
    from django.db import connection

    from crowdmaker.funding.models import Campaign

    query = selectors._with_totals(Campaign.objects.filter(slug=campaign.slug)).select_related(
        "owner_user__profile", "owner_team", "created_by"
    )[:1]
    statement, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        plan = cursor.fetchone()[0]
    loops = [node["Actual Loops"] for node in _plan_nodes(plan[0]["Plan"]) if node.get("Subplan Name")]
    curve[-1]["totals_subplan_loops"] = loops[0] if loops else None
    say(
        f"EXPLAIN ANALYZE at {curve[-1]['pledges']:,} pledges: the totals subquery ran {curve[-1]['totals_subplan_loops']} times"
    )
    return curve


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


# --- the rounds ---------------------------------------------------------------------------------------------------


def server_commands(port: int, best_workers: int) -> dict[str, list[str]]:
    """`gunicorn-2w`: exactly what `crowdmaker run` starts (cli.py: 2 sync workers by default, the access log on
    its output, which goes to a file here); `gunicorn-<n>w`: the same with more workers."""
    run_like = [
        sys.executable,
        "-m",
        "gunicorn",
        APP,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--access-logfile",
        "-",
        "--no-control-socket",
        "--graceful-timeout",
        "10",
    ]
    best = list(run_like)
    best[best.index("--workers") + 1] = str(best_workers)
    return {"gunicorn-2w": run_like, f"gunicorn-{best_workers}w": best}


class Bench:
    """What every run needs: the options, the tools, the fixtures, and the runs measured so far."""

    def __init__(self, options: argparse.Namespace, wrk: str, pgbench: str, embedded: bool) -> None:
        self.options = options
        self.wrk = wrk
        self.pgbench = pgbench
        self.embedded = embedded
        self.postgres = postgres_root(embedded)
        self.runs: list[dict[str, Any]] = []
        self.tokens_file = BENCH_DIR / "tokens.txt"
        self.done = 0
        self.total = 0
        self.maker: Any = None
        self.version: Any = None
        self.users: list[Any] = []
        self.pg_env: dict[str, str] = {}
        self.pg_variables: dict[str, dict[str, int]] = {}
        self.quiet_checks: list[dict[str, Any]] = []

    def wait_for_quiet(self, label: str) -> None:
        """Before a round's server or pgbench: while nothing of ours runs, what the machine does is other work;
        wait (up to --quiet-wait seconds) while it takes more than --others-max cores."""
        waited = 0.0
        others = machine_cores_busy()
        while others > self.options.others_max and waited < self.options.quiet_wait:
            say(
                f"{label}: other processes use {others:.2f} cores; waiting ({waited:.0f}/{self.options.quiet_wait:g} s)"
            )
            time.sleep(5)
            waited += 7
            others = machine_cores_busy()
        self.quiet_checks.append({"before": label, "others_cores": round(others, 2), "waited_seconds": waited})

    def measured(self, label: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run once; again when other processes took more than --others-max cores meanwhile (keep the quieter)."""
        first = run()
        others = first["cores"].get("others")
        if others is None or others <= self.options.others_max:
            return first
        say(f"{label}: other processes used {others} cores meanwhile; measuring again")
        second = run()
        keep, other = (second, first) if (second["cores"].get("others") or 0) < others else (first, second)
        keep["remeasured"] = {
            "other_attempt_rate": other.get("requests_per_second", other.get("transactions_per_second")),
            "other_attempt_others_cores": other["cores"].get("others"),
        }
        return keep

    def record(self, run: dict[str, Any]) -> None:
        self.runs.append(run)
        self.done += 1
        rate = run.get("requests_per_second", run.get("transactions_per_second"))
        what = run.get("kind") or run.get("script")
        where = run.get("server", "pgbench")
        print(
            f"[{self.done}/{self.total}] round {run['round']} {where:<12} {what:<14} c={run['clients']:<3} "
            f"{rate if rate is not None else 'n/a':>8}/s  p50 {run.get('p50_ms', 'n/a')} ms  p99 {run.get('p99_ms', 'n/a')} ms  "
            f"errors {run['errors']}  load {run['load_average_1m']}  cores: {run['cores']}"
            + (f"  oversell {run['db']['oversell']}" if "db" in run else "")
            + (f"  REMEASURED {run['remeasured']}" if "remeasured" in run else ""),
            flush=True,
        )

    # --- HTTP ---

    def wrk_run(
        self, server: Server, *, kind: str, clients: int, seconds: float, campaign: Any = None, tier: Any = None
    ) -> dict[str, Any]:
        assert server.process is not None
        path = FLOOR if kind == "floor" else f"/api/v1/campaigns/{campaign.slug}/pledges"
        roots = {"server": server.process.pid, "postgres": self.postgres}
        with CpuSampler(roots) as cpu, RssSampler(server.process.pid) as rss:
            figures = run_wrk(
                self.wrk,
                server.url(""),
                mode="read" if kind == "floor" else "pledge",
                path=path,
                connections=clients,
                seconds=seconds,
                tokens_file=self.tokens_file,
                run_id=uuid.uuid4().hex[:12],
                tier=tier.pk if tier is not None else None,
            )
        figures.update(cpu.report(figures["requests"]))
        figures["peak_rss_mib"] = round(rss.peak_bytes / 2**20, 1)
        figures["load_average_1m"] = round(os.getloadavg()[0], 2)
        expected = 200 if kind == "floor" else 201
        allowed = {expected, 409} if kind == "sellout" else {expected}
        figures["errors"] = (
            sum(count for status, count in figures["statuses"].items() if status not in allowed)
            + (figures["statuses"].get(409, 0) - figures["sold_out_409"] if kind == "sellout" else 0)
            + sum(figures["socket_errors"].values())
        )
        if kind != "floor":
            figures["db"] = settled_tier_state(tier.pk, tier.limit)
            figures["campaign"] = campaign.slug
        return figures

    def pledge_run(self, server: Server, clients: int) -> dict[str, Any]:
        campaign, tier = new_campaign(self.maker, self.version, "surge", self.options.run_limit)
        figures = self.wrk_run(
            server, kind="pledges", clients=clients, seconds=self.options.duration, campaign=campaign, tier=tier
        )
        answered = figures["statuses"].get(201, 0)
        figures["pledges_after_run_not_seen_by_wrk"] = figures["db"]["live_pledges"] - answered
        if figures["sold_out_409"]:
            say(f"WARNING: the surge tier sold out during the run; raise --run-limit (now {self.options.run_limit})")
        return figures

    def sellout_run(self, server: Server, clients: int, rate: float) -> dict[str, Any]:
        limit = self.options.sellout_limit
        campaign, tier = new_campaign(self.maker, self.version, "sellout", limit)
        seconds = min(120.0, max(5.0, limit / max(rate, 1.0) * 1.5 + 4))
        figures = self.wrk_run(server, kind="sellout", clients=clients, seconds=seconds, campaign=campaign, tier=tier)
        db = figures["db"]
        figures["places"] = limit
        figures["sold"] = figures["statuses"].get(201, 0)
        figures["exact"] = (
            figures["sold"] == limit
            and db["live_pledges"] == limit
            and db["places_taken"] == limit
            and figures["sold_out_409"] > 0
            and figures["errors"] == 0
            and db["oversell"] == 0
        )
        if figures["sold"] < limit and not figures["sold_out_409"]:
            say(f"WARNING: the sell-out tier did not sell out in {seconds:.0f} s")
        return figures

    def server_round(self, round_number: int, name: str, command: list[str]) -> None:
        options = self.options
        log = BENCH_DIR / "server.log"
        log.write_text("")  # the access log of the last server only: it grows by one line per request
        server = Server(name, command, options.port, log)
        try:
            startup = server.start()
            warm_campaign, warm_tier = new_campaign(self.maker, self.version, "warm-up", None)
            if options.warmup > 0:
                self.wrk_run(
                    server,
                    kind="pledges",
                    clients=options.clients,
                    seconds=options.warmup,
                    campaign=warm_campaign,
                    tier=warm_tier,
                )
                self.wrk_run(server, kind="floor", clients=options.clients, seconds=1)
            rate_at_c = 0.0
            for clients in (options.clients, 4 * options.clients):
                for kind in ("floor", "pledges"):
                    label = f"round {round_number} {name} {kind} c={clients}"
                    if kind == "floor":
                        run = self.measured(
                            label,
                            lambda c=clients: self.wrk_run(server, kind="floor", clients=c, seconds=options.duration),
                        )
                    else:
                        run = self.measured(label, lambda c=clients: self.pledge_run(server, c))
                        if clients == options.clients:
                            rate_at_c = run["requests_per_second"]
                    self.record(
                        {
                            "type": "http",
                            "round": round_number,
                            "server": name,
                            "kind": kind,
                            "clients": clients,
                            "startup_seconds": round(startup, 2),
                            **run,
                        }
                    )
            run = self.sellout_run(server, 4 * options.clients, rate_at_c)
            self.record(
                {
                    "type": "http",
                    "round": round_number,
                    "server": name,
                    "kind": "sellout",
                    "clients": 4 * options.clients,
                    **run,
                }
            )
        finally:
            server.stop()

    # --- pgbench ---

    def pgbench_run(self, script: str, clients: int) -> dict[str, Any]:
        variables = self.pg_variables["slots" if script.endswith("slots") else "counter"]
        with CpuSampler({"postgres": self.postgres}) as cpu:
            figures = run_pgbench(
                self.pgbench, self.pg_env, script, clients=clients, seconds=self.options.duration, variables=variables
            )
        figures.update(cpu.report(figures.get("transactions", 0)))
        figures["load_average_1m"] = round(os.getloadavg()[0], 2)
        figures["errors"] = figures["failed"] + figures["aborted_clients"] + (1 if figures["exit_code"] else 0)
        if figures["errors"]:
            say(f"pgbench {script} c={clients} failed: {figures.get('output_tail', '')}")
        return figures

    def pgbench_round(self, round_number: int) -> None:
        for script in SCRIPTS:
            for clients in (self.options.clients, 4 * self.options.clients):
                run = self.measured(
                    f"round {round_number} pgbench {script} c={clients}",
                    lambda s=script, c=clients: self.pgbench_run(s, c),
                )
                self.record({"type": "pgbench", "round": round_number, "script": script, "clients": clients, **run})


# --- summary --------------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def summarise(
    runs: list[dict[str, Any]], servers: list[str], levels: tuple[int, int], rounds: int, cores: int
) -> dict[str, Any]:
    http: list[dict[str, Any]] = []

    def find(**match: Any) -> list[dict[str, Any]]:
        return [r for r in runs if all(r.get(k) == v for k, v in match.items())]

    def rate(run: dict[str, Any] | None) -> float | None:
        if run is None:
            return None
        return run.get("requests_per_second", run.get("transactions_per_second"))

    def cpu_of(run: dict[str, Any]) -> float:
        """CPU milliseconds one request cost the server, PostgreSQL and the client together."""
        return sum(v for v in run["cpu_ms_per_request"].values() if v)

    def one(**match: Any) -> dict[str, Any] | None:
        found = find(**match)
        return found[0] if found else None

    for server in servers:
        for clients in levels:
            for kind in ("floor", "pledges"):
                selected = find(type="http", server=server, clients=clients, kind=kind)
                row: dict[str, Any] = {"server": server, "kind": kind, "clients": clients, "runs": len(selected)}
                for key in ("requests_per_second", "p50_ms", "p99_ms", "peak_rss_mib", "load_average_1m"):
                    row[f"median_{key}"] = _median([r[key] for r in selected])
                # The runs during which other work took at most QUIET_OTHERS cores: the machine nearly ours.
                quiet = [r for r in selected if (r["cores"].get("others") or 0) <= QUIET_OTHERS]
                row["quiet_runs"] = len(quiet)
                for key in ("requests_per_second", "p50_ms", "p99_ms"):
                    row[f"quiet_median_{key}"] = _median([r[key] for r in quiet])
                for part in ("server", "postgres", "client"):
                    row[f"median_cpu_ms_per_request_{part}"] = _median(
                        [r["cpu_ms_per_request"].get(part) for r in selected]
                    )
                for part in ("machine", "others"):
                    row[f"median_cores_{part}"] = _median([r["cores"].get(part) for r in selected])
                # What the whole machine would serve if this were the only work on it: its cores divided by the
                # CPU one request costs the server, PostgreSQL and the client. Other work on the shared machine
                # changes the rate measured, much less the CPU each request costs.
                row["median_cpu_bound_per_second"] = _median([cores * 1000 / cpu_of(r) for r in selected if cpu_of(r)])
                row["errors"] = sum(r["errors"] for r in selected)
                if kind == "pledges":
                    row["oversell"] = sum(r["db"]["oversell"] for r in selected)
                    floor_ratios = [
                        rate(r) / rate(f)
                        for r in selected
                        if (f := one(type="http", server=server, clients=clients, kind="floor", round=r["round"]))
                        and rate(f)
                    ]
                    row["median_ratio_to_floor"] = _median(floor_ratios)
                    row["median_cpu_ratio_to_floor"] = _median(
                        [
                            cpu_of(f) / cpu_of(r)
                            for r in selected
                            if (f := one(type="http", server=server, clients=clients, kind="floor", round=r["round"]))
                            and cpu_of(r)
                        ]
                    )
                    pg_ratios = [
                        rate(r) / rate(p)
                        for r in selected
                        if (p := one(type="pgbench", script="full-slots", clients=clients, round=r["round"]))
                        and rate(p)
                    ]
                    row["median_ratio_to_pgbench_full_slots"] = _median(pg_ratios)
                if clients == levels[1]:
                    scaling = [
                        rate(r) / rate(c)
                        for r in selected
                        if (c := one(type="http", server=server, clients=levels[0], kind=kind, round=r["round"]))
                        and rate(c)
                    ]
                    row["median_ratio_4c_to_c"] = _median(scaling)
                http.append(row)
    pgbench: list[dict[str, Any]] = []
    for script in SCRIPTS:
        for clients in levels:
            selected = find(type="pgbench", script=script, clients=clients)
            row = {"script": script, "clients": clients, "runs": len(selected)}
            for key in ("transactions_per_second", "p50_ms", "p99_ms", "load_average_1m"):
                row[f"median_{key}"] = _median([r.get(key) for r in selected])
            quiet = [r for r in selected if (r["cores"].get("others") or 0) <= QUIET_OTHERS]
            row["quiet_runs"] = len(quiet)
            row["quiet_median_transactions_per_second"] = _median([r.get("transactions_per_second") for r in quiet])
            row["median_cpu_ms_per_transaction_postgres"] = _median(
                [r["cpu_ms_per_request"].get("postgres") for r in selected]
            )
            row["median_cores_others"] = _median([r["cores"].get("others") for r in selected])
            row["errors"] = sum(r["errors"] for r in selected)
            if clients == levels[1]:
                row["median_ratio_4c_to_c"] = _median(
                    [
                        rate(r) / rate(c)
                        for r in selected
                        if (c := one(type="pgbench", script=script, clients=levels[0], round=r["round"])) and rate(c)
                    ]
                )
            pgbench.append(row)
    sellout = []
    for server in servers:
        selected = find(type="http", server=server, kind="sellout")
        sellout.append(
            {
                "server": server,
                "runs": len(selected),
                "exact": sum(1 for r in selected if r["exact"]),
                "places": selected[0]["places"] if selected else None,
                "answers_201": [r["sold"] for r in selected],
                "answers_409_sold_out": [r["sold_out_409"] for r in selected],
                "errors": sum(r["errors"] for r in selected),
                "oversell": sum(r["db"]["oversell"] for r in selected),
            }
        )
    return {"http": http, "pgbench": pgbench, "sellout": sellout, "rounds": rounds}


def targets(summary: dict[str, Any], servers: list[str], levels: tuple[int, int]) -> dict[str, Any]:
    """The issue's targets, per server configuration, from the medians."""
    out: dict[str, Any] = {}
    for server in servers:
        rows = {(r["kind"], r["clients"]): r for r in summary["http"] if r["server"] == server}
        at_c, at_4c = rows[("pledges", levels[0])], rows[("pledges", levels[1])]
        sold = next(s for s in summary["sellout"] if s["server"] == server)
        errors = at_c["errors"] + at_4c["errors"] + sold["errors"]
        oversell = at_c["oversell"] + at_4c["oversell"] + sold["oversell"]
        out[server] = {
            "ratio_to_floor_at_c": {
                "value": at_c["median_ratio_to_floor"],
                "target": ">= 0.6",
                "met": (at_c["median_ratio_to_floor"] or 0) >= 0.6,
            },
            "p99_ms_at_c": {
                "value": at_c["median_p99_ms"],
                "target": "<= 100",
                "met": at_c["median_p99_ms"] is not None and at_c["median_p99_ms"] <= 100,
            },
            "p99_ms_at_4c": {
                "value": at_4c["median_p99_ms"],
                "target": "<= 100 (not asked; for reference)",
                "met": at_4c["median_p99_ms"] is not None and at_4c["median_p99_ms"] <= 100,
            },
            "errors": {"value": errors, "target": "0", "met": errors == 0},
            "oversell": {
                "value": oversell,
                "target": "0, and every sell-out exact",
                "met": oversell == 0 and sold["exact"] == sold["runs"],
            },
            "ratio_4c_to_c": {
                "value": at_4c["median_ratio_4c_to_c"],
                "target": ">= 0.8",
                "met": (at_4c["median_ratio_4c_to_c"] or 0) >= 0.8,
            },
        }
    return out


def fmt(value: Any, pattern: str = "") -> str:
    return "n/a" if value is None else format(value, pattern)


def print_summary(summary: dict[str, Any], goals: dict[str, Any]) -> None:
    print(
        "\n| server | requests | clients | req/s | p50 ms | p99 ms | x floor | x pgbench | 4C/C | errors | oversell "
        "| server CPU ms/req | PG CPU ms/req | others' cores | CPU-bound req/s | CPU x floor | quiet runs: req/s, p99 |"
    )
    print(
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for r in summary["http"]:
        print(
            f"| {r['server']} | {r['kind']} | {r['clients']} | {fmt(r['median_requests_per_second'], '.0f')} | "
            f"{fmt(r['median_p50_ms'], '.1f')} | {fmt(r['median_p99_ms'], '.1f')} | "
            f"{fmt(r.get('median_ratio_to_floor'), '.2f')} | {fmt(r.get('median_ratio_to_pgbench_full_slots'), '.2f')} | "
            f"{fmt(r.get('median_ratio_4c_to_c'), '.2f')} | {r['errors']} | {fmt(r.get('oversell'))} | "
            f"{fmt(r['median_cpu_ms_per_request_server'], '.1f')} | {fmt(r['median_cpu_ms_per_request_postgres'], '.1f')} | "
            f"{fmt(r['median_cores_others'], '.2f')} | {fmt(r['median_cpu_bound_per_second'], '.0f')} | "
            f"{fmt(r.get('median_cpu_ratio_to_floor'), '.2f')} | "
            f"{r['quiet_runs']}: {fmt(r['quiet_median_requests_per_second'], '.0f')}, {fmt(r['quiet_median_p99_ms'], '.0f')} |"
        )
    print(
        "\n| pgbench script | clients | TPS | p50 ms | p99 ms | 4C/C | errors | PG CPU ms/transaction | quiet runs: TPS |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in summary["pgbench"]:
        print(
            f"| {r['script']} | {r['clients']} | {fmt(r['median_transactions_per_second'], '.0f')} | "
            f"{fmt(r['median_p50_ms'], '.1f')} | {fmt(r['median_p99_ms'], '.1f')} | {fmt(r.get('median_ratio_4c_to_c'), '.2f')} | "
            f"{r['errors']} | {fmt(r['median_cpu_ms_per_transaction_postgres'], '.2f')} | "
            f"{r['quiet_runs']}: {fmt(r['quiet_median_transactions_per_second'], '.0f')} |"
        )
    for s in summary["sellout"]:
        print(
            f"sell-out, {s['server']}: {s['exact']}/{s['runs']} exact ({s['places']} places; 201: {s['answers_201']}; "
            f"409 sold_out: {s['answers_409_sold_out']}; errors {s['errors']}; oversell {s['oversell']})"
        )
    for server, goal in goals.items():
        print(
            f"targets, {server}: "
            + "; ".join(
                f"{name} {fmt(g['value'])} ({g['target']}: {'met' if g['met'] else 'MISSED'})"
                for name, g in goal.items()
            )
        )


def pgbench_version(pgbench: str) -> str:
    completed = subprocess.run([pgbench, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    return completed.stdout.strip() or "unknown"


def describe_machine(url: str, wrk: str, pgbench: str, embedded: bool) -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_version(url),
        "database": f"embedded PostgreSQL ({BENCH_DIR.relative_to(ROOT)})"
        if embedded
        else "DATABASE_URL's server (PostgreSQL's CPU: the benchmark database's backends, when the server is local)",
        "django": version("django"),
        "gunicorn": version("gunicorn"),
        "wrk": wrk_version(wrk),
        "pgbench": pgbench_version(pgbench),
        "git_commit": git_commit(),
        # Colleagues work in the same tree: the application files that differed from the commit at the start.
        "uncommitted_src_files": uncommitted_src_files(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def uncommitted_src_files() -> list[str]:
    completed = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line[3:] for line in completed.stdout.splitlines() if line.strip()]


def resummarise() -> int:
    """The summary and the targets again from the runs saved in the results (after a change to `summarise`)."""
    payload = json.loads(RESULTS.read_text())
    config, runs = payload["config"], payload["runs"]
    servers = list(config["servers"])
    levels = (config["clients"][0], config["clients"][1])
    payload["summary"] = summarise(runs, servers, levels, config["runs"], payload["machine"]["cpu_cores"])
    payload["targets"] = targets(payload["summary"], servers, levels)
    print_summary(payload["summary"], payload["targets"])
    RESULTS.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    say(f"summary recomputed in {RESULTS.relative_to(ROOT)}")
    return 0


def profile_only(options: argparse.Namespace) -> int:
    """The in-process profile alone, on a fresh benchmark database: the quick measure while changing the path."""
    prepare_database()
    setup_django()
    say(f"profile only; load average {os.getloadavg()[0]:.2f}, commit {git_commit()}")
    try:
        maker, design_version = bench_maker()
        _, tokens, _ = create_backers(options.backers)
        profile = profile_in_process(maker, design_version, tokens, options.profile_pledges)
    finally:
        from django.db import connections

        connections.close_all()
    profile["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(profile, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--duration", type=float, default=8, help="seconds per measured run (default 8)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of pledges after a server starts (default 2)")
    parser.add_argument("--clients", type=int, default=16, help="C, the concurrency; 4C is measured too (default 16)")
    parser.add_argument("--backers", type=int, default=1000, help="backers, each with a token (default 1000)")
    parser.add_argument("--run-limit", type=int, default=10_000, help="places of each surge run's tier (default 1e4)")
    parser.add_argument("--sellout-limit", type=int, default=300, help="places of each sell-out tier (default 300)")
    parser.add_argument(
        "--pgbench-limit",
        type=int,
        default=1_000_000,
        help="places of the tier pgbench's slot scripts share (default 1e6)",
    )
    parser.add_argument("--best-workers", type=int, default=4, help="workers of the second gunicorn (default 4)")
    parser.add_argument("--profile-pledges", type=int, default=200, help="pledges timed in process (default 200)")
    parser.add_argument(
        "--others-max",
        type=float,
        default=0.5,
        help="measure a run again when other processes took more cores than this (default 0.5)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="seconds to wait before a round's server or pgbench while other processes take more "
        "than --others-max cores (default 60)",
    )
    parser.add_argument("--port", type=int, default=8792, help="port of the servers (default 8792)")
    parser.add_argument(
        "--profile-only",
        action="store_true",
        help="only the in-process profile of one pledge (statements, ms and CPU per pledge by part), printed as "
        "JSON; nothing is saved (with --backers 100 it takes about a minute)",
    )
    parser.add_argument(
        "--summarise-only",
        action="store_true",
        help="recompute the summary and targets of the saved results from their runs, and stop",
    )
    options = parser.parse_args(argv)
    if options.summarise_only:
        return resummarise()
    if options.runs < 1 or options.duration <= 0 or options.clients < 1:
        parser.error("--runs and --clients must be at least 1 and --duration positive")
    if options.profile_only:
        return profile_only(options)
    wrk, pgbench = shutil.which("wrk"), shutil.which("pgbench") or "/usr/bin/pgbench"
    if wrk is None or not Path(pgbench).exists():
        print("pledges bench: needs wrk (`apt-get install wrk`) and pgbench (postgresql-client)", file=sys.stderr)
        return 2

    url, embedded = prepare_database()
    say(
        f"database {BENCH_DATABASE} on {'the embedded PostgreSQL in ' + str(BENCH_DIR) if embedded else 'DATABASE_URL'}"
    )
    setup_django()
    machine = describe_machine(url, wrk, pgbench, embedded)
    say("machine " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    bench = Bench(options, wrk, pgbench, embedded)
    levels = (options.clients, 4 * options.clients)
    commands = server_commands(options.port, options.best_workers)
    servers = list(commands)
    bench.total = options.runs * (len(servers) * 5 + len(SCRIPTS) * 2)
    setup: dict[str, Any] = {}
    try:
        bench.maker, bench.version = bench_maker()
        bench.users, tokens, seconds = create_backers(options.backers)
        setup["backers"] = options.backers
        setup["backers_seconds"] = round(seconds, 1)
        bench.tokens_file.write_text("\n".join(tokens) + "\n")
        profile = profile_in_process(bench.maker, bench.version, tokens, options.profile_pledges)
        say(
            f"profile: {profile['pledge_ms']} ms per pledge, {profile['floor_ms']} ms per {FLOOR}, in process; "
            f"by part: {profile['pledge_ms_by_part']}"
        )
        curve = totals_curve(bench.maker, bench.version, bench.users[0].pk, len(bench.users), [0, 250, 500, 1000, 2000])

        say(
            f"tier_add: pgbench's tier with {options.pgbench_limit:,} places (TierSlot rows by bulk_create, batches of "
            "5 000; about 45 s per million here) ..."
        )
        started = time.monotonic()
        pg_campaign, pg_tier = new_campaign(bench.maker, bench.version, "pgbench-slots", options.pgbench_limit)
        setup["pgbench_tier_places"] = options.pgbench_limit
        setup["pgbench_tier_add_seconds"] = round(time.monotonic() - started, 1)
        say(f"tier_add: {options.pgbench_limit:,} places in {setup['pgbench_tier_add_seconds']} s")
        counter_campaign, counter_tier = new_campaign(bench.maker, bench.version, "pgbench-counter", None)
        sql_rows(
            "CREATE TABLE bench_tier_counter (tier_id bigint PRIMARY KEY, sold integer NOT NULL DEFAULT 0, "
            "places integer NOT NULL)"
        )
        sql_rows("INSERT INTO bench_tier_counter VALUES (%s, 0, %s)", [counter_tier.pk, 2**31 - 1])
        first, last = bench.users[0].pk, bench.users[-1].pk
        bench.pg_variables = {
            "slots": {"campaign": pg_campaign.pk, "tier": pg_tier.pk, "first_backer": first, "last_backer": last},
            "counter": {
                "campaign": counter_campaign.pk,
                "tier": counter_tier.pk,
                "first_backer": first,
                "last_backer": last,
            },
        }
        bench.pg_env = pgbench_environment(os.environ["DATABASE_URL"])
        say("VACUUM ANALYZE and CHECKPOINT before the rounds ...")
        sql_rows("VACUUM ANALYZE")
        sql_rows("CHECKPOINT")
        from django.db import connections

        connections.close_all()
        say(
            f"{options.runs} rounds: {', '.join(servers)} (floor and pledges at c={levels[0]} and c={levels[1]}, "
            f"a sell-out at c={levels[1]}), then pgbench {', '.join(SCRIPTS)} at both; {options.duration:g} s per run"
        )
        for round_number in range(1, options.runs + 1):
            for name in servers:
                bench.wait_for_quiet(f"round {round_number} {name}")
                bench.server_round(round_number, name, commands[name])
            bench.wait_for_quiet(f"round {round_number} pgbench")
            bench.pgbench_round(round_number)
        connections.close_all()
        pgbench_tier_state = tier_state(pg_tier.pk, pg_tier.limit)
        counter_sold = sql_rows("SELECT sold FROM bench_tier_counter WHERE tier_id = %s", [counter_tier.pk])[0][0]
        counter_pledges = sql_rows("SELECT count(*) FROM funding_pledge WHERE tier_id = %s", [counter_tier.pk])[0][0]
    except KeyboardInterrupt:
        print("\npledges bench: interrupted; nothing saved", file=sys.stderr)
        return 130
    finally:
        from django.db import connections

        connections.close_all()
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    summary = summarise(bench.runs, servers, levels, options.runs, os.cpu_count() or 1)
    goals = targets(summary, servers, levels)
    print_summary(summary, goals)
    payload = {
        "benchmark": "pledges",
        "machine": machine,
        "config": {
            "runs": options.runs,
            "duration_seconds": options.duration,
            "warmup_seconds": options.warmup,
            "clients": list(levels),
            "backers": options.backers,
            "run_limit": options.run_limit,
            "sellout_limit": options.sellout_limit,
            "pgbench_limit": options.pgbench_limit,
            "others_max_cores": options.others_max,
            "servers": {
                name: " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
                for name, cmd in commands.items()
            },
            "floor": f"GET {FLOOR} with a rotating bearer token (token auth, one-row read of the user and profile)",
            "load": "wrk -t2 --timeout 10s with a Lua script: the next backer's token on every request, a new "
            "Idempotency-Key on every pledge; gunicorn's sync workers close the connection after each answer",
            "pgbench": "pgbench -n -M extended -j2 -T <duration>, per-transaction log for the percentiles",
            "settings": "crowdmaker.config.settings.production, SECURE_SSL_REDIRECT=0, sandbox gateway",
        },
        "setup": setup,
        "profile_in_process": profile,
        "campaign_lookup_curve": curve,
        "pgbench_checks": {
            "slot_tier": pgbench_tier_state,
            "counter_row": counter_sold,
            "counter_tier_pledges": counter_pledges,
        },
        "quiet_checks": bench.quiet_checks,
        "summary": summary,
        "targets": goals,
        "runs": bench.runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    temporary = RESULTS.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    temporary.replace(RESULTS)
    say(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
