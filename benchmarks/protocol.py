"""Measure the compatibility engine: a 200-member system check, "complete my system" and "compatible with"
against a generated catalog of 100 000 designs.

    .venv/bin/python benchmarks/protocol.py                 # 7 runs, well under a minute
    .venv/bin/python benchmarks/protocol.py --runs 3 --catalog 20000   # a quick try

Pure Python in this one process, one core, no database: the engine (src/crowdmaker/protocol/engine.py) works
on plain data classes. Everything is generated from a fixed seed, so every run measures the same inputs:

- a 200-member "home": 24 USB-C hubs (80-120 W, 8-10 ports, three versions), 4 mains strips, 3 MQTT brokers,
  2 DIN rails, and 167 devices with mixed USB-C loads (2.5-25 W and a port, four version ranges), MQTT topics
  and DIN slots, about 80 % of the USB-C watts in use; the same home with seven hubs taken out (incomplete:
  its check, and "complete my system" on it, which is hard); and the home with one broker fewer (incomplete,
  one catalog broker completes it);
- a catalog of `--catalog` designs (default 100 000) over 30 interfaces, scores random.

Each measurement is repeated `--runs` times; figures are medians (min-max given too). The catalog index is
built once per run and timed separately: a server builds it once and keeps it. Results are printed and saved
to benchmarks/results/protocol.json (overwritten on every run). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web_servers import cpu_model, git_commit, memory_gib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from crowdmaker.protocol.engine import (  # noqa: E402
    CatalogIndex,
    Member,
    Provide,
    Require,
    compatible_with,
    system_check,
    system_complete,
)

RESULTS = ROOT / "benchmarks" / "results" / "protocol.json"
SEED = 20261125
HUBS_REMOVED = 7  # of 24: the USB-C watts and ports left are not enough
USB = "power.usb-c"
SENSORS = [f"data.mqtt.sensor.{kind}" for kind in ("temperature", "humidity", "co2", "light", "motion", "door", "power", "water", "smoke", "noise")]  # fmt: skip
ACTUATORS = [f"data.mqtt.actuator.{kind}" for kind in ("relay", "dimmer", "valve", "blind", "fan")]
OTHER = ["power.dc-12v", "power.mains", "data.http", "mechanical.din-rail-35", "mechanical.2020-profile",
         "mechanical.m3-mount", "data.mqtt.broker", "power.poe", "data.zigbee", "data.thread", "software.home-assistant",
         "mechanical.keystone", "data.modbus", "power.battery-18650"]  # fmt: skip
INTERFACES = [USB, *SENSORS, *ACTUATORS, *OTHER]


def say(message: str) -> None:
    print(f"protocol bench: {message}", flush=True)


def seeded(offset: int = 0) -> random.Random:
    return random.Random(SEED + offset)  # noqa: S311 - reproducible generated inputs, not secrets


def home(rng: random.Random, *, hubs_removed: int = 0, brokers: int = 3) -> list[Member]:
    members: list[Member] = []
    for n in range(24 - hubs_removed):
        watts = rng.choice([80, 100, 100, 120])
        members.append(Member(f"hub{n}", f"Hub {n}", provides=[Provide(USB, rng.choice(["1.2", "1.4", "2.0"]), {"watts": watts, "ports": rng.choice([8, 10])})], requires=[Require("power.mains", "^1", {"watts": watts * 1.1, "outlets": 1})]))  # fmt: skip
    for n in range(4):
        members.append(Member(f"strip{n}", f"Mains strip {n}", provides=[Provide("power.mains", "1.0", {"watts": 3600, "outlets": 8})]))  # fmt: skip
    for n in range(brokers):
        members.append(Member(f"broker{n}", f"Broker {n}", provides=[Provide("data.mqtt.broker", "5.0", {"topics": 100})], requires=[Require(USB, "^1.2", {"watts": 5, "ports": 1})]))  # fmt: skip
    for n in range(2):
        members.append(Member(f"rail{n}", f"DIN rail {n}", provides=[Provide("mechanical.din-rail-35", "1.0", {"slots": 60})]))  # fmt: skip
    devices = 200 - len(members) - hubs_removed
    for n in range(devices):
        requires = [Require(USB, rng.choice(["^1.2", ">=1.2,<3", "^1.4", "*"]), {"watts": rng.choice([2.5, 5, 7.5, 10, 15, 25]), "ports": 1})]  # fmt: skip
        requires.append(Require("data.mqtt.broker", "^5", {"topics": rng.choice([1, 1, 2])}))
        if n % 3 == 0:
            requires.append(Require("mechanical.din-rail-35", "^1", {"slots": rng.choice([1, 2])}))
        provides = [Provide(rng.choice(SENSORS + ACTUATORS), "1.0")]
        members.append(Member(f"dev{n}", f"Device {n}", provides=provides, requires=requires))
    return members


def catalog(rng: random.Random, size: int) -> list[Member]:
    designs = []
    for n in range(size):
        provides, requires = [], []
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            interface = rng.choice(INTERFACES)
            capacity = {"watts": rng.choice([5, 20, 45, 60, 100]), "ports": rng.choice([1, 2, 4])} if interface.startswith("power") else {"topics": 50} if interface == "data.mqtt.broker" else {}  # fmt: skip
            versions = ["3.1", "5.0", "5.1"] if interface == "data.mqtt.broker" else ["0.9", "1.0", "1.2", "1.4", "2.0"]
            provides.append(Provide(interface, rng.choice(versions), capacity))
        for _ in range(rng.choice([0, 1, 1, 2])):
            interface = rng.choice(INTERFACES)
            load = {"watts": rng.choice([1, 5, 10, 20]), "ports": 1} if interface.startswith("power") else {}
            ranges = (
                ["^5", "^5.1", ">=3,<6"] if interface == "data.mqtt.broker" else ["^1", "^1.2", ">=1.0,<3", "^2", "*"]
            )
            requires.append(Require(interface, rng.choice(ranges), load))
        designs.append(Member(f"design{n}", f"Design {n}", provides=provides, requires=requires, score=rng.random()))
    return designs


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--catalog", type=int, default=100_000)
    args = parser.parse_args(argv)
    complete_home = home(seeded())
    assert len(complete_home) == 200
    broken_home = home(seeded(), hubs_removed=HUBS_REMOVED)
    short_home = home(seeded(), brokers=2)  # 200 topics for about 220: one more broker completes it
    say(f"generating a catalog of {args.catalog} designs")
    designs = catalog(seeded(1), args.catalog)
    starter = [Member("lamp", "Desk lamp", requires=[Require(USB, "^1.2", {"watts": 15, "ports": 1})]),
               Member("sensor", "Temperature sensor", provides=[Provide(SENSORS[0], "1.0")], requires=[Require(USB, "^1", {"watts": 1, "ports": 1}), Require("data.mqtt.broker", "^5", {"topics": 1})])]  # fmt: skip
    one_design = complete_home[0]  # a hub
    samples: dict[str, list[float]] = {}
    answers: dict[str, Any] = {}

    def record(name: str, function: Callable[[], Any], describe: Callable[[Any], Any]) -> None:
        seconds, result = timed(function)
        samples.setdefault(name, []).append(seconds)
        answers[name] = describe(result)

    for run in range(1, args.runs + 1):
        record("check_200_complete", lambda: system_check(complete_home), lambda r: {"status": r.status, "assigned": len(r.assignment), "nodes": r.nodes})  # fmt: skip
        record("check_200_incomplete", lambda: system_check(broken_home), lambda r: {"status": r.status, "assigned": len(r.assignment), "unmet": len(r.unmet), "maximal": r.maximal, "nodes": r.nodes, "first_reason": r.unmet[0].message if r.unmet else None})  # fmt: skip
        seconds, index = timed(lambda: CatalogIndex(designs))
        samples.setdefault("catalog_index_build", []).append(seconds)

        def completion(r: Any) -> dict[str, Any]:
            return {"status": r.status, "additions": r.additions, "checked": r.checked, "suggestions": [[m.id for m in s.products] for s in r.suggestions]}  # fmt: skip

        record("complete_200_home_one_broker_short", lambda index=index: system_complete(short_home, index, max_additions=3, time_budget_s=1.0), completion)  # fmt: skip
        record("complete_200_home_seven_hubs_short", lambda index=index: system_complete(broken_home, index, max_additions=3, time_budget_s=1.0), completion)  # fmt: skip
        record("complete_starter", lambda index=index: system_complete(starter, index, max_additions=3, time_budget_s=5.0), completion)  # fmt: skip

        def compatible(r: Any) -> dict[str, Any]:
            return {"found": len(r.products), "examined": r.examined, "budget_exhausted": r.budget_exhausted, "first": [c.product.id for c in r.products[:5]]}  # fmt: skip

        record("compatible_one_design", lambda index=index: compatible_with(one_design, index, limit=20, time_budget_s=5.0), compatible)  # fmt: skip
        record("compatible_200_home", lambda index=index: compatible_with(complete_home, index, limit=20, time_budget_s=5.0), compatible)  # fmt: skip
        say(f"run {run}/{args.runs}: " + ", ".join(f"{name} {values[-1] * 1000:.1f} ms" for name, values in samples.items()))  # fmt: skip

    results = {name: summary(values) for name, values in samples.items()}
    say("medians: " + ", ".join(f"{name} {r['median_s'] * 1000:.1f} ms" for name, r in results.items()))
    payload = {
        "benchmark": "protocol",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "cpu": cpu_model(),
            "memory_gib": memory_gib(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": args.runs,
        "catalog_size": args.catalog,
        "system_members": len(complete_home),
        "results": results,
        "answers": answers,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    say(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
