"""Measure "check", "complete my system" and "compatible with" through real HTTP on a 100 000-design catalog.

    .venv/bin/python benchmarks/catalog.py                          # 3 rounds of 20 warm requests, about 10 minutes
    .venv/bin/python benchmarks/catalog.py --designs 20000 --rounds 1 --warm 3   # a quick try

Database: a database of its own, `crowdmaker_bench_catalog`, on the server DATABASE_URL names when it is set (it
never writes to the database the URL names), else on an embedded PostgreSQL in `var/bench-catalog/`
(CROWDMAKER_VAR_DIR) that this script starts and stops. The database is created when missing and KEPT: the
generated catalog is reused by the next run (`--fresh` drops it and generates again). Migrated on every run.

1. Generate `--designs` designs (default 100 000), one version each, with bulk inserts in blocks of 2 000 (one
   database transaction each, so an interrupted run resumes). This BYPASSES the services (`design_create` would
   take many minutes for 100 000): the rows are what the services would write (interfaces kept on the design,
   forks pointing at an exact version, licences a fork may take), and every manifest uses only registered
   interfaces (`registry_seed.STARTER_SET`: provides "1.0.0", requires "^1.0", exactly the registry's
   dimensions). A sample of the manifests, and all of the fixed "home" products below, go through what
   publication checks: `protocol.manifest.validate_manifest` and `protocol.selectors.manifest_registry_problems`.
   About 15 % of the designs are forks, of earlier designs picked with a strong bias, so popularity scores (fork
   counts) range from 0 to hundreds.
2. Time, in this process, `commons.systems.catalog_index()` (the query, the engine members and the engine's
   `CatalogIndex`) and `CatalogIndex` alone, several times.
3. Create a user and an API token with `people.services`, start gunicorn (2 sync workers, production settings,
   `crowdmaker.config.wsgi:application`, an access log as `crowdmaker run` has), and create through the API a
   200-product system (13 design versions), an incomplete 5-product system (no MQTT broker, no Wi-Fi) and a
   complete 5-product system.
4. Rounds: for each endpoint, start gunicorn afresh; let each worker answer the health check (Django's first
   request in a process), then send the endpoint once to each worker (cold: what the endpoint adds on its first
   run in a worker, which for the catalog endpoints is building the catalog index; the other worker is held by
   an idle connection so that the request reaches the one wanted), then `--warm` requests, each followed by
   `GET /api/v1/health` (the baseline, measured alongside). Requests are sequential, one at a time, so each one
   runs on one core. The access log says which worker answered. Peak RSS is the sum over gunicorn's process
   tree, sampled every 0.25 s.

Results are printed and saved to benchmarks/results/catalog.json (overwritten on every run). Nothing here is
asserted by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import gc
import http.client
import json
import os
import random
import re
import secrets
import socket
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from web_servers import RssSampler, Server, cpu_model, git_commit, memory_gib, postgres_version, version

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "catalog.json"
BENCH_DIR = ROOT / "var" / "bench-catalog"
BENCH_DATABASE = "crowdmaker_bench_catalog"
APP = "crowdmaker.config.wsgi:application"
WORKERS = 2
HEALTH = "/api/v1/health"
API = "/api/v1"
SEED = 20261126
BLOCK = 2_000  # designs per bulk insert and database transaction; fork parents come from earlier blocks
FORK_SHARE = 0.15
BENCH_HANDLE = "catalog-bench"
BENCH_EMAIL = "catalog-bench@example.org"
HTTP_TIMEOUT_S = 300.0


def say(message: str) -> None:
    print(f"catalog bench: {message}", flush=True)


# --- the database -------------------------------------------------------------------------------------------


def build_url(params: dict[str, Any]) -> str:
    from urllib.parse import quote

    user = quote(str(params.get("user") or "postgres"), safe="")
    password = f":{quote(str(params['password']), safe='')}" if params.get("password") else ""
    host = quote(str(params.get("host") or "localhost"), safe="")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{password}@{host}{port}/{params['dbname']}"


def prepare_database(*, fresh: bool) -> tuple[str, bool]:
    """The benchmark's own database (created when missing, kept for the next run); exported as DATABASE_URL."""
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
        if fresh:
            say(f"--fresh: dropping database {BENCH_DATABASE}")
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DATABASE))
            )
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]).fetchone()
        if exists is None:
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
    return url, embedded


def setup_django() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    say("migrating")
    call_command("migrate", interactive=False, verbosity=0)


# --- the generated catalog ----------------------------------------------------------------------------------

USB, DC, MAINS = "power.usb-c", "power.dc-barrel-12v", "power.mains-230v"
TEMPERATURE, HUMIDITY, MOTION = (f"data.mqtt.sensor.{k}" for k in ("temperature", "humidity", "motion"))
SWITCH, LIGHT = "data.mqtt.actuator.switch", "data.mqtt.actuator.light"
BROKER, HTTP, WIFI = "data.mqtt.broker", "data.http", "data.wifi-ap"
DIN, PROFILE, M3 = "mechanical.din-rail-35", "mechanical.profile-2020", "mechanical.m3-mount"
HOME_ASSISTANT = "software.home-assistant"

Entry = dict[str, Any]
Spec = tuple[str, list[Entry], list[Entry]]  # title, cm:provides, cm:requires


def _dimensions(interface: str, amounts: dict[str, float]) -> None:
    from crowdmaker.protocol.registry_seed import STARTER_SET

    expected = set(STARTER_SET[interface][1])
    if set(amounts) != expected:
        raise AssertionError(f"{interface}: dimensions {sorted(amounts)} are not the registry's {sorted(expected)}")


def provide(interface: str, **capacity: float) -> Entry:
    _dimensions(interface, capacity)
    return {"interface": interface, "version": "1.0.0", "capacity": capacity}


def require(interface: str, **load: float) -> Entry:
    _dimensions(interface, load)
    return {"interface": interface, "version": "^1.0", "load": load}


def power(rng: random.Random, low: float, high: float, *, mains: bool = False) -> Entry:
    """A power input of `low`-`high` W by USB-C, a 12 V barrel jack or (for mains devices) a socket."""
    watts = round(rng.uniform(low, high) * 2) / 2
    interface = rng.choice([USB, USB, DC, *([MAINS, MAINS] if mains else [])])
    return require(interface, watts=watts, **({"sockets": 1} if interface == MAINS else {"ports": 1}))


def networked(rng: random.Random, low: float, high: float) -> list[Entry]:
    """What every MQTT device needs: power, a Wi-Fi client slot, a broker connection."""
    return [power(rng, low, high), require(WIFI, clients=1), require(BROKER, connections=1)]


def _charger(rng: random.Random) -> Spec:
    watts, ports = rng.choice([20, 30, 45, 65, 100, 140]), rng.randint(1, 4)
    return (
        f"USB-C charger {watts} W, {ports} ports",
        [provide(USB, watts=watts, ports=ports)],
        [require(MAINS, watts=round(watts * 1.12), sockets=1)],
    )


def _usb_hub(rng: random.Random) -> Spec:
    watts, ports = rng.choice([60, 90, 120, 160, 240]), rng.randint(4, 10)
    return (
        f"Powered USB-C hub {watts} W, {ports} ports",
        [provide(USB, watts=watts, ports=ports)],
        [require(MAINS, watts=round(watts * 1.1), sockets=1)],
    )


def _dc_supply(rng: random.Random) -> Spec:
    watts, ports = rng.choice([12, 24, 36, 60, 90, 120]), rng.randint(1, 4)
    return (
        f"12 V supply {watts} W, {ports} outputs",
        [provide(DC, watts=watts, ports=ports)],
        [require(MAINS, watts=round(watts * 1.15), sockets=1)],
    )


def _strip(rng: random.Random) -> Spec:
    watts, sockets = rng.choice([2300, 3000, 3680]), rng.randint(3, 8)
    return (
        f"Power strip, {sockets} sockets",
        [provide(MAINS, watts=watts, sockets=sockets)],
        [require(MAINS, watts=watts, sockets=1)],
    )


def _wall_panel(rng: random.Random) -> Spec:
    sockets = rng.randint(1, 4)
    return f"Wall socket panel, {sockets} sockets", [provide(MAINS, watts=3680, sockets=sockets)], []


def _wifi_ap(rng: random.Random) -> Spec:
    clients = rng.choice([8, 16, 32, 64])
    return f"Wi-Fi access point, {clients} clients", [provide(WIFI, clients=clients)], [power(rng, 4, 12)]


def _broker(rng: random.Random) -> Spec:
    connections = rng.choice([10, 25, 50, 100, 250, 1000])
    provides = [provide(BROKER, connections=connections)]
    if rng.random() < 0.3:
        provides.append(provide(HTTP, connections=rng.choice([5, 10, 20])))
    return f"MQTT broker, {connections} connections", provides, [power(rng, 3, 10), require(WIFI, clients=1)]


def _gateway(rng: random.Random) -> Spec:
    clients, connections = rng.choice([8, 16, 32]), rng.choice([25, 50, 100])
    return (
        f"Wi-Fi gateway with MQTT broker, {clients} clients",
        [provide(WIFI, clients=clients), provide(BROKER, connections=connections)],
        [power(rng, 5, 15)],
    )


def _home_assistant(rng: random.Random) -> Spec:
    devices = rng.choice([50, 100, 250, 1000])
    return (
        f"Home Assistant box, {devices} devices",
        [provide(HOME_ASSISTANT, devices=devices), provide(HTTP, connections=rng.choice([10, 20, 50]))],
        [power(rng, 8, 25), require(WIFI, clients=1), require(BROKER, connections=1)],
    )


def _sensor(interface: str, name: str) -> Callable[[random.Random], Spec]:
    def make(rng: random.Random) -> Spec:
        requires = networked(rng, 0.5, 3)
        if rng.random() < 0.3:
            requires.append(require(M3, holes=rng.choice([2, 4])))
        if rng.random() < 0.2:
            requires.append(require(HOME_ASSISTANT, devices=1))
        return f"{name} sensor", [provide(interface, subscribers=rng.randint(1, 10))], requires

    return make


def _switch(rng: random.Random) -> Spec:
    requires = [require(WIFI, clients=1), require(BROKER, connections=1)]
    if rng.random() < 0.6:
        width = rng.choice([17.5, 17.5, 35])
        return (
            f"DIN relay module, {width:g} mm",
            [provide(SWITCH, controllers=rng.randint(1, 4))],
            [require(DIN, width_mm=width), *requires],
        )
    return (
        "Plug-in smart switch",
        [provide(SWITCH, controllers=rng.randint(1, 4))],
        [power(rng, 0.5, 2, mains=True), *requires],
    )


def _light(rng: random.Random) -> Spec:
    requires = networked(rng, 3, 20)
    if rng.random() < 0.4:
        requires.append(require(M3, holes=rng.choice([2, 4])))
    return (
        f"Dimmable light, {requires[0]['load']['watts']:g} W",
        [provide(LIGHT, controllers=rng.randint(1, 4))],
        requires,
    )


def _controller(rng: random.Random) -> Spec:
    sensor = rng.choice([TEMPERATURE, HUMIDITY, MOTION])
    actuator = SWITCH if sensor != MOTION else LIGHT
    title = {TEMPERATURE: "Thermostat", HUMIDITY: "Dehumidifier controller", MOTION: "Motion light controller"}[sensor]
    return (
        title,
        [provide(HTTP, connections=rng.randint(2, 10))],
        [*networked(rng, 1, 4), require(sensor, subscribers=1), require(actuator, controllers=1)],
    )


def _dashboard(rng: random.Random) -> Spec:
    return "Wall dashboard", [], [power(rng, 3, 12), require(WIFI, clients=1), require(HTTP, connections=1)]


def _enclosure(rng: random.Random) -> Spec:
    width = rng.choice([105, 210, 315, 420, 630])
    return (
        f"DIN enclosure, {width} mm of rail",
        [provide(DIN, width_mm=width), provide(M3, holes=rng.choice([4, 8]))],
        [],
    )


def _din_rail(rng: random.Random) -> Spec:
    width = rng.choice([200, 500, 1000])
    return f"DIN rail, {width} mm", [provide(DIN, width_mm=width)], [require(M3, holes=2)]


def _extrusion(rng: random.Random) -> Spec:
    length = rng.choice([200, 300, 500, 1000, 2000])
    return f"2020 extrusion, {length} mm", [provide(PROFILE, length_mm=length)], []


def _bracket(rng: random.Random) -> Spec:
    holes = rng.choice([2, 4, 6, 8])
    return (
        f"Bracket, {holes} M3 holes",
        [provide(M3, holes=holes)],
        [require(PROFILE, length_mm=rng.choice([20, 40, 60]))],
    )


# kind -> (share in percent, generator, tag)
KINDS: dict[str, tuple[int, Callable[[random.Random], Spec], str]] = {
    "charger": (7, _charger, "power"),
    "usb-hub": (3, _usb_hub, "power"),
    "dc-supply": (4, _dc_supply, "power"),
    "strip": (4, _strip, "power"),
    "wall-panel": (1, _wall_panel, "power"),
    "wifi-ap": (3, _wifi_ap, "network"),
    "broker": (2, _broker, "network"),
    "gateway": (1, _gateway, "network"),
    "ha-box": (1, _home_assistant, "network"),
    "temperature": (12, _sensor(TEMPERATURE, "Temperature"), "sensor"),
    "humidity": (10, _sensor(HUMIDITY, "Humidity"), "sensor"),
    "motion": (10, _sensor(MOTION, "Motion"), "sensor"),
    "switch": (10, _switch, "actuator"),
    "light": (10, _light, "actuator"),
    "controller": (4, _controller, "automation"),
    "dashboard": (4, _dashboard, "automation"),
    "enclosure": (3, _enclosure, "mechanical"),
    "din-rail": (2, _din_rail, "mechanical"),
    "extrusion": (4, _extrusion, "mechanical"),
    "bracket": (5, _bracket, "mechanical"),
}
assert sum(share for share, _, _ in KINDS.values()) == 100

# The fixed products of the systems the benchmark checks: the first designs of the catalog (never forks).
HOME: dict[str, Spec] = {
    "home-wall-panel": ("Wall socket panel, 4 sockets", [provide(MAINS, watts=3680, sockets=4)], []),
    "home-usb-hub": (
        "USB-C hub 120 W, 10 ports",
        [provide(USB, watts=120, ports=10)],
        [require(MAINS, watts=130, sockets=1)],
    ),
    "home-dc-supply": (
        "12 V supply 60 W, 4 outputs",
        [provide(DC, watts=60, ports=4)],
        [require(MAINS, watts=70, sockets=1)],
    ),
    "home-wifi-ap": ("Wi-Fi access point, 32 clients", [provide(WIFI, clients=32)], [require(DC, watts=8, ports=1)]),
    "home-broker": (
        "MQTT broker, 100 connections",
        [provide(BROKER, connections=100)],
        [require(USB, watts=5, ports=1), require(WIFI, clients=1)],
    ),
    "home-assistant": (
        "Home Assistant box",
        [provide(HOME_ASSISTANT, devices=200), provide(HTTP, connections=20)],
        [require(USB, watts=15, ports=1), require(WIFI, clients=1), require(BROKER, connections=1)],
    ),
    "home-enclosure": ("DIN enclosure, 12 modules", [provide(DIN, width_mm=210), provide(M3, holes=4)], []),
    "home-temperature": (
        "Temperature sensor",
        [provide(TEMPERATURE, subscribers=4)],
        [require(USB, watts=1, ports=1), require(WIFI, clients=1), require(BROKER, connections=1)],
    ),
    "home-humidity": (
        "Humidity sensor",
        [provide(HUMIDITY, subscribers=4)],
        [require(USB, watts=1, ports=1), require(WIFI, clients=1), require(BROKER, connections=1)],
    ),
    "home-motion": (
        "Motion sensor",
        [provide(MOTION, subscribers=4)],
        [require(USB, watts=1, ports=1), require(WIFI, clients=1), require(BROKER, connections=1)],
    ),
    "home-din-relay": (
        "DIN relay module",
        [provide(SWITCH, controllers=2)],
        [require(DIN, width_mm=17.5), require(WIFI, clients=1), require(BROKER, connections=1)],
    ),
    "home-light": (
        "Dimmable light, 6 W",
        [provide(LIGHT, controllers=2)],
        [require(DC, watts=6, ports=1), require(WIFI, clients=1), require(BROKER, connections=1)],
    ),
    "home-gateway": (
        "Wi-Fi gateway with MQTT broker",
        [provide(WIFI, clients=16), provide(BROKER, connections=50)],
        [require(USB, watts=6, ports=1)],
    ),
}
HOME_SLUGS = list(HOME)

# The systems, as {design slug: quantity}. The 200-product home: 158 devices, and the power, Wi-Fi, brokers and
# DIN rail they need with a little room left (checked by the engine before the run, and through the API).
HOME_200 = {
    "home-wall-panel": 5,
    "home-usb-hub": 12,
    "home-dc-supply": 7,
    "home-wifi-ap": 6,
    "home-broker": 2,
    "home-assistant": 1,
    "home-enclosure": 3,
    "home-temperature": 48,
    "home-humidity": 30,
    "home-motion": 36,
    "home-din-relay": 30,
    "home-light": 20,
}
# Three sensors on USB-C power with no MQTT broker and no Wi-Fi: one gateway completes it.
INCOMPLETE_5 = {"home-wall-panel": 1, "home-usb-hub": 1, "home-temperature": 1, "home-humidity": 1, "home-motion": 1}
# A complete small system, for "compatible with" a system.
SMALL_5 = {"home-wall-panel": 1, "home-usb-hub": 1, "home-gateway": 1, "home-temperature": 1, "home-motion": 1}
VERSION_COMPATIBLE = "home-usb-hub"  # GET /designs/{slug}/versions/1/compatible
assert sum(HOME_200.values()) == 200


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(map(str, (SEED, *parts))))  # noqa: S311 - reproducible data, not secrets


@functools.cache
def plan(index: int) -> tuple[str, int | None, str]:
    """Design `index`'s kind, the design it forks (an earlier block's, picked with a strong bias to early designs,
    so some are forked hundreds of times) and its licence (a fork keeps its upstream's)."""
    if index < len(HOME):
        return HOME_SLUGS[index], None, "CERN-OHL-P-2.0"
    rng = _rng("plan", index)
    first = len(HOME)
    block_start = (index // BLOCK) * BLOCK
    if block_start > first and rng.random() < FORK_SHARE:
        parent = first + int((block_start - first) * rng.random() ** 3)
        kind, _, licence = plan(parent)
        return kind, parent, licence
    kind = rng.choices(list(KINDS), weights=[share for share, _, _ in KINDS.values()])[0]
    licence = rng.choice(
        ["CERN-OHL-S-2.0", "CERN-OHL-W-2.0", "CERN-OHL-P-2.0", "CC-BY-4.0", "CC-BY-SA-4.0", "MIT", "CC0-1.0"]
    )
    return kind, None, licence


def slug_of(index: int) -> str:
    kind, _, _ = plan(index)
    return kind if index < len(HOME) else f"{kind}-{index:06d}"


def manifest_of(index: int) -> tuple[str, dict[str, Any]]:
    """The title and the manifest (a WoT TD 1.1 with cm:provides / cm:requires) of design `index`."""
    kind, parent, _ = plan(index)
    if index < len(HOME):
        title, provides, requires = HOME[kind]
    else:
        title, provides, requires = KINDS[kind][1](_rng("manifest", index))
        if parent is not None:
            title += " (remix)"
    document: dict[str, Any] = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": title,
        "security": "nosec_sc",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
    }
    if provides:
        document["cm:provides"] = provides
    if requires:
        document["cm:requires"] = requires
    return title, document


def validate_sample(total: int, every: int = 97) -> dict[str, int]:
    """What publication checks (validate_manifest, then the registry: manifest_registry_problems) on the home
    products and every `every`-th design; stop the benchmark on any problem."""
    from crowdmaker.protocol.manifest import validate_manifest
    from crowdmaker.protocol.selectors import manifest_registry_problems

    indices = sorted({*range(len(HOME)), *range(len(HOME), total, every)})
    for index in indices:
        manifest = manifest_of(index)[1]
        problems = validate_manifest(manifest) or manifest_registry_problems(manifest)
        if problems:
            raise SystemExit(f"catalog bench: the generated manifest of {slug_of(index)} is invalid: {problems}")
    return {"validated": len(indices), "problems": 0}


def bench_user() -> Any:
    from crowdmaker.people import services as people
    from crowdmaker.people.models import User

    user = User.objects.filter(handle=BENCH_HANDLE).first()
    if user is None:
        user = people.user_create(email=BENCH_EMAIL, password=None, handle=BENCH_HANDLE, display_name="Catalog bench")
    return user


def generate(total: int) -> dict[str, Any]:
    """Insert the designs missing from 0..total-1, a block per database transaction; show progress."""
    from django.db import transaction

    from crowdmaker.commons.models import Design, DesignVersion
    from crowdmaker.commons.services import manifest_interfaces

    user = bench_user()
    versions = dict(
        DesignVersion.objects.filter(design__created_by=user, number=1).values_list("design__slug", "id")
    )  # slug -> id of version 1, for forks
    missing = [i for i in range(total) if slug_of(i) not in versions]
    if not missing:
        say(f"the catalog is there already: {len(versions)} generated designs (reused; --fresh regenerates)")
        return {"generated_now": 0, "seconds": 0.0}
    say(f"generating {len(missing)} of {total} designs with bulk inserts (the services are bypassed for speed)")
    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    started = time.monotonic()
    done = 0
    blocks: dict[int, list[int]] = {}
    for index in missing:
        blocks.setdefault(index // BLOCK, []).append(index)
    for indices in blocks.values():
        designs, manifests = [], []
        for index in indices:
            _, parent, licence = plan(index)
            title, manifest = manifest_of(index)
            created = epoch + dt.timedelta(minutes=index)
            designs.append(
                Design(
                    slug=slug_of(index),
                    title=title,
                    summary=f"Generated for the catalog benchmark ({plan(index)[0]}).",
                    owner_user=user,
                    created_by=user,
                    licence=licence,
                    tags=[KINDS[plan(index)[0]][2] if index >= len(HOME) else "home", "bench"],
                    interfaces=manifest_interfaces(manifest),
                    families=[],
                    created_at=created,
                    forked_from_id=None if parent is None else versions[slug_of(parent)],
                )
            )
            manifests.append((manifest, created))
        with transaction.atomic():
            Design.objects.bulk_create(designs, batch_size=BLOCK)
            rows = DesignVersion.objects.bulk_create(
                [
                    DesignVersion(
                        design=design,
                        number=1,
                        manifest=manifest,
                        bom=[{"item": "PCB", "quantity": 1, "unit_cost": 250, "currency": "EUR"}],
                        published_by=user,
                        published_at=created,
                    )
                    for design, (manifest, created) in zip(designs, manifests, strict=True)
                ],
                batch_size=BLOCK,
            )
        versions.update((design.slug, row.id) for design, row in zip(designs, rows, strict=True))
        done += len(indices)
        rate = done / (time.monotonic() - started)
        say(
            f"  [{done}/{len(missing)}] designs inserted, {rate:,.0f}/s, about {(len(missing) - done) / rate:.0f} s left"
        )
    return {"generated_now": len(missing), "seconds": round(time.monotonic() - started, 1)}


def settle() -> None:
    """VACUUM ANALYZE the catalog's tables on every run, as autovacuum keeps them in a live database: rows just
    bulk-inserted have no visibility map yet, so a count over them reads the whole table instead of an index (the
    catalog cache's key query took 41 ms instead of 10 ms here), and autovacuum would otherwise change that
    between runs, whenever it gets to them."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("commons_design", "commons_designversion", "commons_systemmember", "commons_system"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def catalog_facts(total: int) -> dict[str, Any]:
    from crowdmaker.commons.models import Design, DesignVersion

    user = bench_user()
    forks = Counter(plan(i)[1] for i in range(total) if plan(i)[1] is not None)
    counts = sorted(forks.values(), reverse=True)
    kinds = Counter(plan(i)[0] for i in range(len(HOME), total))
    return {
        "designs_in_database": Design.objects.count(),
        "generated_designs": Design.objects.filter(created_by=user).count(),
        "design_versions": DesignVersion.objects.count(),
        "forks": sum(counts),
        "designs_forked": len(counts),
        "most_forks_of_one_design": counts[0] if counts else 0,
        "designs_forked_10_times_or_more": sum(1 for c in counts if c >= 10),
        "kinds_percent": {k: round(100 * n / max(1, total - len(HOME)), 1) for k, n in kinds.most_common()},
    }


# --- the catalog index in this process ------------------------------------------------------------------------


def build_index_uncached() -> Any:
    """The catalog index as a worker builds it on its first catalog request, or after a publication: without the
    per-process cache of `catalog_index()` (the "catalog index cache")."""
    from crowdmaker.commons import systems

    build = getattr(systems, "_build_catalog", None)
    if build is None:  # before the cache: catalog_index() built the index on every call
        return systems.catalog_index()
    return build(systems.catalog_key()).index


def time_index(runs: int) -> dict[str, Any]:
    import psutil
    from django.db import connection

    from crowdmaker.protocol import engine

    process = psutil.Process()
    full, engine_only = [], []
    rss_before = process.memory_info().rss
    index = None
    for run in range(1, runs + 1):
        index = None
        gc.collect()  # the previous index is garbage: its objects must not slow this build's collections down
        started = time.perf_counter()
        index = build_index_uncached()
        full.append(time.perf_counter() - started)
        members = list(index.members)
        started = time.perf_counter()
        engine.CatalogIndex(members)
        engine_only.append(time.perf_counter() - started)
        del members
        say(
            f"  catalog index [{run}/{runs}]: built in {full[-1]:.2f} s, of which CatalogIndex alone about {engine_only[-1]:.2f} s ({len(index.members)} designs)"
        )
    rss_with_index = process.memory_info().rss
    assert index is not None
    result = {
        "designs": len(index.members),
        "build_s": summary(full),
        "engine_catalog_index_s": summary(engine_only),
        "process_rss_growth_mib": round((rss_with_index - rss_before) / 2**20, 1),
    }
    from crowdmaker.commons import systems

    key = getattr(systems, "catalog_key", None)
    if key is not None:  # the cache: what every catalog request pays to know its index is still current
        systems.catalog_index()  # fill the cache
        cached, keys = [], []
        for _ in range(20):
            started = time.perf_counter()
            key()
            keys.append(time.perf_counter() - started)
            started = time.perf_counter()
            systems.catalog_index()
            cached.append(time.perf_counter() - started)
        result["cache_key_s"] = summary(keys, 6)
        result["cached_catalog_index_s"] = summary(cached, 6)
        say(
            f"  cache key query {statistics.median(keys) * 1000:.1f} ms, cached catalog_index() {statistics.median(cached) * 1000:.1f} ms (medians of 20)"
        )
    if hasattr(systems, "_refresh_catalog"):
        result["refresh_after_publication_s"] = time_refresh(runs=5)
    connection.close()
    return result


def time_refresh(runs: int) -> dict[str, Any]:
    """What the first catalog request after a publication pays in a worker that has the index: one new version
    published (in a transaction rolled back afterwards, so the catalog stays as generated), then catalog_index()
    reads only what changed. The cached index from before is put back after each rollback."""
    from django.db import connection, transaction

    from crowdmaker.commons import services, systems
    from crowdmaker.commons.models import Design

    systems.catalog_index()
    alias = str(connection.settings_dict["NAME"])
    before = systems._catalog_cache[alias]
    design = Design.objects.filter(owner_user__isnull=False).select_related("owner_user").order_by("id").first()
    assert design is not None
    assert design.owner_user is not None
    latest = design.versions.order_by("-number").first()
    assert latest is not None
    seconds: list[float] = []
    for run in range(1, runs + 1):
        with transaction.atomic():
            services.design_version_publish(actor=design.owner_user, design=design, manifest=latest.manifest)
            started = time.perf_counter()
            index = systems.catalog_index()
            seconds.append(time.perf_counter() - started)
            assert index is not before.index
            transaction.set_rollback(True)
        systems._catalog_cache[alias] = before
        say(f"  refresh after a publication [{run}/{runs}]: {seconds[-1]:.2f} s")
    return summary(seconds)


def summary(samples: list[float], digits: int = 4) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), digits),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "n": len(ordered),
    }


# --- HTTP -----------------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def call(method: str, url: str, *, token: str | None = None, body: object = None) -> tuple[int, bytes, float]:
    """One request on a new connection (gunicorn's sync workers close it after every response); seconds taken."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - our server
    started = time.perf_counter()
    try:
        with _opener.open(request, timeout=HTTP_TIMEOUT_S) as response:
            raw, status = response.read(), int(response.status)
    except urllib.error.HTTPError as error:
        raw, status = error.read(), int(error.code)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raw, status = repr(error).encode(), 0  # e.g. the worker was killed by gunicorn's timeout mid-request
    return status, raw, time.perf_counter() - started


def api_json(method: str, url: str, token: str, body: object = None, expect: int = 200) -> Any:
    status, raw, _ = call(method, url, token=token, body=body)
    if status != expect:
        raise SystemExit(f"catalog bench: {method} {url} answered {status}, not {expect}: {raw[:500]!r}")
    return json.loads(raw) if raw else None


class AccessLog:
    """gunicorn's access log, one line per request: `<pid> "<request line>" <status> <microseconds>`."""

    FORMAT = '%(p)s "%(r)s" %(s)s %(D)s'
    LINE = re.compile(r'^<(\d+)> "\w+ \S*[?&]bench=(\d+)\S* [^"]*" (\d+) (\d+)$')

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[int, tuple[int, int, int]] = {}  # request number -> (pid, status, microseconds)

    def find(self, number: int, timeout: float = 5.0) -> tuple[int, int, int] | None:
        """The worker that answered request `number` (it logs just after the response is sent)."""
        deadline = time.monotonic() + timeout
        while True:
            if number in self.seen:
                return self.seen[number]
            with contextlib.suppress(OSError):
                for line in self.path.read_text(errors="replace").splitlines():
                    if match := self.LINE.match(line.strip()):
                        pid, n, status, micros = map(int, match.groups())
                        self.seen[n] = (pid, status, micros)
            if number in self.seen or time.monotonic() > deadline:
                return self.seen.get(number)
            time.sleep(0.02)


def gunicorn_command(port: int, access_log: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        APP,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--no-control-socket",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        AccessLog.FORMAT,
    ]


@contextlib.contextmanager
def plugged(port: int, count: int) -> Iterator[None]:
    """`count` open connections that send nothing: each holds one sync worker, blocked reading it, until closed
    (the worker then drops it without logging a request)."""
    plugs = []
    try:
        for _ in range(count):
            plugs.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.05)  # let a worker accept each one before the next connection
        yield
    finally:
        for plug in plugs:
            plug.close()


def tree_rss_bytes(pid: int) -> tuple[int, list[int]]:
    import psutil

    root = psutil.Process(pid)
    sizes = []
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            sizes.append(process.memory_info().rss)
    return sum(sizes), sizes


# --- the systems ----------------------------------------------------------------------------------------------


def check_systems_in_process() -> None:
    """The engine's verdict on the three systems before any server runs: the benchmark is only meaningful if the
    200-product home is complete and the 5-product one is not."""
    from crowdmaker.commons.models import DesignVersion
    from crowdmaker.commons.systems import version_member
    from crowdmaker.protocol import engine

    by_slug = {
        v.design.slug: v
        for v in DesignVersion.objects.filter(design__slug__in=HOME_SLUGS, number=1).select_related("design")
    }

    def members(system: dict[str, int]) -> list[Any]:
        return [version_member(by_slug[slug], copy=k) for slug, n in system.items() for k in range(1, n + 1)]

    for name, system, complete in (
        ("200-product home", HOME_200, True),
        ("incomplete 5", INCOMPLETE_5, False),
        ("small 5", SMALL_5, True),
    ):
        result = engine.system_check(members(system))
        if result.complete != complete:
            raise SystemExit(f"catalog bench: the engine finds the {name} system {result.status}; fix HOME")


def create_systems(server: Server, token: str) -> dict[str, int]:
    ids = {}
    for name, system in (("home-200", HOME_200), ("incomplete-5", INCOMPLETE_5), ("small-5", SMALL_5)):
        created = api_json("POST", server.url(f"{API}/systems"), token, {"name": f"Catalog bench {name}"}, 201)
        for slug, quantity in system.items():
            api_json(
                "POST",
                server.url(f"{API}/systems/{created['id']}/members"),
                token,
                {"design": slug, "version": 1, "quantity": quantity},
                201,
            )
        ids[name] = created["id"]
    return ids


def describe_answer(name: str, answer: dict[str, Any]) -> dict[str, Any]:
    if name == "check_200":
        return {"status": answer["status"], "links": len(answer["assignment"]), "unmet": len(answer["unmet"])}
    if name == "complete_5":
        return {
            "status": answer["status"],
            "additions": answer["additions"],
            "suggestions": [[p["design"] for p in s["products"]] for s in answer["suggestions"]],
            "checked": answer["checked"],
            "engine_elapsed_ms": answer["elapsed_ms"],
        }
    return {
        "products": len(answer["products"]),
        "first": [p["design"] for p in answer["products"][:5]],
        "examined": answer["examined"],
        "budget_exhausted": answer["budget_exhausted"],
    }


# --- a session: one fresh server, one endpoint ---------------------------------------------------------------


def session(
    name: str,
    path: str,
    *,
    token: str | None,
    port: int,
    warm: int,
    round_number: int,
    log_path: Path,
    counter: list[int],
) -> dict[str, Any]:
    access = BENCH_DIR / "access.log"
    access.write_text("")
    server = Server(f"gunicorn ({name})", gunicorn_command(port, access), port, log_path)
    server.start(timeout=120)
    log = AccessLog(access)
    try:
        assert server.process is not None
        idle_rss, _ = tree_rss_bytes(server.process.pid)
        requests: list[dict[str, Any]] = []
        health_s: list[float] = []
        workers_seen: set[int] = set()
        first_answer: Any = None
        failures: list[dict[str, Any]] = []

        def one(url_path: str, kind: str) -> dict[str, Any] | None:
            counter[0] += 1
            number = counter[0]
            separator = "&" if "?" in url_path else "?"
            status, raw, seconds = call("GET", server.url(f"{url_path}{separator}bench={number}"), token=token)
            if status != 200:
                # Reported and left out of the figures (a 500, or a worker killed by gunicorn's 30 s timeout).
                failures.append(
                    {
                        "path": url_path,
                        "kind": kind,
                        "status": status,
                        "seconds": round(seconds, 2),
                        "body": raw[:300].decode(errors="replace"),
                    }
                )
                say(
                    f"  FAILED: GET {url_path} answered {status or 'nothing'} after {seconds:.1f} s: {raw[:200]!r}; see {log_path}"
                )
                return None
            found = log.find(number)
            pid, _, micros = found if found else (0, status, -1)
            return {
                "kind": kind,
                "seconds": seconds,
                "server_seconds": micros / 1e6 if micros >= 0 else None,
                "pid": pid,
                "raw": raw,
            }

        with RssSampler(server.process.pid) as sampler:
            # Every worker answers the health check first (Django's first request in a process), so that "cold" is
            # what this endpoint adds in a worker: for the catalog endpoints, building the catalog index.
            health_seen: set[int] = set()
            for _ in range(30):
                if len(health_seen) >= WORKERS:
                    break
                with plugged(port, WORKERS - 1):
                    if (probe := one(HEALTH, "probe")) is not None:
                        health_seen.add(probe["pid"])
            # Cold: the first request of this endpoint in each worker. The kernel hands a new connection to any idle
            # worker, and sequential requests tend to go to the same one; so the other workers are held by idle
            # connections (a sync worker blocks reading one) while a health check finds out which one is free, and
            # the endpoint is sent when that one has not answered it yet.
            for _ in range(30):
                if len(workers_seen) >= WORKERS:
                    break
                with plugged(port, WORKERS - 1):
                    probe = one(HEALTH, "probe")
                    if probe is None or probe["pid"] in workers_seen:
                        continue
                    request = one(path, "cold")
                if request is None:
                    continue
                if request["pid"] != probe["pid"]:
                    say(f"  NOTE: the cold request went to worker {request['pid']}, not {probe['pid']}")
                if request["pid"] in workers_seen:
                    request["kind"] = "warm"
                workers_seen.add(request["pid"])
                if first_answer is None:
                    first_answer = json.loads(request["raw"])
                requests.append(request)
            colds = [r["seconds"] for r in requests if r["kind"] == "cold"]
            say(
                f"  round {round_number} {name:<18} cold: "
                + ", ".join(f"{s * 1000:.0f} ms" for s in colds)
                + f" ({len(workers_seen)} worker(s))"
            )
            # Warm: each request followed by the health check (the baseline, under the same conditions).
            for k in range(1, warm + 1):
                if (request := one(path, "warm")) is not None:
                    requests.append(request)
                if (health := one(HEALTH, "health")) is not None:
                    health_s.append(health["seconds"])
                recent = [r["seconds"] for r in requests if r["kind"] == "warm"]
                if (k % 5 == 0 or k == warm) and recent and health_s:
                    say(
                        f"  round {round_number} {name:<18} warm {k}/{warm}: median {statistics.median(recent) * 1000:.1f} ms, health median {statistics.median(health_s) * 1000:.1f} ms"
                    )
            _, per_process = tree_rss_bytes(server.process.pid)
    finally:
        server.stop()
    warm_s = [r["seconds"] for r in requests if r["kind"] == "warm"]
    server_warm = [r["server_seconds"] for r in requests if r["kind"] == "warm" and r["server_seconds"] is not None]
    return {
        "round": round_number,
        "endpoint": name,
        "path": path,
        "cold_ms": [round(r["seconds"] * 1000, 1) for r in requests if r["kind"] == "cold"],
        "cold_server_ms": [
            round(r["server_seconds"] * 1000, 1)
            for r in requests
            if r["kind"] == "cold" and r["server_seconds"] is not None
        ],
        "workers_answering": len(workers_seen),
        "failures": failures,
        "warm_ms": [round(s * 1000, 2) for s in warm_s],
        "warm_median_ms": round(statistics.median(warm_s) * 1000, 2) if warm_s else None,
        "warm_p90_ms": summary([s * 1000 for s in warm_s], 2)["p90"] if warm_s else None,
        "warm_server_median_ms": round(statistics.median(server_warm) * 1000, 2) if server_warm else None,
        "health_median_ms": round(statistics.median(health_s) * 1000, 2) if health_s else None,
        "ratio_to_health": (
            round(statistics.median(warm_s) / statistics.median(health_s), 2) if warm_s and health_s else None
        ),
        "idle_rss_mib": round(idle_rss / 2**20, 1),
        "peak_rss_mib": round(sampler.peak_bytes / 2**20, 1),
        "end_rss_per_process_mib": [round(b / 2**20, 1) for b in per_process],
        "load_average_1m": round(os.getloadavg()[0], 2),
        "answer": first_answer,
    }


# --- the benchmark ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--designs", type=int, default=100_000, help="catalog size (default 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh-server sessions per endpoint (default 3)")
    parser.add_argument("--warm", type=int, default=20, help="warm requests per session (default 20)")
    parser.add_argument("--index-runs", type=int, default=3, help="in-process catalog index builds (default 3)")
    parser.add_argument("--port", type=int, default=8766, help="the server's port (default 8766)")
    parser.add_argument("--fresh", action="store_true", help="drop the benchmark database and generate again")
    options = parser.parse_args(argv)
    if options.designs < 1_000 or options.rounds < 1 or options.warm < 1:
        parser.error("--designs must be at least 1000, --rounds and --warm at least 1")

    database_url, embedded = prepare_database(fresh=options.fresh)
    say(
        f"database {BENCH_DATABASE} on {'the embedded PostgreSQL in ' + str(BENCH_DIR) if embedded else 'the server DATABASE_URL names'}"
    )
    setup_django()
    from crowdmaker.commons import systems as commons_systems
    from crowdmaker.people import services as people

    machine = {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "python": sys.version.split()[0],
        "postgresql": postgres_version(database_url),
        "database": f"embedded PostgreSQL ({BENCH_DIR.relative_to(ROOT)})" if embedded else "DATABASE_URL's server",
        "django": version("django"),
        "gunicorn": version("gunicorn"),
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }
    say("machine " + ", ".join(f"{k}={v}" for k, v in machine.items()))

    validation = validate_sample(options.designs)
    say(
        f"validate_manifest: {validation['validated']} generated manifests (every 97th and the home products), no problem"
    )
    generation = generate(options.designs)
    say("VACUUM ANALYZE of the catalog's tables")
    settle()
    facts = catalog_facts(options.designs)
    say(
        f"catalog: {facts['designs_in_database']} designs, {facts['forks']} forks of {facts['designs_forked']} designs (at most {facts['most_forks_of_one_design']} of one)"
    )
    check_systems_in_process()
    say(f"timing catalog_index() in this process, {options.index_runs} times")
    index = time_index(options.index_runs)

    user = bench_user()
    token_row, token = people.api_token_create(user=user, name=f"catalog bench {machine['date']}", scope="write")
    log_path = BENCH_DIR / "gunicorn.log"
    log_path.write_text("")
    counter = [0]
    ids: dict[str, int] = {}
    sessions: list[dict[str, Any]] = []
    try:
        setup = Server(
            "gunicorn (setup)", gunicorn_command(options.port, BENCH_DIR / "access.log"), options.port, log_path
        )
        setup.start(timeout=120)
        try:
            say("creating the systems through the API")
            ids = create_systems(setup, token)
        finally:
            setup.stop()
        endpoints = {
            "check_200": f"{API}/systems/{ids['home-200']}/check",
            "complete_5": f"{API}/systems/{ids['incomplete-5']}/complete",
            "compatible_design": f"{API}/designs/{VERSION_COMPATIBLE}/versions/1/compatible",
            "compatible_system_5": f"{API}/systems/{ids['small-5']}/compatible",
        }
        total = options.rounds * len(endpoints)
        say(
            f"{options.rounds} rounds x {len(endpoints)} endpoints, a fresh gunicorn ({WORKERS} workers) per session, {options.warm} warm requests each; server output in {log_path}"
        )
        for round_number in range(1, options.rounds + 1):
            order = list(endpoints.items())
            if round_number % 2 == 0:
                order.reverse()  # the shared machine drifts; alternate the order round by round
            for name, path in order:
                result = session(
                    name,
                    path,
                    token=token,
                    port=options.port,
                    warm=options.warm,
                    round_number=round_number,
                    log_path=log_path,
                    counter=counter,
                )
                if result["answer"] is not None:
                    result["answer"] = describe_answer(name, result["answer"])
                sessions.append(result)
                say(
                    f"[{len(sessions)}/{total}] round {round_number} {name:<20} cold {'/'.join(f'{c:.0f}' for c in result['cold_ms'])} ms, "
                    f"warm median {result['warm_median_ms']} ms (p90 {result['warm_p90_ms']}), health {result['health_median_ms']} ms, "
                    f"x{result['ratio_to_health']}, peak RSS {result['peak_rss_mib']:.0f} MiB, {len(result['failures'])} failed  answer {result['answer']}"
                )
    except KeyboardInterrupt:
        print("\ncatalog bench: interrupted; nothing saved", file=sys.stderr)
        return 130
    finally:
        for system_id in ids.values():
            with contextlib.suppress(Exception):
                commons_systems.system_delete(actor=user, system_id=system_id)
        people.api_token_revoke(actor=user, token_id=token_row.id)

    def med(values: list[Any], digits: int = 2) -> float | None:
        present = [v for v in values if v is not None]
        return round(statistics.median(present), digits) if present else None

    def fmt(value: float | None, pattern: str) -> str:
        return "n/a" if value is None else format(value, pattern)

    rows = []
    for name in endpoints:
        mine = [s for s in sessions if s["endpoint"] == name]
        warm_all = [ms for s in mine for ms in s["warm_ms"]]
        cold_all = [ms for s in mine for ms in s["cold_ms"]]
        rows.append(
            {
                "endpoint": name,
                "path": mine[0]["path"],
                "cold_ms": summary(cold_all, 1) if cold_all else None,
                "warm_ms": summary(warm_all, 2) if warm_all else None,
                "warm_median_of_sessions_ms": med([s["warm_median_ms"] for s in mine]),
                "warm_server_median_ms": med([s["warm_server_median_ms"] for s in mine]),
                "health_median_ms": med([s["health_median_ms"] for s in mine]),
                "ratio_to_health_median": med([s["ratio_to_health"] for s in mine]),
                "idle_rss_mib": med([s["idle_rss_mib"] for s in mine], 1),
                "peak_rss_mib": max(s["peak_rss_mib"] for s in mine),
                "failed_requests": sum(len(s["failures"]) for s in mine),
                "answer": mine[-1]["answer"],
            }
        )
    print()
    header = f"{'endpoint':<22} {'cold med ms':>12} {'cold max ms':>12} {'warm med ms':>12} {'warm p90 ms':>12} {'health ms':>10} {'x health':>9} {'peak RSS MiB':>13} {'failed':>7}"
    print(header)
    print("-" * len(header))
    for row in rows:
        cold, warm_ms = row["cold_ms"] or {}, row["warm_ms"] or {}
        print(
            f"{row['endpoint']:<22} {fmt(cold.get('median'), '12.0f')} {fmt(cold.get('max'), '12.0f')} {fmt(warm_ms.get('median'), '12.1f')} "
            f"{fmt(warm_ms.get('p90'), '12.1f')} {fmt(row['health_median_ms'], '10.1f')} {fmt(row['ratio_to_health_median'], '9.1f')} {row['peak_rss_mib']:>13.0f} {row['failed_requests']:>7}"
        )
    print(
        f"catalog index built in one process: median {index['build_s']['median']:.2f} s "
        f"(CatalogIndex alone {index['engine_catalog_index_s']['median']:.2f} s), {index['designs']} designs, "
        f"+{index['process_rss_growth_mib']:.0f} MiB RSS"
    )
    print(
        "(sequential requests; warm = medians over all warm requests of all rounds; x health = median over the sessions of warm median / health median)"
    )

    machine["git_commit_at_end"] = git_commit()
    if machine["git_commit_at_end"] != machine["git_commit"]:
        say(
            f"WARNING: the checkout moved from {machine['git_commit']} to {machine['git_commit_at_end']} during the "
            "run; servers started after that ran the newer code, so figures may mix two versions"
        )
    payload = {
        "benchmark": "catalog",
        "machine": machine,
        "config": {
            "designs": options.designs,
            "rounds": options.rounds,
            "warm_requests_per_session": options.warm,
            "server": " ".join(
                Path(c).name if i == 0 else c for i, c in enumerate(gunicorn_command(options.port, Path("access.log")))
            ),
            "settings": "crowdmaker.config.settings.production, SECURE_SSL_REDIRECT=0",
            "requests": "sequential, one at a time, a new connection each; every warm request followed by GET /api/v1/health",
            "systems": {"home-200": HOME_200, "incomplete-5": INCOMPLETE_5, "small-5": SMALL_5},
            "version_compatible": f"{VERSION_COMPATIBLE} v1",
            "generator": "bulk_create of Design + DesignVersion rows, bypassing the services; manifests sampled through validate_manifest",
        },
        "catalog": {**facts, "validation": validation, "generation": generation},
        "catalog_index_in_process": index,
        "summary": rows,
        "sessions": sessions,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    temporary = RESULTS.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    temporary.replace(RESULTS)
    say(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
