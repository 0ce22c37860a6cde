"""The `crowdmaker` console script, the one entry point of the platform.

`crowdmaker run` starts everything (database, migrations, demo data on the first run, web server, worker);
every other word is a Django management command (`migrate`, `worker`, `demo-data`, `createsuperuser`, ...).
With DATABASE_URL unset, each command uses the embedded PostgreSQL in var/, starting it when needed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

DEFAULT_SETTINGS = "crowdmaker.config.settings.dev"


def _setup_django() -> None:
    import django

    django.setup()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crowdmaker run", description="Run the whole platform in one terminal.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")), help="gunicorn processes"
    )
    parser.add_argument("--no-demo-data", action="store_true", help="Do not load demo data into an empty database.")
    options = parser.parse_args(argv)

    # Importing settings starts the embedded PostgreSQL when DATABASE_URL is unset (or joins it when another
    # command started it); this process holds it for the web server and the worker it starts, and at exit
    # stops it unless another crowdmaker process still uses it.
    _setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from crowdmaker.core.demo import demo_data_missing

    call_command("migrate", interactive=False, verbosity=1)
    # Demo accounts share a published password: only ever load them into a development installation.
    if settings.DEBUG and not options.no_demo_data and demo_data_missing():
        call_command("demo_data")
    from django.db import connections

    connections.close_all()

    python = sys.executable
    env = dict(os.environ)
    web = subprocess.Popen(  # noqa: S603 - fixed arguments, our own interpreter
        [
            python,
            "-m",
            "gunicorn",
            "crowdmaker.config.wsgi:application",
            "--bind",
            f"{options.host}:{options.port}",
            "--workers",
            str(options.web_workers),
            "--access-logfile",
            "-",
            "--no-control-socket",
            "--graceful-timeout",
            "10",
        ],
        env=env,
    )
    worker = subprocess.Popen([python, "-m", "crowdmaker", "worker"], env=env)  # noqa: S603
    children = {"web server": web, "worker": worker}
    print(f"\nCrowdmaker is running at http://{options.host}:{options.port}/  (Ctrl-C stops it)\n", flush=True)

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"crowdmaker: the {name} exited with {child.returncode}; stopping", file=sys.stderr)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    print("\ncrowdmaker: stopping the web server and the worker ...", file=sys.stderr, flush=True)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return exit_code  # atexit then stops the embedded PostgreSQL if no other process uses it


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    if argv and argv[0] == "run":
        return run(argv[1:])
    if argv:
        argv[0] = argv[0].replace("-", "_") if argv[0] in {"demo-data", "export-openapi"} else argv[0]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["crowdmaker", *argv])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
