"""WSGI entry point for production servers (gunicorn: `crowdmaker.config.wsgi:application`).

Each server process loads this module before it accepts requests, so the per-process caches are filled here
(`core.warmup`) and not by some visitor's first request.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crowdmaker.config.settings.production")

application = get_wsgi_application()

from crowdmaker.core.warmup import run_warmups  # noqa: E402 - needs the app loaded

run_warmups()
