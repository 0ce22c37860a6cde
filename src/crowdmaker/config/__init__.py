"""Project configuration: settings split by environment, URL routing, WSGI/ASGI entry points."""
