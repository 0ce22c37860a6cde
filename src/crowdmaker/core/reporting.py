"""What error reports (debug pages, logged and mailed tracebacks) may show of a request.

Django hides settings and headers whose names look secret; we add the Authorization header, which carries
API tokens, so that a token never appears in an error report.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION", flags=re.IGNORECASE)
