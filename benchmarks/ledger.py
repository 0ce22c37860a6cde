"""Measure the ledger: postings per second through `transaction_post`, and `ledger verify` on a million legs.

    .venv/bin/python benchmarks/ledger.py                       # 5 runs, about 3 minutes
    .venv/bin/python benchmarks/ledger.py --runs 2 --legs 100000  # a quick try

Everything happens in a dedicated database, `crowdmaker_bench_ledger`, dropped and created afresh on every run,
on the server that DATABASE_URL names, or else on an embedded PostgreSQL in `var/bench-ledger/`
(CROWDMAKER_VAR_DIR), which this script starts and stops. It never writes to the database DATABASE_URL names.

1. It fills the ledger with `--legs` legs (default 1 000 000) by SQL `INSERT ... SELECT generate_series`, in
   batches, with every trigger and deferred check of the ledger firing as for any other write: 2-leg and
   10-leg transactions between one gateway account and 1 000 accounts, and reversals of 1 in 100 of the
   2-leg ones.
2. It times `ledger verify` on it (`run_verify` in this process, `--runs` times, and once as the real command
   `crowdmaker ledger verify` in a new process, start-up included).
3. It times postings through `transaction_post` (one database transaction each, with an idempotency key, as
   the payment flows post), 2-leg and 10-leg interleaved run by run, on that million-leg ledger.

Figures quoted are medians over the runs. Results are printed and saved to benchmarks/results/ledger.json
(overwritten on every run). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

from web_servers import cpu_model, git_commit, memory_gib, postgres_version, version

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ledger.json"
BENCH_DIR = ROOT / "var" / "bench-ledger"
BENCH_DATABASE = "crowdmaker_bench_ledger"
BIN = Path(sys.executable).parent
TARGET_ACCOUNTS = 1000
# Transactions per database transaction while filling. Every leg updates its account's cached balance, and
# each update of one row within one database transaction adds a row version that the next update must walk
# past (none can be pruned before the commit): long batches through the gateway account grow quadratically.
BATCH_TRANSACTIONS = 2_500
PROGRESS_EVERY_LEGS = 50_000  # and fresh planner statistics this often
TEN_LEG_SHARE = 0.1  # of the legs, in 10-leg transactions
REVERSE_ONE_IN = 100  # of the 2-leg transactions


def say(message: str) -> None:
    print(f"ledger bench: {message}", flush=True)


# --- the database -------------------------------------------------------------------------------------------


def prepare_database() -> tuple[str, bool]:
    """A fresh benchmark database; its URL is exported as DATABASE_URL for Django and the commands run here."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    embedded = not os.environ.get("DATABASE_URL")
    if embedded:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
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
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return url, embedded


def build_url(params: dict[str, Any]) -> str:
    from urllib.parse import quote

    user = quote(str(params.get("user") or "postgres"), safe="")
    password = f":{quote(str(params['password']), safe='')}" if params.get("password") else ""
    host = quote(str(params.get("host") or "localhost"), safe="")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{password}@{host}{port}/{params['dbname']}"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# --- filling the ledger with SQL ------------------------------------------------------------------------------


def open_accounts() -> tuple[Any, list[Any]]:
    from crowdmaker.ledger import services

    gateway = services.account_open(
        owner_kind="gateway", owner_id="bench", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    targets = [
        services.account_open(owner_kind="team", owner_id=str(n), purpose="project-payable", currency="EUR")
        for n in range(TARGET_ACCOUNTS)
    ]
    return gateway, targets


# n numbers the transactions of a kind; amounts and target accounts are fixed functions of n, so every run
# builds the same ledger. Money only flows out of the gateway (which may go negative) into the targets.
TWO_LEG_SQL = """
WITH posted AS (
    INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at)
    SELECT 'bench-2', '', 'bench', n::text, '', now() FROM generate_series(%(first)s, %(last)s) AS n
    RETURNING id, subject_id::bigint AS n
)
INSERT INTO ledger_leg (transaction_id, account_id, amount, currency)
SELECT posted.id,
       CASE WHEN side = 0 THEN %(gateway)s ELSE (%(targets)s::bigint[])[1 + posted.n %% %(count)s] END,
       CASE WHEN side = 0 THEN -1 ELSE 1 END * (1 + (posted.n * 7919) %% 100000),
       'EUR'
FROM posted CROSS JOIN generate_series(0, 1) AS side
ORDER BY posted.id, side
"""

TEN_LEG_SQL = """
WITH posted AS (
    INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, posted_at)
    SELECT 'bench-10', '', 'bench', n::text, '', now() FROM generate_series(%(first)s, %(last)s) AS n
    RETURNING id, subject_id::bigint AS n
)
INSERT INTO ledger_leg (transaction_id, account_id, amount, currency)
SELECT posted.id,
       CASE WHEN side = 0 THEN %(gateway)s ELSE (%(targets)s::bigint[])[1 + (posted.n * 9 + side) %% %(count)s] END,
       CASE WHEN side = 0 THEN -9 ELSE 1 END * (1 + (posted.n * 7919) %% 100000),
       'EUR'
FROM posted CROSS JOIN generate_series(0, 9) AS side
ORDER BY posted.id, side
"""

# Reversals of the 2-leg transactions numbered first..last that are multiples of REVERSE_ONE_IN: each takes
# back from a target exactly what it received, so no target goes below zero.
REVERSAL_SQL = """
WITH original AS (
    SELECT id FROM ledger_transaction
    WHERE subject_kind = 'bench' AND kind = 'bench-2'
          AND subject_id IN (SELECT n::text FROM generate_series(%(first)s, %(last)s, %(every)s) AS n)
), posted AS (
    INSERT INTO ledger_transaction (kind, memo, subject_kind, subject_id, idempotency_key, reverses_id, posted_at)
    SELECT 'reversal', '', 'bench', '', '', id, now() FROM original
    RETURNING id, reverses_id
)
INSERT INTO ledger_leg (transaction_id, account_id, amount, currency)
SELECT posted.id, leg.account_id, -leg.amount, leg.currency
FROM posted JOIN ledger_leg AS leg ON leg.transaction_id = posted.reverses_id
ORDER BY posted.id, leg.amount DESC
"""


def fill(legs_wanted: int, gateway: Any, targets: list[Any]) -> dict[str, Any]:
    """Insert about `legs_wanted` legs in batches, each batch one database transaction that commits."""
    from django.db import connection, transaction

    ten_leg_transactions = int(legs_wanted * TEN_LEG_SHARE) // 10
    # Per REVERSE_ONE_IN 2-leg transactions, 2 * REVERSE_ONE_IN legs plus 2 for one reversal.
    rest = legs_wanted - ten_leg_transactions * 10
    two_leg_transactions = rest * REVERSE_ONE_IN // (2 * REVERSE_ONE_IN + 2)
    common = {"gateway": gateway.pk, "targets": [t.pk for t in targets], "count": len(targets)}
    batches: list[tuple[str, str, int, int]] = []
    for label, statement, count in (("10-leg", TEN_LEG_SQL, ten_leg_transactions), ("2-leg", TWO_LEG_SQL, two_leg_transactions)):  # fmt: skip
        batches += [(label, statement, n, min(n + BATCH_TRANSACTIONS - 1, count)) for n in range(1, count + 1, BATCH_TRANSACTIONS)]  # fmt: skip
    started = time.monotonic()
    inserted = 0
    next_report = 0
    for number, (label, statement, first, last) in enumerate(batches, start=1):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, {**common, "first": first, "last": last})
            inserted += cursor.rowcount
            if label == "2-leg":
                first_multiple = -(-first // REVERSE_ONE_IN) * REVERSE_ONE_IN
                cursor.execute(REVERSAL_SQL, {"first": first_multiple, "last": last, "every": REVERSE_ONE_IN})
                inserted += cursor.rowcount
        # The commit above ran the deferred checks on every new leg and transaction.
        if inserted >= next_report or number == len(batches):
            # Fresh statistics, and a new session so that the triggers' PL/pgSQL plans, made when the tables
            # were small, are made again: the deferred checks then stay on their indexes.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE ledger_account, ledger_transaction, ledger_leg")
            connection.close()
            elapsed = time.monotonic() - started
            say(
                f"fill [{number}/{len(batches)}] {inserted:,} legs ({label} transactions up to {last}), "
                f"{elapsed:.0f} s, {inserted / elapsed:,.0f} legs/s"
            )
            next_report = inserted + PROGRESS_EVERY_LEGS
    fill_seconds = time.monotonic() - started
    say("VACUUM ANALYZE (the balance trigger leaves one dead account row version per leg) ...")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ledger_account, ledger_transaction, ledger_leg")
    return {
        "legs": inserted,
        "two_leg_transactions": two_leg_transactions,
        "ten_leg_transactions": ten_leg_transactions,
        "reversals": two_leg_transactions // REVERSE_ONE_IN,
        "accounts": len(targets) + 1,
        "fill_seconds": round(fill_seconds, 1),
        "fill_legs_per_second": round(inserted / fill_seconds),
    }


# --- ledger verify ------------------------------------------------------------------------------------------


def time_verify(runs: int) -> dict[str, Any]:
    from crowdmaker.ledger.selectors import INVARIANT_CHECKS
    from crowdmaker.ledger.verify import run_verify

    seconds: list[float] = []
    per_check: dict[str, list[float]] = {check.name: [] for check in INVARIANT_CHECKS}
    for run in range(1, runs + 1):
        out, err = StringIO(), StringIO()
        started = time.monotonic()
        ok = run_verify(out=out, err=err)
        elapsed = time.monotonic() - started
        if not ok:
            raise SystemExit(f"ledger bench: verify failed on the benchmark ledger:\n{out.getvalue()}{err.getvalue()}")
        seconds.append(elapsed)
        for check, line in zip(INVARIANT_CHECKS, out.getvalue().splitlines()[1:], strict=False):
            per_check[check.name].append(float(line.rsplit("(", 1)[1].split(" s)")[0]))
        say(f"verify [{run}/{runs}] {elapsed:.2f} s, all checks OK")
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603 - our own console script
        [str(BIN / "crowdmaker"), "ledger", "verify"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    command_seconds = time.monotonic() - started
    if completed.returncode != 0:
        raise SystemExit(f"ledger bench: `crowdmaker ledger verify` exited {completed.returncode}:\n{completed.stdout}")
    say(f"`crowdmaker ledger verify` as a command: {command_seconds:.2f} s (exit 0), report:\n{completed.stdout}")
    return {
        "runs_seconds": [round(s, 3) for s in seconds],
        "median_seconds": round(statistics.median(seconds), 3),
        "median_seconds_per_check": {name: round(statistics.median(v), 3) for name, v in per_check.items() if v},
        "command_seconds": round(command_seconds, 3),
    }


# --- postings -----------------------------------------------------------------------------------------------


def time_postings(runs: int, two_leg_postings: int, ten_leg_postings: int) -> dict[str, Any]:
    from crowdmaker.ledger import services
    from crowdmaker.ledger.money import Money

    gateway = services.account_open(
        owner_kind="gateway", owner_id="bench-post", purpose="gateway-clearing", currency="EUR", allow_negative=True
    )
    targets = [
        services.account_open(owner_kind="team", owner_id=f"post-{n}", purpose="project-payable", currency="EUR")
        for n in range(9)
    ]
    sequence = iter(range(10**9))

    def post(legs: int) -> None:
        amount = Money(100, "EUR")
        services.transaction_post(
            kind="bench",
            legs=[(gateway, Money(-100 * (legs - 1), "EUR")), *((targets[i], amount) for i in range(legs - 1))],
            idempotency_key=f"bench:{next(sequence)}",
        )

    for _ in range(50):  # warm-up: connection, statement caches
        post(2)
        post(10)
    samples: dict[int, list[float]] = {2: [], 10: []}
    for run in range(1, runs + 1):
        for legs, count in ((2, two_leg_postings), (10, ten_leg_postings)):
            started = time.monotonic()
            for _ in range(count):
                post(legs)
            rate = count / (time.monotonic() - started)
            samples[legs].append(rate)
            say(f"postings [{run}/{runs}] {legs:>2}-leg: {count} in a row, {rate:,.0f} postings/s")
    return {
        f"{legs}_leg": {
            "postings_per_run": two_leg_postings if legs == 2 else ten_leg_postings,
            "runs_postings_per_second": [round(r, 1) for r in rates],
            "median_postings_per_second": round(statistics.median(rates), 1),
            "median_legs_per_second": round(statistics.median(rates) * legs, 1),
        }
        for legs, rates in samples.items()
    }


# --- the benchmark ------------------------------------------------------------------------------------------


def describe_machine(database_url: str, embedded: bool) -> dict[str, Any]:
    import platform

    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_version(database_url),
        "database": f"embedded PostgreSQL ({BENCH_DIR.relative_to(ROOT)})" if embedded else "DATABASE_URL's server",
        "django": version("django"),
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--legs", type=int, default=1_000_000, help="legs to fill the ledger with (default 1e6)")
    parser.add_argument("--two-leg", type=int, default=1000, help="2-leg postings per run (default 1000)")
    parser.add_argument("--ten-leg", type=int, default=300, help="10-leg postings per run (default 300)")
    options = parser.parse_args(argv)
    if options.runs < 1 or options.legs < 10_000:
        parser.error("--runs must be at least 1 and --legs at least 10000")

    database_url, embedded = prepare_database()
    say(
        f"database {BENCH_DATABASE} on {'the embedded PostgreSQL in ' + str(BENCH_DIR) if embedded else 'DATABASE_URL'}"
    )
    setup_django()
    machine = describe_machine(database_url, embedded)
    say("machine " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    try:
        gateway, targets = open_accounts()
        ledger = fill(options.legs, gateway, targets)
        say(f"filled: {ledger}")
        verify = time_verify(options.runs)
        postings = time_postings(options.runs, options.two_leg, options.ten_leg)
    except KeyboardInterrupt:
        print("\nledger bench: interrupted; nothing saved", file=sys.stderr)
        return 130
    finally:
        from django.db import connections

        connections.close_all()
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    result = {"machine": machine, "ledger": ledger, "verify": verify, "postings": postings, "runs": options.runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print("| measurement | median | runs |")
    print("| --- | ---: | ---: |")
    for legs in (2, 10):
        figures = postings[f"{legs}_leg"]
        print(
            f"| postings/s, {legs}-leg | {figures['median_postings_per_second']:,.0f} "
            f"({figures['median_legs_per_second']:,.0f} legs/s) | {options.runs} |"
        )
    print(
        f"| `ledger verify` on {ledger['legs']:,} legs (in process) | {verify['median_seconds']:.2f} s | {options.runs} |"
    )
    print(f"| `crowdmaker ledger verify` (new process) | {verify['command_seconds']:.2f} s | 1 |")
    say(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
