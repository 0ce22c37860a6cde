"""Set-based statements of the batch paths (settlement's thousands of payments): parameters that are whole columns.

A batch is written as one `INSERT ... SELECT FROM unnest(%s::bigint[], ...)` or `UPDATE ... FROM unnest(...)` per
table, its columns passed as arrays. Django's PostgreSQL backend binds parameters on the client, rendering a
20,000-element array into the SQL text in Python, element by element; here they are bound on the server, in
PostgreSQL's binary format (measured: a batch's arrays go 2.5 times faster than as text), on the same connection and
in the same database transaction. Used only for these statements; errors come out as Django's database errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection

_PLACEHOLDER = re.compile(r"(?<!%)%s")


def columns_execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement (`%s` placeholders, bound in binary on the server); the rows it returns, if any."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_PLACEHOLDER.sub("%b", sql), params)
        return cursor.fetchall() if cursor.description is not None else []
