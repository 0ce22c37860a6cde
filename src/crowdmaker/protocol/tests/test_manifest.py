"""Unit tests of the manifest validator's rules, each on a small hand-written document."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdmaker.protocol.manifest import (
    TD_CONTEXT_1_0,
    TD_CONTEXT_1_1,
    Problem,
    parse_manifest,
    pointer_join,
    validate_manifest,
)

MINIMAL: dict[str, Any] = {
    "@context": TD_CONTEXT_1_1,
    "title": "Desk lamp",
    "security": "nosec_sc",
    "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
}


def td(**members: Any) -> dict[str, Any]:
    """The minimal valid TD with `members` added or replaced (a value of ... removes the member)."""
    document = copy.deepcopy(MINIMAL)
    for name, value in members.items():
        name = name.replace("__", ":").replace("_at_", "@")
        if value is ...:
            document.pop(name)
        else:
            document[name] = value
    return document


def pointers(document: Any) -> list[str]:
    return [problem.pointer for problem in validate_manifest(document)]


def test_the_minimal_thing_description_is_valid() -> None:
    assert validate_manifest(MINIMAL) == []


def test_a_full_thing_description_is_valid() -> None:
    document = td(
        id="urn:dev:ops:32473-WoTLamp-1234",
        titles={"en": "Lamp", "de": "Lampe"},
        description="A lamp",
        version={"instance": "1.0.0"},
        base="https://lamp.example.com/",
        profile=["https://www.w3.org/2022/wot/discovery"],
        links=[{"href": "icon.png", "rel": "icon", "sizes": "16x16"}, {"href": "/x", "hreflang": ["en", "de-CH"]}],
        forms=[{"href": "/all", "op": ["readallproperties", "writemultipleproperties"]}],
        properties={
            "status": {
                "type": "object",
                "properties": {"on": {"type": "boolean"}, "level": {"type": "integer", "minimum": 0, "maximum": 100}},
                "required": ["on"],
                "observable": True,
                "forms": [{"href": "/status", "op": "readproperty", "response": {"contentType": "application/json"}}],
            }
        },
        actions={"toggle": {"input": {"type": "array", "items": [{"type": "string"}]}, "forms": [{"href": "/t"}]}},
        events={"overheated": {"data": {"type": "number", "multipleOf": 0.5}, "forms": [{"href": "/e"}]}},
    )
    assert validate_manifest(document) == []


@pytest.mark.parametrize("member", ["@context", "title", "security", "securityDefinitions"])
def test_each_required_member_is_named_when_missing(member: str) -> None:
    document = copy.deepcopy(MINIMAL)
    del document[member]

    assert validate_manifest(document) == [Problem("", f'The Thing Description lacks the required member "{member}".')]


@pytest.mark.parametrize("value", [None, [], "td", 3, True])
def test_a_document_that_is_not_an_object_is_refused_at_the_root(value: Any) -> None:
    [problem] = validate_manifest(value)
    assert problem.pointer == ""
    assert "must be a JSON object" in problem.reason


@pytest.mark.parametrize(
    "context",
    [
        TD_CONTEXT_1_1,
        TD_CONTEXT_1_0,
        [TD_CONTEXT_1_1],
        [TD_CONTEXT_1_1, {"cm": "https://crowdmaker.example/ns#"}, "https://schema.org/"],
        [TD_CONTEXT_1_0, TD_CONTEXT_1_1],
        [TD_CONTEXT_1_0, "https://schema.org/"],
    ],
)
def test_accepted_contexts(context: Any) -> None:
    assert validate_manifest(td(_at_context=context)) == []


@pytest.mark.parametrize(
    ("context", "pointer"),
    [
        ("http://www.w3.org/ns/td", "/@context"),  # the pre-Recommendation context of early plugfests
        (["http://www.w3.org/ns/td"], "/@context/0"),
        (["https://schema.org/", TD_CONTEXT_1_1], "/@context/0"),
        ([TD_CONTEXT_1_1, TD_CONTEXT_1_0], "/@context/1"),  # 1.0 may come before 1.1, never after
        ([TD_CONTEXT_1_1, {"s": {"@id": "https://schema.org/"}}], "/@context/1/s"),
        ([TD_CONTEXT_1_1, 7], "/@context/1"),
        ({"@vocab": TD_CONTEXT_1_1}, "/@context"),
    ],
)
def test_refused_contexts(context: Any, pointer: str) -> None:
    assert pointers(td(_at_context=context)) == [pointer]


def test_language_maps_must_hold_strings() -> None:
    assert pointers(td(titles={"en": "Lamp", "de": 3}, descriptions="a lamp")) == ["/titles/de", "/descriptions"]


@pytest.mark.parametrize(
    ("security", "ok"), [("a", True), (["a", "b"], True), ([], False), ([1], False), ({"a": 1}, False)]
)
def test_security_is_a_name_or_a_non_empty_list_of_names(security: Any, ok: bool) -> None:
    assert (validate_manifest(td(security=security)) == []) is ok


@pytest.mark.parametrize(
    ("scheme", "ok"),
    [
        ({"scheme": "nosec"}, True),
        ({"scheme": "basic", "in": "header", "name": "Authorization"}, True),
        ({"scheme": "basic", "in": "uri"}, False),  # only apikey may travel in the URI
        ({"scheme": "apikey", "in": "uri", "name": "key"}, True),
        ({"scheme": "digest", "qop": "auth-int"}, True),
        ({"scheme": "digest", "qop": "auth-conf"}, False),
        ({"scheme": "bearer", "authorization": "https://as.example/", "alg": "ES256", "format": "jwt"}, True),
        ({"scheme": "oauth2", "flow": "code", "scopes": ["a", "b"]}, True),
        ({"scheme": "psk", "identity": 5}, False),
        ({"scheme": "auto"}, True),
        ({"scheme": "auto", "name": "x"}, False),
        ({"scheme": "combo", "oneOf": ["a", "b"]}, True),
        ({"scheme": "combo", "allOf": ["a"]}, False),
        ({"scheme": "combo", "oneOf": ["a", "b"], "allOf": ["a", "b"]}, False),
        ({"scheme": "combo", "oneOf": ["a", "b"], "allOf": 3}, True),  # one valid alternative suffices
        ({"scheme": "combo"}, False),
        ({"scheme": "ace:ACESecurityScheme", "ace:as": "coaps://as.example.com/token"}, True),
        ({"scheme": "kerberos"}, False),  # not in the TD vocabulary and not prefixed
        ({"name": "x"}, False),
        ("nosec", False),
    ],
)
def test_security_schemes(scheme: Any, ok: bool) -> None:
    problems = validate_manifest(td(securityDefinitions={"nosec_sc": scheme}))
    assert (problems == []) is ok, problems
    assert all(problem.pointer.startswith("/securityDefinitions/nosec_sc") for problem in problems)


def test_security_definitions_may_not_be_empty() -> None:
    assert pointers(td(securityDefinitions={})) == ["/securityDefinitions"]


def test_affordances_need_forms_with_an_href() -> None:
    document = td(
        properties={"a": {"type": "string"}, "b": {"forms": []}, "c": {"forms": [{"op": "readproperty"}]}},
        actions={"go": "now"},
    )
    assert validate_manifest(document) == [
        Problem("/properties/a", 'A property affordance lacks the required member "forms".'),
        Problem("/properties/b/forms", '"forms" must contain at least one form.'),
        Problem("/properties/c/forms/0", 'A form lacks the required member "href".'),
        Problem("/actions/go", 'An action affordance must be a JSON object, not "now".'),
    ]


@pytest.mark.parametrize(
    ("kind", "op", "ok"),
    [
        ("properties", "readproperty", True),
        ("properties", ["readproperty", "observeproperty"], True),
        ("properties", "invokeaction", False),
        ("properties", [], False),
        ("actions", "invokeaction", True),
        ("actions", ["queryaction", "cancelaction"], True),
        ("actions", "readproperty", False),
        ("events", "subscribeevent", True),
        ("events", ["subscribeevent", "readproperty"], False),
        ("events", 7, False),
    ],
)
def test_form_operations_depend_on_the_affordance(kind: str, op: Any, ok: bool) -> None:
    document = td(**{kind: {"x": {"forms": [{"href": "/x", "op": op}]}}})
    assert (validate_manifest(document) == []) is ok


def test_thing_level_forms_need_a_thing_level_op() -> None:
    assert pointers(td(forms=[{"href": "/all"}])) == ["/forms/0"]
    assert pointers(td(forms=[{"href": "/all", "op": "readproperty"}])) == ["/forms/0/op"]
    assert pointers(td(forms=[{"href": "/all", "op": "readallproperties"}])) == []


def test_form_members() -> None:
    form = {
        "href": "/x",
        "contentType": 1,
        "security": [],
        "scopes": "limited",
        "response": {},
        "additionalResponses": [{"success": "yes"}],
    }
    assert pointers(td(properties={"p": {"forms": [form]}})) == [
        "/properties/p/forms/0/contentType",
        "/properties/p/forms/0/security",
        "/properties/p/forms/0/response",
        "/properties/p/forms/0/additionalResponses/0/success",
    ]


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"type": "date-time"}, "/type"),
        ({"type": ["string", "null"]}, "/type"),
        ({"enum": []}, "/enum"),
        ({"enum": [1, 1.0]}, "/enum/1"),  # equal as JSON numbers
        ({"minimum": "0"}, "/minimum"),
        ({"minLength": -1}, "/minLength"),
        ({"maxItems": 2.5}, "/maxItems"),
        ({"multipleOf": 0}, "/multipleOf"),
        ({"readOnly": "yes"}, "/readOnly"),
        ({"required": "on"}, "/required"),
        ({"items": "string"}, "/items"),
        ({"items": [{"type": "string"}, {"type": "pixel"}]}, "/items/1/type"),
        ({"oneOf": [{"type": "string"}, 3]}, "/oneOf/1"),
        ({"properties": {"a": {"properties": {"b": {"type": "list"}}}}}, "/properties/a/properties/b/type"),
        ({"@type": "tm:ThingModel"}, "/@type"),
        ({"contentMediaType": 1}, "/contentMediaType"),
    ],
)
def test_data_schema_rules(schema: dict[str, Any], pointer: str) -> None:
    assert pointers(td(schemaDefinitions={"s": schema})) == ["/schemaDefinitions/s" + pointer]


def test_data_schema_values_that_are_always_allowed() -> None:
    schema = {"enum": [1, True, "1", [1], {"a": 1}], "const": {"any": ["thing"]}, "default": None, "maxItems": 2.0}
    assert validate_manifest(td(schemaDefinitions={"s": schema})) == []


def test_hostile_nesting_is_cut_off_not_crashed() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(500):
        schema = {"type": "array", "items": schema}
    [problem] = validate_manifest(td(schemaDefinitions={"s": schema}))
    assert "nest at most" in problem.reason


@pytest.mark.parametrize(
    ("link", "pointer"),
    [
        ({"href": "/a", "rel": "icon", "sizes": "32x32"}, None),
        ({"href": "/a", "rel": "icon", "sizes": "big"}, "/links/0/sizes"),
        ({"href": "/a", "sizes": "32x32"}, "/links/0/sizes"),  # only icons have sizes
        ({"href": "/a", "rel": "tm:extends"}, "/links/0/rel"),
        ({"rel": "next"}, "/links/0"),
        ({"href": "/a", "hreflang": "english!"}, "/links/0/hreflang"),
        ({"href": "/a", "hreflang": ["en", 5]}, "/links/0/hreflang/1"),
        ("https://example.com/", "/links/0"),
    ],
)
def test_links(link: Any, pointer: str | None) -> None:
    assert pointers(td(links=[link])) == ([] if pointer is None else [pointer])


@pytest.mark.parametrize(
    ("members", "pointer"),
    [
        ({"version": {"model": "1"}}, "/version"),  # lacks "instance"
        ({"version": "1.0"}, "/version"),
        ({"profile": []}, "/profile"),
        ({"base": 1}, "/base"),
        ({"id": 1}, "/id"),
        ({"properties": []}, "/properties"),
        ({"uriVariables": {"v": 1}}, "/uriVariables/v"),
        ({"schemaDefinitions": {}}, "/schemaDefinitions"),
        ({"_at_type": ["Thing", "tm:ThingModel"]}, "/@type/1"),
    ],
)
def test_thing_members(members: dict[str, Any], pointer: str) -> None:
    assert pointers(td(**members)) == [pointer]


def test_pointers_escape_slash_and_tilde() -> None:
    assert pointer_join("", "a/b~c") == "/a~1b~0c"
    assert pointers(td(properties={"ThrustMeasurement/Sensor~Value": {}})) == [
        "/properties/ThrustMeasurement~1Sensor~0Value"
    ]


# --- our extension ------------------------------------------------------------------------------------


def test_a_manifest_with_our_extension_is_valid() -> None:
    document = td(
        cm__provides=[{"interface": "power.usb-c", "version": "1.2", "capacity": {"watts": 60, "ports": 2}}],
        cm__requires=[{"interface": "power.usb-c", "version": "^1.0", "load": {"watts": 7.5, "ports": 1}}],
        cm__family=["smart-home"],
    )
    assert validate_manifest(document) == []


@pytest.mark.parametrize(
    ("member", "value", "pointer"),
    [
        ("cm:provides", {"interface": "power.usb-c"}, "/cm:provides"),
        ("cm:provides", [{"version": "1.0"}], "/cm:provides/0"),
        ("cm:provides", [{"interface": "Power USB", "version": "1.0"}], "/cm:provides/0/interface"),
        ("cm:provides", [{"interface": "power", "version": "1.0"}], "/cm:provides/0/interface"),  # not dotted
        ("cm:provides", [{"interface": "power.usb-c", "version": "^1.0"}], "/cm:provides/0/version"),
        ("cm:provides", [{"interface": "power.usb-c", "version": 1}], "/cm:provides/0/version"),
        (
            "cm:provides",
            [{"interface": "a.b", "version": "1", "capacity": {"watts": -1}}],
            "/cm:provides/0/capacity/watts",
        ),
        (
            "cm:provides",
            [{"interface": "a.b", "version": "1", "capacity": {"watts": True}}],
            "/cm:provides/0/capacity/watts",
        ),
        (
            "cm:provides",
            [{"interface": "a.b", "version": "1", "capacity": {"Watts!": 1}}],
            "/cm:provides/0/capacity/Watts!",
        ),
        ("cm:provides", [{"interface": "a.b", "version": "1", "load": {"watts": 1}}], "/cm:provides/0/load"),
        ("cm:requires", [{"interface": "a.b", "version": ">=1.0,<2", "load": {"watts": 1}}], None),
        ("cm:requires", [{"interface": "a.b", "version": "1.0 - 2.0"}], "/cm:requires/0/version"),
        ("cm:requires", [{"interface": "a.b", "version": "^1", "load": []}], "/cm:requires/0/load"),
        ("cm:family", ["home", 3], "/cm:family/1"),
        ("cm:family", "home", "/cm:family"),
    ],
)
def test_extension_rules(member: str, value: Any, pointer: str | None) -> None:
    document = td()
    document[member] = value
    assert pointers(document) == ([] if pointer is None else [pointer])


def test_the_extension_alone_does_not_excuse_missing_td_members() -> None:
    document = {"@context": TD_CONTEXT_1_1, "cm:family": ["workshop"]}
    assert pointers(document) == ["", "", ""]  # title, security and securityDefinitions


# --- parsing ------------------------------------------------------------------------------------------


def test_parse_manifest_reads_valid_json() -> None:
    parsed = parse_manifest(json.dumps(MINIMAL))
    assert parsed.valid
    assert parsed.document == MINIMAL


@pytest.mark.parametrize("text", ["", "{", "{'title': 1}", "NaN", '{"a": Infinity}', "[" * 100_000])
def test_parse_manifest_turns_non_json_into_a_problem(text: str) -> None:
    parsed = parse_manifest(text)
    assert not parsed.valid
    assert parsed.document is None
    [problem] = parsed.problems
    assert problem.pointer == ""
    assert problem.reason.startswith("The document is not valid JSON")


# --- never crashes ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["nosec", "combo", "icon", "readproperty", TD_CONTEXT_1_1, "tm:ThingModel", "a.b", "^1"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
MEMBERS = [
    "@context", "@type", "title", "titles", "security", "securityDefinitions", "properties", "actions", "events",
    "links", "forms", "version", "profile", "schemaDefinitions", "uriVariables", "cm:provides", "cm:requires",
    "cm:family",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_never_crashes_on_arbitrary_json(document: Any) -> None:
    for problem in validate_manifest(document):
        assert isinstance(problem.pointer, str)
        assert problem.reason


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(MEMBERS), json_values, max_size=6))
def test_never_crashes_on_arbitrary_td_members(members: dict[str, Any]) -> None:
    document = {**MINIMAL, **members}
    problems = validate_manifest(document)
    assert all(problem.pointer == "" or problem.pointer.startswith("/") for problem in problems)
