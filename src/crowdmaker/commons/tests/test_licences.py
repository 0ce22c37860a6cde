"""The licence table and the fork rule, table-driven."""

from __future__ import annotations

import pytest

from crowdmaker.commons.licences import LICENCES, PROPRIETARY, fork_licence_check
from crowdmaker.core.errors import DomainError, Forbidden, Invalid


@pytest.mark.parametrize(
    ("spdx", "derivatives", "commercial", "share_alike", "attribution"),
    [
        ("CC0-1.0", True, True, False, False),
        ("CC-BY-4.0", True, True, False, True),
        ("CC-BY-SA-4.0", True, True, True, True),
        ("CC-BY-NC-4.0", True, False, False, True),
        ("CC-BY-NC-SA-4.0", True, False, True, True),
        ("CC-BY-ND-4.0", False, True, False, True),
        ("CERN-OHL-P-2.0", True, True, False, True),
        ("CERN-OHL-W-2.0", True, True, True, True),
        ("CERN-OHL-S-2.0", True, True, True, True),
        ("MIT", True, True, False, True),
        ("Apache-2.0", True, True, False, True),
        ("GPL-3.0-or-later", True, True, True, True),
        (PROPRIETARY, False, False, False, True),
    ],
)
def test_licence_table(spdx: str, derivatives: bool, commercial: bool, share_alike: bool, attribution: bool) -> None:
    licence = LICENCES[spdx]
    assert (licence.derivatives, licence.commercial, licence.share_alike, licence.attribution) == (
        derivatives, commercial, share_alike, attribution,
    )  # fmt: skip
    if share_alike:
        assert licence.derivative_licences[0] == spdx  # a share-alike licence always allows itself
    else:
        assert licence.derivative_licences == ()


def test_table_has_exactly_the_supported_licences() -> None:
    assert len(LICENCES) == 13


@pytest.mark.parametrize(
    ("upstream", "proposed", "refusal", "code"),
    [
        ("CC0-1.0", PROPRIETARY, None, None),
        ("CC-BY-4.0", "CC-BY-SA-4.0", None, None),
        ("CC-BY-4.0", "MIT", None, None),
        ("MIT", "GPL-3.0-or-later", None, None),
        ("CC-BY-SA-4.0", "CC-BY-SA-4.0", None, None),
        ("CC-BY-SA-4.0", "GPL-3.0-or-later", None, None),  # CC's one-way compatibility
        ("GPL-3.0-or-later", "CC-BY-SA-4.0", Invalid, "licence_share_alike"),  # not the other way
        ("CC-BY-SA-4.0", "CC-BY-4.0", Invalid, "licence_share_alike"),
        ("CC-BY-SA-4.0", PROPRIETARY, Invalid, "licence_share_alike"),
        ("CERN-OHL-S-2.0", "CERN-OHL-S-2.0", None, None),
        ("CERN-OHL-S-2.0", "CERN-OHL-W-2.0", Invalid, "licence_share_alike"),
        ("CERN-OHL-W-2.0", "CERN-OHL-S-2.0", None, None),
        ("CERN-OHL-W-2.0", "CERN-OHL-P-2.0", Invalid, "licence_share_alike"),
        ("CC-BY-ND-4.0", "CC-BY-ND-4.0", Forbidden, "licence_no_derivatives"),
        ("CC-BY-ND-4.0", "CC-BY-4.0", Forbidden, "licence_no_derivatives"),
        (PROPRIETARY, PROPRIETARY, Forbidden, "licence_no_derivatives"),
        ("CC-BY-NC-4.0", "CC-BY-NC-4.0", None, None),
        ("CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", None, None),
        ("CC-BY-NC-4.0", "CC-BY-4.0", Invalid, "licence_non_commercial"),
        ("CC-BY-NC-4.0", "MIT", Invalid, "licence_non_commercial"),
        ("CC-BY-NC-SA-4.0", "CC-BY-NC-SA-4.0", None, None),
        ("CC-BY-NC-SA-4.0", "CC-BY-NC-4.0", Invalid, "licence_share_alike"),
        ("CC-BY-4.0", "WTFPL", Invalid, "licence_unknown"),
    ],
)
def test_fork_rule(upstream: str, proposed: str, refusal: type[DomainError] | None, code: str | None) -> None:
    if refusal is None:
        fork_licence_check(upstream, proposed)
        return
    with pytest.raises(refusal) as caught:
        fork_licence_check(upstream, proposed)
    assert caught.value.code == code
    assert caught.value.message
