"""The shared cleaning of typed text: what one-line and multi-line fields accept and refuse."""

from __future__ import annotations

import pytest

from crowdmaker.core.errors import Invalid
from crowdmaker.core.text import clean_text


def test_text_is_stripped_and_joiners_kept() -> None:
    assert clean_text("  👩\u200d🔧 Lamp  ", field="title", max_length=20) == "👩\u200d🔧 Lamp"


@pytest.mark.parametrize("text", ["a\nb", "a\tb", "a\x00b", "a\u202eb", "a\u2028b"])
def test_one_line_fields_refuse_breaks_and_control_characters(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        clean_text(text, field="title", max_length=50)
    assert refused.value.field == "title"
    assert "U+" in refused.value.message


def test_multi_line_fields_keep_line_breaks_but_not_nul() -> None:
    assert clean_text("one\r\ntwo\tthree", field="bio", max_length=50, multiline=True) == "one\r\ntwo\tthree"
    with pytest.raises(Invalid, match="U\\+0000"):
        clean_text("one\x00two", field="bio", max_length=50, multiline=True)


def test_required_and_length_are_enforced() -> None:
    with pytest.raises(Invalid, match="required"):
        clean_text("   ", field="name", max_length=5, required=True)
    with pytest.raises(Invalid, match="At most 5 characters"):
        clean_text("abcdef", field="name", max_length=5)
