"""The licences the platform understands, as data, and the rule a fork must follow.

Each licence says whether it allows derivatives, commercial use, whether it is share-alike (copyleft) and
whether it requires attribution. A share-alike licence names the licences a derivative may take: always
itself, plus an explicit list of one-way compatible licences. We keep the compatibility lists deliberately
short and conservative:

- CC-BY-SA-4.0 -> CC-BY-SA-4.0 or GPL-3.0-or-later (Creative Commons declared GPLv3 a compatible licence
  for BY-SA 4.0 adaptations in 2015; the compatibility is one way: GPL work cannot become CC-BY-SA).
- CC-BY-NC-SA-4.0 -> CC-BY-NC-SA-4.0 only.
- CERN-OHL-S-2.0 -> CERN-OHL-S-2.0 only; CERN-OHL-W-2.0 -> CERN-OHL-W-2.0 or CERN-OHL-S-2.0 (the weak
  variant's reciprocity covers the design itself; moving to the strong variant keeps every obligation).
- GPL-3.0-or-later -> GPL-3.0-or-later only.

Non-share-alike licences let a derivative take any licence that does not give away more than the upstream
allows: a non-commercial upstream forbids a derivative licence that allows commercial use. Attribution
is shown on every page through the attribution chain (selectors), whatever the licence.
"""

from __future__ import annotations

from dataclasses import dataclass

from crowdmaker.core.errors import Forbidden, Invalid

PROPRIETARY = "LicenseRef-proprietary"


@dataclass(frozen=True)
class Licence:
    spdx: str
    name: str
    derivatives: bool
    commercial: bool
    share_alike: bool
    attribution: bool
    # For a share-alike licence: the licences a derivative may take (itself first). Empty otherwise.
    derivative_licences: tuple[str, ...] = ()
    url: str = ""


LICENCES: dict[str, Licence] = {
    licence.spdx: licence
    for licence in (
        Licence("CC0-1.0", "Creative Commons Zero 1.0 (public domain dedication)", True, True, False, False,
                url="https://creativecommons.org/publicdomain/zero/1.0/"),
        Licence("CC-BY-4.0", "Creative Commons Attribution 4.0", True, True, False, True,
                url="https://creativecommons.org/licenses/by/4.0/"),
        Licence("CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0", True, True, True, True,
                ("CC-BY-SA-4.0", "GPL-3.0-or-later"), url="https://creativecommons.org/licenses/by-sa/4.0/"),
        Licence("CC-BY-NC-4.0", "Creative Commons Attribution-NonCommercial 4.0", True, False, False, True,
                url="https://creativecommons.org/licenses/by-nc/4.0/"),
        Licence("CC-BY-NC-SA-4.0", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", True, False, True,
                True, ("CC-BY-NC-SA-4.0",), url="https://creativecommons.org/licenses/by-nc-sa/4.0/"),
        Licence("CC-BY-ND-4.0", "Creative Commons Attribution-NoDerivatives 4.0", False, True, False, True,
                url="https://creativecommons.org/licenses/by-nd/4.0/"),
        Licence("CERN-OHL-P-2.0", "CERN Open Hardware Licence v2 - Permissive", True, True, False, True,
                url="https://ohwr.org/cern_ohl_p_v2.txt"),
        Licence("CERN-OHL-W-2.0", "CERN Open Hardware Licence v2 - Weakly Reciprocal", True, True, True, True,
                ("CERN-OHL-W-2.0", "CERN-OHL-S-2.0"), url="https://ohwr.org/cern_ohl_w_v2.txt"),
        Licence("CERN-OHL-S-2.0", "CERN Open Hardware Licence v2 - Strongly Reciprocal", True, True, True, True,
                ("CERN-OHL-S-2.0",), url="https://ohwr.org/cern_ohl_s_v2.txt"),
        Licence("MIT", "MIT License", True, True, False, True, url="https://opensource.org/license/mit"),
        Licence("Apache-2.0", "Apache License 2.0", True, True, False, True,
                url="https://www.apache.org/licenses/LICENSE-2.0"),
        Licence("GPL-3.0-or-later", "GNU General Public License v3.0 or later", True, True, True, True,
                ("GPL-3.0-or-later",), url="https://www.gnu.org/licenses/gpl-3.0.html"),
        Licence(PROPRIETARY, "All rights reserved", False, False, False, True),
    )
}  # fmt: skip

SPDX_IDS: tuple[str, ...] = tuple(LICENCES)


def licence_get(spdx: str, *, field: str = "licence") -> Licence:
    licence = LICENCES.get(spdx)
    if licence is None:
        raise Invalid(f"Unknown licence {spdx!r}; choose one of: {', '.join(SPDX_IDS)}.", code="licence_unknown",
                      field=field)  # fmt: skip
    return licence


def fork_licence_check(upstream: str, proposed: str) -> None:
    """Refuse a fork of a design under `upstream` that would be published under `proposed`.

    Raises Forbidden when the upstream licence forbids derivatives at all, Invalid when the proposed licence
    is unknown or breaks a share-alike or non-commercial term. Returns None when the fork is allowed.
    """
    source = licence_get(upstream, field="upstream")
    target = licence_get(proposed)
    if not source.derivatives:
        raise Forbidden(
            f"This design is licensed {source.spdx} ({source.name}), which does not allow derivatives; "
            "it cannot be forked.",
            code="licence_no_derivatives",
        )
    if source.share_alike:
        if target.spdx not in source.derivative_licences:
            raise Invalid(
                f"{source.spdx} is share-alike: a fork must be licensed "
                f"{' or '.join(source.derivative_licences)}, not {target.spdx}.",
                code="licence_share_alike",
                field="licence",
            )
        return
    if not source.commercial and target.commercial:
        raise Invalid(
            f"{source.spdx} does not allow commercial use: a fork may not take {target.spdx}, which allows it.",
            code="licence_non_commercial",
            field="licence",
        )
