"""WSGI entry point for production servers (gunicorn: `crowdmaker.config.wsgi:application`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crowdmaker.config.settings.production")

application = get_wsgi_application()
