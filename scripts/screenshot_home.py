"""Save a screenshot of a running Crowdmaker's home page, for the README: `python scripts/screenshot_home.py URL`.

Uses the system Chromium through Playwright and never downloads a browser. Writes docs/home.png by default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "home.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="where the platform runs, e.g. http://127.0.0.1:8000")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG to write (default: docs/home.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--full-page", action="store_true", help="capture the whole page, not just the viewport")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"browser executable (default: {CHROMIUM})")
    args = parser.parse_args(argv)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height}, device_scale_factor=1)
            response = page.goto(args.base_url.rstrip("/") + "/", wait_until="networkidle")
            if response is None or not response.ok:
                status = response.status if response else "no response"
                print(f"home page answered {status}; no screenshot taken", file=sys.stderr)
                return 1
            page.screenshot(path=str(args.output), full_page=args.full_page)
        finally:
            browser.close()
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
