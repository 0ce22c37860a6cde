"""Fixtures of the commons tests: manifests and a ready-made design."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from crowdmaker.commons import services
from crowdmaker.commons.models import Design
from crowdmaker.people.models import User


def manifest(
    title: str = "Desk lamp",
    provides: Sequence[str] = (),
    requires: Sequence[str] = (),
    family: Sequence[str] = (),
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": title,
        "security": "nosec_sc",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
    }
    if provides:
        document["cm:provides"] = [{"interface": name, "version": "1.0.0"} for name in provides]
    if requires:
        document["cm:requires"] = [{"interface": name, "version": "^1.0"} for name in requires]
    if family:
        document["cm:family"] = list(family)
    return document


BOM = [{"item": "M3 screw", "quantity": 4, "unit_cost": 5, "currency": "EUR"}]


@pytest.fixture
def make_design(db: None) -> Callable[..., Design]:
    def make(owner: User, slug: str, *, licence: str = "CC-BY-4.0", **extra: Any) -> Design:
        extra.setdefault("manifest", manifest(slug))
        extra.setdefault("bom", BOM)
        return services.design_create(
            actor=owner, slug=slug, title=extra.pop("title", slug.title()), licence=licence, **extra
        )

    return make
