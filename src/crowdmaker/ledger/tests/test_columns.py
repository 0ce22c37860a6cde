"""The batch statements' columns (ledger.columns): any text and any integer reach PostgreSQL as they were."""

from __future__ import annotations

import pytest

from crowdmaker.ledger.columns import columns_execute

pytestmark = pytest.mark.django_db

TEXTS = ["", "a", 'say "hi"', "back\\slash", '\\"', "a,b", "{c}", "NULL", "é ✓", " spaced "]


@pytest.mark.parametrize("texts", [TEXTS, ["plain", "only"], [""], ['"'], ["\\"]])
def test_a_column_of_text_arrives_unchanged(texts: list[str]) -> None:
    rows = columns_execute("SELECT x, n FROM unnest(%s::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n", [texts])

    assert [x for x, _ in rows] == texts


def test_a_column_of_integers_arrives_unchanged_and_other_columns_go_as_they_are() -> None:
    numbers = [0, -1, 2**62, 7]

    assert columns_execute("SELECT unnest(%s::bigint[])", [numbers]) == [(n,) for n in numbers]
    assert columns_execute("SELECT unnest(%s::boolean[])", [[True, False]]) == [(True,), (False,)]
    assert columns_execute("SELECT cardinality(%s::bigint[])", [[]]) == [(0,)]


def test_a_column_mixing_types_is_not_written_as_a_literal() -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - psycopg refuses to dump it: never a forged literal
        columns_execute("SELECT unnest(%s::bigint[])", [[1, "2},{3"]])
