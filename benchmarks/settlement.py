"""Measure settlement (issue #5): a 200,000-pledge campaign settled in batches, against the per-pledge path.

    .venv/bin/python benchmarks/settlement.py                              # 3 runs, about 10 minutes
    .venv/bin/python benchmarks/settlement.py --runs 1 --pledges 20000     # a quick try
    .venv/bin/python benchmarks/settlement.py --reuse --workers 1          # settle the last template again

Everything happens in databases of its own on the server that DATABASE_URL names (it never writes to the database
the URL names), or else on an embedded PostgreSQL in `var/bench-settlement/` (CROWDMAKER_VAR_DIR), which this
script starts and stops:

1. **Generate** `crowdmaker_bench_settlement`: migrations, then through the services a maker, a design, and three
   all-or-nothing campaigns with two reward tiers (unlimited) whose goals are met; then, by bulk SQL that bypasses
   the services, the pledges as authorization would have left them: a backer each, the pledge (authorized), its
   payment (authorized, with the fee quoted on the tier's margin by `payments.quote_fee`), the payment's
   authorize operation and the sandbox gateway's charge. The big campaign has `--pledges` pledges, the two small
   ones `--small` each; `--failing-share` of the pledges use the sandbox card whose captures are declined. The
   ledger's tables are left empty and never analyzed, as on a new platform.
2. Each run settles a fresh copy (`CREATE DATABASE ... TEMPLATE`) as the worker does (`campaign_settle` in this
   process, production settings, the sandbox gateway): one small campaign one pledge at a time (the path before
   batches, `one_by_one=True`), the other small one in batches, then the big one in batches (`--batch-size`,
   `--workers` batches at a time; settlement's defaults otherwise), with progress. Then `ledger verify` (must
   pass) and a second settlement of the big campaign, which must write nothing: the rows of every table are
   counted before and after, and PostgreSQL's own count of inserted, updated and deleted rows must not move.

Figures quoted are medians over the runs; the per-pledge ratio compares the two small campaigns of the same run.
The time of the big settlement is split by step (summed over the workers) and its CPU time is measured for this
process and for its PostgreSQL backends (from /proc, when the server runs on this machine), figures that depend
less than wall time on what else the machine runs. Results are printed and saved to
benchmarks/results/settlement.json (overwritten on every run). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

from ledger import build_url
from web_servers import cpu_model, git_commit, memory_gib, postgres_version, version

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "settlement.json"
BENCH_DIR = ROOT / "var" / "bench-settlement"
TEMPLATE_DATABASE = "crowdmaker_bench_settlement"
RUN_DATABASE = "crowdmaker_bench_settlement_run"
TARGET_SECONDS = 30  # issue #5: a 200,000-pledge campaign settled in at most 30 s
CURRENCY = "EUR"
# What backers pledge, in turn: (tier, extra). The fee is quoted on the margin over the tier's declared cost.
TIERS = {"early": (4_000, 1_500), "lamp": (5_000, 1_500)}
VARIANTS = [("early", 0), ("lamp", 0), ("early", 500), ("lamp", 1_000), (None, 2_001), ("lamp", 0), ("early", 250)]
GENERATE_CHUNK = 50_000  # pledges per generating transaction
PROGRESS_EVERY = 0.1  # of a campaign's pledges


def say(message: str) -> None:
    print(f"settlement bench: {message}", flush=True)


# --- databases ----------------------------------------------------------------------------------------------


def prepare_server() -> tuple[dict[str, Any], bool]:
    """The connection parameters of the server (DATABASE_URL's, or an embedded one started here)."""
    from psycopg.conninfo import conninfo_to_dict

    embedded = not os.environ.get("DATABASE_URL")
    if embedded:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        os.environ["CROWDMAKER_VAR_DIR"] = str(BENCH_DIR)
        sys.path.insert(0, str(ROOT / "src"))
        from crowdmaker.core import embedded_db

        # Starts the embedded server, and stops it when this script exits (unless another process uses it).
        embedded_db.database_url()
    return conninfo_to_dict(os.environ["DATABASE_URL"]), embedded


def server_execute(params: dict[str, Any], *statements: Any) -> None:
    import psycopg

    with psycopg.connect(build_url(params), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def use_database(name: str) -> None:
    """Point Django's connection at another database of the server (closing the current one)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def setup_django(params: dict[str, Any]) -> None:
    os.environ["DATABASE_URL"] = build_url({**params, "dbname": TEMPLATE_DATABASE})
    os.environ["DJANGO_SETTINGS_MODULE"] = "crowdmaker.config.settings.production"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(45)
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


# --- generating the campaigns -------------------------------------------------------------------------------


def _insert_select(cursor: Any, model: Any, given: dict[str, Any], source: str, params: list[Any]) -> int:
    """INSERT INTO model's table SELECT ... `source`: the columns in `given` from SQL expressions (a string, or a
    string and its parameters), every other concrete field from its model default (so that fields added later keep
    working). Returns the number of rows inserted."""
    from django.db import connection

    columns, expressions, values = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in given:
            expression, expression_params = given[field.column] if isinstance(given[field.column], tuple) else (
                given[field.column], [])  # fmt: skip
            expressions.append(expression)
            values += expression_params
        else:
            default = field.get_default()  # "" for a text field without a default
            if default is None and not field.null:
                raise SystemExit(f"settlement bench: no value for {model.__name__}.{field.name}")
            expressions.append("%s")
            values.append(field.get_db_prep_save(default, connection))
    unknown = set(given) - set(columns)
    if unknown:
        raise SystemExit(f"settlement bench: {model.__name__} has no columns {sorted(unknown)}")
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(expressions)} {source}",
        [*values, *params],
    )
    return int(cursor.rowcount)


def generate(pledges: int, small: int, failing_share: float) -> dict[str, Any]:
    """The template database's campaigns (see the module docstring); returns what was made."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from crowdmaker.commons import services as commons
    from crowdmaker.funding import services as funding
    from crowdmaker.funding.models import Pledge
    from crowdmaker.ledger import payments
    from crowdmaker.ledger.gateways import sandbox
    from crowdmaker.ledger.models import Payment, PaymentOperation, SandboxCharge
    from crowdmaker.ledger.money import Money
    from crowdmaker.people import services as people
    from crowdmaker.people.models import User

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    maker = people.user_create(email="maker@bench.example", password=None, handle="bench-maker")
    design = commons.design_create(actor=maker, slug="bench-lamp", title="Bench lamp", licence="CERN-OHL-S-2.0",
                                   manifest={"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "Bench lamp",
                                             "security": "nosec_sc",
                                             "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}}})  # fmt: skip
    version = design.versions.get()
    deadline = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    made: dict[str, Any] = {"deadline": deadline.isoformat(), "campaigns": {}}
    failing_every = round(1 / failing_share) if failing_share > 0 else 0
    for label, count in (("big", pledges), ("small-one-by-one", small), ("small-batches", small)):
        campaign = funding.campaign_create(
            actor=maker, slug=f"bench-{label}", title=f"Bench campaign ({label})", design_versions=[version],
            goal=count * 3_000, currency=CURRENCY, starts_at=deadline - dt.timedelta(days=40), deadline=deadline,
        )  # fmt: skip
        tiers = {
            name: funding.tier_add(actor=maker, campaign=campaign, title=name.title(), price=price, unit_cost=cost,
                                   items=[(version, 1)])
            for name, (price, cost) in TIERS.items()
        }  # fmt: skip
        funding.campaign_publish(actor=maker, campaign=campaign)
        variants = []  # tier id, reward, extra, amount, unit cost, fee quoted
        for tier_name, extra in VARIANTS:
            price, cost = TIERS[tier_name] if tier_name else (0, 0)
            amount = price + extra
            fee = payments.quote_fee(Money(amount, CURRENCY), Money(cost, CURRENCY) if tier_name else None).amount
            variants.append((tiers[tier_name].pk if tier_name else None, price, extra, amount, cost, fee))
        columns = [list(column) for column in zip(*variants, strict=True)]
        for first in range(1, count + 1, GENERATE_CHUNK):
            last = min(first + GENERATE_CHUNK - 1, count)
            with transaction.atomic(), connection.cursor() as cursor:
                generate_chunk(cursor, campaign.pk, label, first, last, columns, failing_every, deadline,
                               models=(User, Pledge, Payment, PaymentOperation, SandboxCharge),
                               cards=(sandbox.CARD_OK, sandbox.CARD_CAPTURE_FAILS))  # fmt: skip
            say(f"generate {label}: {last:,} of {count:,} pledges ({time.monotonic() - started:.0f} s)")
        made["campaigns"][label] = {"id": campaign.pk, "pledges": count}
    # Statistics for the tables filled here. The ledger's tables stay empty and never analyzed, as on a new platform:
    # analyzed empty, they would tell the planner they are empty for good wherever autovacuum is off (as on the
    # shared development server), and the foreign-key checks would scan them whole as they grow.
    with connection.cursor() as cursor:
        cursor.execute(
            f"VACUUM ANALYZE {User._meta.db_table}, {Pledge._meta.db_table}, {Payment._meta.db_table}, "
            f"{PaymentOperation._meta.db_table}, {SandboxCharge._meta.db_table}"
        )
    made["generate_seconds"] = round(time.monotonic() - started, 1)
    made["failing_pledges"] = (
        sum(c["pledges"] // failing_every for c in made["campaigns"].values()) if failing_every else 0
    )
    return made


def generate_chunk(cursor: Any, campaign_id: int, label: str, first: int, last: int, variants: list[list[Any]],
                   failing_every: int, deadline: dt.datetime, *, models: tuple[Any, ...],
                   cards: tuple[str, str]) -> None:  # fmt: skip
    """Backers first..last of one campaign, each with one authorized pledge, its payment, the payment's authorize
    operation and the sandbox's charge: the rows a successful `pledge_create` leaves."""
    user, pledge, payment, operation, charge = models
    ok, fails = cards
    at = deadline - dt.timedelta(days=1)
    numbers = "FROM generate_series(%s::bigint, %s::bigint) AS n"
    _insert_select(cursor, user, {
        "password": "'!'", "email": f"'{label}-' || n || '@bench.example'", "handle": f"'{label}-' || n",
    }, numbers, [first, last])  # fmt: skip

    def variant(column: int) -> tuple[str, list[Any]]:  # the pledge's variant, by its backer's number
        return f"(%s::bigint[])[1 + n %% {len(variants[0])}]", [variants[column]]

    _insert_select(cursor, pledge, {
        "campaign_id": ("%s", [campaign_id]), "backer_id": "u.id", "tier_id": variant(0), "reward_amount": variant(1),
        "extra_amount": variant(2), "amount": variant(3), "unit_cost": variant(4), "status": "'authorized'",
        "created_at": ("%s", [at]), "updated_at": ("%s", [at]),
    }, f"{numbers} JOIN {user._meta.db_table} u ON u.handle = '{label}-' || n", [first, last])  # fmt: skip
    # This chunk's pledges (their backers' numbers), and their sandbox charges once made.
    chunk = (f"FROM {pledge._meta.db_table} p JOIN {user._meta.db_table} u ON u.id = p.backer_id "
             f"JOIN generate_series(%s::bigint, %s::bigint) AS n ON u.handle = '{label}-' || n")  # fmt: skip
    card = f"CASE WHEN %s > 0 AND n %% %s = 0 THEN '{fails}' ELSE '{ok}' END"
    _insert_select(cursor, charge, {
        "reference": "'pledge-' || p.id", "payment_method": (card, [failing_every, max(failing_every, 1)]),
        "amount": "p.amount", "currency": f"'{CURRENCY}'", "status": "'authorized'", "created_at": ("%s", [at]),
    }, f"{chunk} WHERE p.campaign_id = %s", [first, last, campaign_id])  # fmt: skip
    _insert_select(cursor, payment, {
        "payer_id": "p.backer_id::text", "payee_kind": "'campaign'", "payee_id": "p.campaign_id::text",
        "amount": "p.amount", "currency": f"'{CURRENCY}'", "payment_method": "c.payment_method",
        "gateway": "'sandbox'", "reference": "c.reference", "status": "'authorized'",
        "authorization_id": "'sandbox-auth-' || c.id", "fee_quoted": variant(5), "created_at": ("%s", [at]),
        "updated_at": ("%s", [at]),
    }, f"{chunk} JOIN {charge._meta.db_table} c ON c.reference = 'pledge-' || p.id WHERE p.campaign_id = %s",
        [first, last, campaign_id])  # fmt: skip
    _insert_select(cursor, operation, {
        "payment_id": "pay.id", "kind": "'authorize'", "amount": "pay.amount", "reference": "pay.reference",
        "status": "'succeeded'", "gateway_id": "pay.authorization_id", "created_at": ("%s", [at]),
        "finished_at": ("%s", [at]),
    }, f"{chunk} JOIN {payment._meta.db_table} pay ON pay.reference = 'pledge-' || p.id WHERE p.campaign_id = %s",
        [first, last, campaign_id])  # fmt: skip
    cursor.execute(
        f"UPDATE {pledge._meta.db_table} p SET payment_id = pay.id FROM {payment._meta.db_table} pay "  # noqa: S608
        "WHERE p.campaign_id = %s AND p.payment_id IS NULL AND pay.reference = 'pledge-' || p.id",
        [campaign_id],
    )


# --- measuring ----------------------------------------------------------------------------------------------


class StepClock:
    """Seconds spent in each named step of settlement (wrapped functions), summed over a run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def wrapped(self, owner: Any, name: str, label: str) -> Iterator[None]:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.monotonic() - started

        setattr(owner, name, timed)
        try:
            yield
        finally:
            setattr(owner, name, original)


@contextmanager
def progress(label: str, first_id: int, count: int) -> Iterator[None]:
    """Report how far a settlement is, every PROGRESS_EVERY of its pledges (through settlement's step hook)."""
    from crowdmaker.funding import settlement

    started = time.monotonic()
    next_report = [PROGRESS_EVERY]
    original = settlement.checkpoint

    def reached(step: str, subject_id: int = 0) -> None:
        if step == "recorded":
            done = (subject_id - first_id + 1) / count
            if done >= next_report[0]:
                elapsed = time.monotonic() - started
                say(f"  {label}: {done:.0%} of {count:,} pledges, {elapsed:.1f} s")
                next_report[0] = (int(done / PROGRESS_EVERY) + 1) * PROGRESS_EVERY
        original(step, subject_id)

    settlement.checkpoint = reached
    try:
        yield
    finally:
        settlement.checkpoint = original


def row_counts() -> dict[str, int]:
    """Rows of every table of the database, and PostgreSQL's count of rows inserted, updated and deleted so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.2)  # the flush happens when the session is idle
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables")
        changes = dict(cursor.fetchall())
        counts = {}
        for table in sorted(changes):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - names from the catalog
            counts[table] = cursor.fetchone()[0]
    return {
        "rows": sum(counts.values()),
        "changed": sum(changes.values()),
        **{f"rows:{t}": n for t, n in counts.items()},
    }


class CpuMeter:
    """CPU seconds used by this process (all its threads) and by the PostgreSQL backends connected to one database
    (sampled from /proc every 0.2 s, so a backend's last moments before it disconnects may be missed): figures that
    depend far less than wall time on what else the machine is running. None where /proc cannot be read (the
    server on another machine)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.backends: dict[int, float] = {}
        self.stop = threading.Event()
        self.readable = True

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _sample(self, cursor: Any) -> None:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
        for (pid,) in cursor.fetchall():
            used = self._cpu(pid)
            if used is None:
                self.readable = False
            else:
                self.backends[pid] = max(used, self.backends.get(pid, 0.0))

    @contextmanager
    def measuring(self, params: dict[str, Any]) -> Iterator[dict[str, float | None]]:
        import psycopg

        figures: dict[str, float | None] = {}
        started_self = time.process_time()
        with psycopg.connect(build_url({**params, "dbname": "postgres"}), autocommit=True) as monitor:
            cursor = monitor.cursor()
            self._sample(cursor)
            before = dict(self.backends)

            def watch() -> None:
                while not self.stop.wait(0.2):
                    self._sample(cursor)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                yield figures
            finally:
                self.stop.set()
                watcher.join()
                self._sample(cursor)
        figures["python_cpu_seconds"] = round(time.process_time() - started_self, 2)
        figures["postgres_cpu_seconds"] = (
            round(sum(used - before.get(pid, 0.0) for pid, used in self.backends.items()), 2) if self.readable else None
        )


def settle(campaign_id: int, now: dt.datetime, **options: Any) -> tuple[float, Any]:
    from crowdmaker.funding import settlement

    started = time.monotonic()
    report = settlement.campaign_settle(campaign_id=campaign_id, now=now, **options)
    return time.monotonic() - started, report


def one_run(run: int, runs: int, made: dict[str, Any], params: dict[str, Any], batch_size: int,
            workers: int) -> dict[str, Any]:  # fmt: skip
    from django.db import DEFAULT_DB_ALIAS, connections

    from crowdmaker.funding import settlement
    from crowdmaker.funding.models import Pledge
    from crowdmaker.ledger import payments
    from crowdmaker.ledger.gateways import sandbox
    from crowdmaker.ledger.verify import run_verify

    load_start = os.getloadavg()[0]
    now = dt.datetime.fromisoformat(made["deadline"]) + settlement.IN_FLIGHT_GRACE + dt.timedelta(seconds=1)
    campaigns = made["campaigns"]
    result: dict[str, Any] = {"load_average_1m_at_start": round(load_start, 2)}

    for label, one_by_one in (("small-one-by-one", True), ("small-batches", False)):
        seconds, report = settle(campaigns[label]["id"], now, one_by_one=one_by_one, batch_size=batch_size,
                                 workers=workers)  # fmt: skip
        result[label] = {"seconds": round(seconds, 3), "ms_per_pledge": round(1000 * seconds / campaigns[label]["pledges"], 3),
                         "captured": report.captured, "declined": report.declined}  # fmt: skip
        say(f"[{run}/{runs}] {label}: {campaigns[label]['pledges']:,} pledges in {seconds:.2f} s "
            f"({result[label]['ms_per_pledge']:.2f} ms per pledge)")  # fmt: skip

    big = campaigns["big"]
    first_id = Pledge.objects.filter(campaign_id=big["id"]).order_by("pk").values_list("pk", flat=True).first()
    clock = StepClock()
    with (
        progress("big", first_id, big["pledges"]),
        clock.wrapped(settlement, "_walk", "capturing and recording (all batches)"),
        clock.wrapped(payments, "_begin_many", "1. pending operations recorded"),
        clock.wrapped(sandbox.SandboxGateway, "capture_many", "2. gateway (sandbox) capture_many"),
        clock.wrapped(payments, "_post_captures", "3a. postings and payments"),
        clock.wrapped(payments, "accounts_open_many", "3a'. accounts opened (within 3a)"),
        clock.wrapped(payments, "transactions_post_many", "3a''. transactions posted (within 3a)"),
        clock.wrapped(payments, "_locked_states", "3b. payments locked again"),
        clock.wrapped(payments, "_update_operations", "3c. operations finished"),
        clock.wrapped(payments, "payments_capture_many", "1-3. payments_capture_many"),
        clock.wrapped(settlement, "_declined_batch", "declines recorded on pledges"),
        clock.wrapped(settlement, "_record", "pledges recorded"),
        clock.wrapped(settlement, "_finish", "distribution"),
        clock.wrapped(type(connections[DEFAULT_DB_ALIAS]), "commit", "commits (all steps)"),
        CpuMeter(RUN_DATABASE).measuring(params) as cpu,
    ):
        seconds, report = settle(big["id"], now, batch_size=batch_size, workers=workers)
    load_end = os.getloadavg()[0]
    # Summed over the workers: with two, the steps overlap and add up to more than the time it took.
    steps = {name: round(value, 3) for name, value in clock.seconds.items()}
    say(f"[{run}/{runs}] big: {big['pledges']:,} pledges in {seconds:.2f} s "
        f"({1000 * seconds / big['pledges']:.3f} ms per pledge; captured {report.captured:,}, declined "
        f"{report.declined:,}, distributed {report.distributed:,}); load average {load_end:.2f}")  # fmt: skip
    say("  where the time went: " + ", ".join(f"{name} {value:.2f} s" for name, value in steps.items()))
    say(f"  CPU: this process {cpu['python_cpu_seconds']} s, its PostgreSQL backends {cpu['postgres_cpu_seconds']} s")

    out = StringIO()
    started = time.monotonic()
    verified = run_verify(out=out, err=out)
    verify_seconds = time.monotonic() - started
    if not verified:
        raise SystemExit(f"settlement bench: ledger verify failed after settlement:\n{out.getvalue()}")
    say(f"[{run}/{runs}] ledger verify: all checks passed in {verify_seconds:.2f} s")

    before = row_counts()
    second_seconds, second = settle(big["id"], now, batch_size=batch_size)
    after = row_counts()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    say(f"[{run}/{runs}] second settlement: {second_seconds:.2f} s, "
        + ("nothing written" if not changed else f"WROTE: {changed}"))  # fmt: skip
    result["big"] = {
        "seconds": round(seconds, 3),
        "ms_per_pledge": round(1000 * seconds / big["pledges"], 4),
        "captured": report.captured,
        "declined": report.declined,
        "distributed": report.distributed,
        "steps_seconds": steps,
        "cpu_seconds": cpu,
        "load_average_1m_at_end": round(load_end, 2),
    }
    result["verify_seconds"] = round(verify_seconds, 3)
    result["second_run"] = {
        "seconds": round(second_seconds, 3),
        "rows_before": before["rows"],
        "rows_after": after["rows"],
        "rows_inserted_updated_deleted": after["changed"] - before["changed"],
        "differences": changed,
        "report": {"captured": second.captured, "declined": second.declined, "voided": second.voided},
    }
    if changed:
        raise SystemExit("settlement bench: the second settlement wrote rows")
    result["ratio_one_by_one_to_batches"] = round(
        result["small-one-by-one"]["ms_per_pledge"] / result["small-batches"]["ms_per_pledge"], 2
    )
    return result


def describe_machine(params: dict[str, Any], embedded: bool) -> dict[str, Any]:
    import platform

    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_version(build_url({**params, "dbname": "postgres"})),
        "database": f"embedded PostgreSQL ({BENCH_DIR.relative_to(ROOT)})" if embedded else "DATABASE_URL's server",
        "django": version("django"),
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def median_of(runs: list[dict[str, Any]], path: Callable[[dict[str, Any]], float]) -> float:
    return round(statistics.median(path(r) for r in runs), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="settlements of fresh copies (default 3)")
    parser.add_argument("--pledges", type=int, default=200_000, help="pledges of the big campaign (default 200000)")
    parser.add_argument("--small", type=int, default=2_000, help="pledges of each small campaign (default 2000)")
    parser.add_argument("--failing-share", type=float, default=0.005,
                        help="share of pledges whose capture is declined (default 0.005)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=0, help="pledges per batch (default: settlement's)")
    parser.add_argument("--workers", type=int, default=0, help="batches at a time (default: settlement's)")
    parser.add_argument("--reuse", action="store_true", help="settle the template generated by an earlier run")
    options = parser.parse_args(argv)
    if options.runs < 1 or options.pledges < 1000 or options.small < 100 or not 0 <= options.failing_share < 0.5:
        parser.error("--runs >= 1, --pledges >= 1000, --small >= 100, 0 <= --failing-share < 0.5")

    from psycopg import sql

    params, embedded = prepare_server()
    setup_django(params)
    from crowdmaker.funding import settlement

    batch_size = options.batch_size or settlement.BATCH_SIZE
    workers = options.workers or settlement.WORKERS
    machine = describe_machine(params, embedded)
    say(f"databases {TEMPLATE_DATABASE} and {RUN_DATABASE} on "
        + (f"the embedded PostgreSQL in {BENCH_DIR}" if embedded else "DATABASE_URL's server"))  # fmt: skip
    say("machine " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    template, run_db = sql.Identifier(TEMPLATE_DATABASE), sql.Identifier(RUN_DATABASE)
    made_file = BENCH_DIR / "template.json"
    try:
        if options.reuse and made_file.exists():
            made = json.loads(made_file.read_text())
            say(f"reusing the template generated earlier: {made}")
        else:
            use_database("postgres")
            server_execute(params, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(run_db),
                           sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(template),
                           sql.SQL("CREATE DATABASE {}").format(template))  # fmt: skip
            use_database(TEMPLATE_DATABASE)
            made = generate(options.pledges, options.small, options.failing_share)
            BENCH_DIR.mkdir(parents=True, exist_ok=True)
            made_file.write_text(json.dumps(made))
            say(f"generated: {made}")
        runs = []
        for run in range(1, options.runs + 1):
            use_database("postgres")
            started = time.monotonic()
            server_execute(params, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(run_db),
                           sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(run_db, template))  # fmt: skip
            say(f"[{run}/{options.runs}] fresh copy of the template in {time.monotonic() - started:.1f} s")
            use_database(RUN_DATABASE)
            runs.append(one_run(run, options.runs, made, params, batch_size, workers))
    except KeyboardInterrupt:
        print("\nsettlement bench: interrupted; nothing saved", file=sys.stderr)
        return 130
    finally:
        from django.db import connections

        connections.close_all()
        server_execute(params, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(run_db))

    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    big_seconds = median_of(runs, lambda r: r["big"]["seconds"])
    one_by_one_ms = median_of(runs, lambda r: r["small-one-by-one"]["ms_per_pledge"])
    summary = {
        "big_pledges": made["campaigns"]["big"]["pledges"],
        "small_pledges": made["campaigns"]["small-batches"]["pledges"],
        "batch_size": batch_size,
        "workers": workers,
        "median_big_seconds": big_seconds,
        "median_big_ms_per_pledge": median_of(runs, lambda r: r["big"]["ms_per_pledge"]),
        "median_small_batches_ms_per_pledge": median_of(runs, lambda r: r["small-batches"]["ms_per_pledge"]),
        "median_small_one_by_one_ms_per_pledge": median_of(runs, lambda r: r["small-one-by-one"]["ms_per_pledge"]),
        "median_ratio_one_by_one_to_batches": median_of(runs, lambda r: r["ratio_one_by_one_to_batches"]),
        "one_by_one_extrapolated_big_seconds": round(one_by_one_ms * made["campaigns"]["big"]["pledges"] / 1000, 1),
        "median_python_cpu_seconds": median_of(runs, lambda r: r["big"]["cpu_seconds"]["python_cpu_seconds"]),
        "median_postgres_cpu_seconds": (
            median_of(runs, lambda r: r["big"]["cpu_seconds"]["postgres_cpu_seconds"])
            if all(r["big"]["cpu_seconds"]["postgres_cpu_seconds"] is not None for r in runs)
            else None
        ),
        "median_verify_seconds": median_of(runs, lambda r: r["verify_seconds"]),
        "median_second_run_seconds": median_of(runs, lambda r: r["second_run"]["seconds"]),
        "second_run_wrote_nothing": all(not r["second_run"]["differences"] for r in runs),
        "median_steps_seconds": {
            name: median_of(runs, lambda r, n=name: r["big"]["steps_seconds"].get(n, 0.0))
            for name in runs[0]["big"]["steps_seconds"]
        },
        "target_seconds": TARGET_SECONDS,
        # Only a settlement of 200,000 pledges or more says anything about the target.
        "target_met": big_seconds <= TARGET_SECONDS if made["campaigns"]["big"]["pledges"] >= 200_000 else None,
    }
    result = {"machine": machine, "generated": made, "summary": summary, "runs": runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print("| measurement | median | runs |")
    print("| --- | ---: | ---: |")
    print(f"| settle {summary['big_pledges']:,} pledges in batches of {batch_size}, {workers} at a time | {big_seconds:.1f} s "
          f"({summary['median_big_ms_per_pledge']:.3f} ms/pledge) | {len(runs)} |")  # fmt: skip
    print(f"| CPU of the big settlement: Python (all threads) / PostgreSQL backends | "
          f"{summary['median_python_cpu_seconds']:.1f} s / {summary['median_postgres_cpu_seconds']} s | {len(runs)} |")  # fmt: skip
    print(f"| settle {summary['small_pledges']:,} pledges in batches | "
          f"{summary['median_small_batches_ms_per_pledge']:.3f} ms/pledge | {len(runs)} |")  # fmt: skip
    print(f"| settle {summary['small_pledges']:,} pledges one by one | "
          f"{summary['median_small_one_by_one_ms_per_pledge']:.3f} ms/pledge | {len(runs)} |")  # fmt: skip
    print(
        f"| ratio one by one / batches (same run) | {summary['median_ratio_one_by_one_to_batches']:.1f}x | {len(runs)} |"
    )
    print(f"| `ledger verify` after | {summary['median_verify_seconds']:.2f} s | {len(runs)} |")
    print(f"| second settlement (writes nothing: {summary['second_run_wrote_nothing']}) | "
          f"{summary['median_second_run_seconds']:.2f} s | {len(runs)} |")  # fmt: skip
    verdict = {True: "met", False: "NOT met", None: "not measured (fewer than 200,000 pledges)"}[summary["target_met"]]
    say(f"target {TARGET_SECONDS} s for 200,000 pledges: {verdict}; "
        f"saved {RESULTS.relative_to(ROOT)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
