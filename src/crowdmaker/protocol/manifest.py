"""Validation of product manifests: W3C WoT Thing Description 1.1 documents plus our `cm:` extension.

The rules are the project's own Python, written from the TD 1.1 information model; they accept exactly
what the official TD 1.1 JSON Schema accepts (the conformance test checks that on the plugfest corpus),
and then check `cm:provides`, `cm:requires` and `cm:family` when present. This module must never
depend on the `jsonschema` package or on a copy of the W3C schema, and never raises on bad input:
every defect is a `Problem` with an RFC 6901 JSON pointer and a sentence.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from crowdmaker.protocol.semver import Version, VersionRange, VersionSyntaxError

TD_CONTEXT_1_0 = "https://www.w3.org/2019/wot/td/v1"
TD_CONTEXT_1_1 = "https://www.w3.org/2022/wot/td/v1.1"

# Data schemas nest (items, properties, oneOf); past this depth we stop descending and say so, so that a
# hostile document cannot exhaust the interpreter's stack. Real TDs nest a handful of levels at most.
MAX_SCHEMA_DEPTH = 64

DATA_TYPES = ("boolean", "integer", "number", "string", "object", "array", "null")
PROPERTY_OPS = ("readproperty", "writeproperty", "observeproperty", "unobserveproperty")
ACTION_OPS = ("invokeaction", "queryaction", "cancelaction")
EVENT_OPS = ("subscribeevent", "unsubscribeevent")
THING_OPS = (
    "readallproperties",
    "writeallproperties",
    "readmultipleproperties",
    "writemultipleproperties",
    "observeallproperties",
    "unobserveallproperties",
    "queryallactions",
    "subscribeallevents",
    "unsubscribeallevents",
)
SECURITY_IN = ("header", "query", "body", "cookie", "auto")
APIKEY_IN = (*SECURITY_IN[:4], "uri", "auto")
DIGEST_QOP = ("auth", "auth-int")

# BCP 47 language tag (RFC 5646), as the TD specification gives it for `hreflang`.
BCP47 = re.compile(
    r"^(((([A-Za-z]{2,3}(-([A-Za-z]{3}(-[A-Za-z]{3}){0,2}))?)|[A-Za-z]{4}|[A-Za-z]{5,8})(-([A-Za-z]{4}))?"
    r"(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-([0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+))*"
    r"(-(x(-[A-Za-z0-9]{1,8})+))?)|(x(-[A-Za-z0-9]{1,8})+)|((en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|"
    r"i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE)|(art-lojban|"
    r"cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang)))$"
)
ICON_SIZES = re.compile(r"[0-9]*x[0-9]+")  # unanchored, as in the TD schema: "16x16", "any 32x32"
EXTENSION_SCHEME = re.compile(r".+:.*")  # schemes outside the TD vocabulary must be prefixed ("ace:...")

# Our extension (PROTOCOL.md).
PROVIDES, REQUIRES, FAMILY = "cm:provides", "cm:requires", "cm:family"
INTERFACE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+$")
DIMENSION_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
MAX_AMOUNT = 10**12  # a capacity or load above this is a typo, and the engine computes with floats
MAX_INTEGER_DIGITS = 100

# A rule checks one value at a pointer and records what is wrong with it (its return value is ignored).
Rule = Callable[[object, str], object]


@dataclass(frozen=True)
class Problem:
    """One defect of a manifest: where (an RFC 6901 pointer, "" for the whole document) and why."""

    pointer: str
    reason: str


@dataclass(frozen=True)
class ParsedManifest:
    """A manifest read from text: the document (None when the text is not JSON) and all its problems."""

    document: object
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def parse_manifest(text: str) -> ParsedManifest:
    """Parse `text` as JSON and validate it; text that is not JSON is one problem at the root, not an error."""
    try:
        document = read_json(text)
    except ValueError as error:
        return ParsedManifest(document=None, problems=[Problem("", f"The document is not valid JSON: {error}.")])
    return ParsedManifest(document=document, problems=validate_manifest(document))


def read_json(text: str) -> object:
    """Strict JSON (no NaN or Infinity, which Python would accept); ValueError when `text` is not JSON."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError as error:
        raise ValueError("the document nests too deeply") from error


def validate_manifest(document: object) -> list[Problem]:
    """Every problem of `document` as a Thing Description 1.1 with our extension; empty when valid."""
    rules = _Rules()
    rules.thing(document)
    return rules.problems or number_problems(document)


def pointer_join(pointer: str, token: str | int) -> str:
    """The RFC 6901 pointer of member or index `token` under `pointer`."""
    return pointer + "/" + str(token).replace("~", "~0").replace("/", "~1")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def number_problems(document: object, at: str = "", depth: int = 0) -> list[Problem]:
    """Numbers a manifest must not hold although JSON can write them: infinities and NaN (which PostgreSQL cannot
    store) and integers of more than MAX_INTEGER_DIGITS digits. Strict JSON text never parses to them
    (`read_json`); a document built in Python or by another parser can."""
    if depth > MAX_SCHEMA_DEPTH * 4:
        return [Problem(at, "The document nests too deeply.")]
    if isinstance(document, float) and not math.isfinite(document):
        return [Problem(at, f"{document} is not a number a manifest can hold.")]
    if isinstance(document, int) and not isinstance(document, bool) and abs(document) >= 10**MAX_INTEGER_DIGITS:
        return [Problem(at, f"An integer may have at most {MAX_INTEGER_DIGITS} digits.")]
    items = (
        document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else ()
    )
    return [problem for key, value in items for problem in number_problems(value, pointer_join(at, key), depth + 1)]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    # JSON Schema counts 2.0 as an integer; JSON has no separate integer type.
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _json_equal(a: object, b: object) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _describe(value: object) -> str:
    """A short quotation of a JSON value for a reason sentence."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _choices(options: Iterable[str]) -> str:
    return ", ".join(f'"{option}"' for option in options)


class _Rules:
    """The rule set. Each method checks one kind of TD element at a pointer and records problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, pointer: str, reason: str) -> None:
        self.problems.append(Problem(pointer, reason))

    # --- small building blocks -------------------------------------------------------------------------

    def object_at(self, value: object, at: str, what: str) -> dict[str, object] | None:
        if isinstance(value, dict):
            return value
        self.fail(at, f"{what} must be a JSON object, not {_describe(value)}.")
        return None

    def string(self, value: object, at: str, what: str) -> bool:
        if isinstance(value, str):
            return True
        self.fail(at, f"{what} must be a string, not {_describe(value)}.")
        return False

    def boolean(self, value: object, at: str, what: str) -> None:
        if not isinstance(value, bool):
            self.fail(at, f"{what} must be true or false, not {_describe(value)}.")

    def number(self, value: object, at: str, what: str) -> None:
        if not _is_number(value):
            self.fail(at, f"{what} must be a number, not {_describe(value)}.")

    def count(self, value: object, at: str, what: str) -> None:
        if not _is_integer(value) or value < 0:  # type: ignore[operator]
            self.fail(at, f"{what} must be a non-negative integer, not {_describe(value)}.")

    def boolean_rule(self, what: str) -> Rule:
        return lambda v, p: self.boolean(v, p, what)

    def count_rule(self, what: str) -> Rule:
        return lambda v, p: self.count(v, p, what)

    def number_rule(self, what: str) -> Rule:
        return lambda v, p: self.number(v, p, what)

    def one_of(self, value: object, at: str, what: str, options: tuple[str, ...]) -> None:
        if not isinstance(value, str) or value not in options:
            self.fail(at, f"{what} must be one of {_choices(options)}, not {_describe(value)}.")

    def string_map(self, value: object, at: str, what: str) -> None:
        """A language map such as `titles`: an object whose values are all strings."""
        members = self.object_at(value, at, what)
        for key, text in (members or {}).items():
            self.string(text, pointer_join(at, key), f"Each entry of {what}")

    def strings(self, value: object, at: str, what: str, *, non_empty: bool, or_string: bool = True) -> None:
        """A string or an array of strings (non-empty when `non_empty`)."""
        if or_string and isinstance(value, str):
            return
        if not isinstance(value, list):
            kind = "a string or an array of strings" if or_string else "an array of strings"
            self.fail(at, f"{what} must be {kind}, not {_describe(value)}.")
            return
        if non_empty and not value:
            self.fail(at, f"{what} must not be an empty array.")
        for index, item in enumerate(value):
            self.string(item, pointer_join(at, index), f"Each entry of {what}")

    def members(self, node: dict[str, object], at: str, rules: dict[str, Rule]) -> None:
        for name, rule in rules.items():
            if name in node:
                rule(node[name], pointer_join(at, name))

    def required(self, node: dict[str, object], at: str, names: Iterable[str], what: str) -> None:
        for name in names:
            if name not in node:
                self.fail(at, f'{what} lacks the required member "{name}".')

    def type_declaration(self, value: object, at: str) -> None:
        """`@type`: a string or an array of strings, never "tm:ThingModel" (that would be a Thing Model)."""
        if not isinstance(value, str | list):
            self.fail(at, f'"@type" must be a string or an array of strings, not {_describe(value)}.')
            return
        for index, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
            where = at if index is None else pointer_join(at, index)
            if self.string(item, where, '"@type"') and item == "tm:ThingModel":
                self.fail(where, '"tm:ThingModel" marks a Thing Model, not a Thing Description.')

    def annotations(self, node: dict[str, object], at: str) -> None:
        """Members every TD element may carry: @type, titles and descriptions."""
        self.members(
            node,
            at,
            {
                "@type": self.type_declaration,
                "title": lambda v, p: self.string(v, p, '"title"'),
                "titles": lambda v, p: self.string_map(v, p, '"titles"'),
                "description": lambda v, p: self.string(v, p, '"description"'),
                "descriptions": lambda v, p: self.string_map(v, p, '"descriptions"'),
            },
        )

    def map_of(self, value: object, at: str, what: str, rule: Rule, min_size: int = 0) -> None:
        entries = self.object_at(value, at, what)
        if entries is None:
            return
        if len(entries) < min_size:
            self.fail(at, f"{what} must have at least {min_size} entry.")
        for name, entry in entries.items():
            rule(entry, pointer_join(at, name))

    # --- the Thing ---------------------------------------------------------------------------------------

    def thing(self, document: object) -> None:
        node = self.object_at(document, "", "A Thing Description")
        if node is None:
            return
        self.required(node, "", ("@context", "title", "security", "securityDefinitions"), "The Thing Description")
        self.annotations(node, "")
        self.members(
            node,
            "",
            {
                "@context": self.context,
                "id": lambda v, p: self.string(v, p, '"id"'),
                "version": self.version,
                "created": lambda v, p: self.string(v, p, '"created"'),
                "modified": lambda v, p: self.string(v, p, '"modified"'),
                "support": lambda v, p: self.string(v, p, '"support"'),
                "base": lambda v, p: self.string(v, p, '"base"'),
                "profile": lambda v, p: self.strings(v, p, '"profile"', non_empty=True),
                "security": lambda v, p: self.strings(v, p, '"security"', non_empty=True),
                "securityDefinitions": lambda v, p: self.map_of(
                    v, p, '"securityDefinitions"', self.security_scheme, min_size=1
                ),
                "schemaDefinitions": lambda v, p: self.map_of(v, p, '"schemaDefinitions"', self.data_schema, 1),
                "uriVariables": lambda v, p: self.map_of(v, p, '"uriVariables"', self.data_schema),
                "properties": lambda v, p: self.map_of(v, p, '"properties"', self.property_affordance),
                "actions": lambda v, p: self.map_of(v, p, '"actions"', self.action_affordance),
                "events": lambda v, p: self.map_of(v, p, '"events"', self.event_affordance),
                "links": self.links,
                "forms": lambda v, p: self.forms(v, p, THING_OPS, op_required=True),
                PROVIDES: self.provides,
                REQUIRES: self.requires,
                FAMILY: lambda v, p: self.strings(v, p, f'"{FAMILY}"', non_empty=False, or_string=False),
            },
        )

    def context(self, value: object, at: str) -> None:
        """`@context`: the TD 1.1 context URI, or the 1.0 one, alone or first in an array of further contexts."""
        if isinstance(value, str):
            if value not in (TD_CONTEXT_1_1, TD_CONTEXT_1_0):
                self.fail(at, f'"@context" must be "{TD_CONTEXT_1_1}" (or "{TD_CONTEXT_1_0}"), not {_describe(value)}.')
            return
        if not isinstance(value, list):
            self.fail(
                at, f'"@context" must be the TD context URI or an array starting with it, not {_describe(value)}.'
            )
            return
        if not value:
            return  # the official schema accepts an empty array (its tuple rule constrains no item), so do we
        first = value[0]
        if first not in (TD_CONTEXT_1_1, TD_CONTEXT_1_0) or not isinstance(first, str):
            self.fail(
                pointer_join(at, 0),
                f'The first "@context" entry must be "{TD_CONTEXT_1_1}" (or "{TD_CONTEXT_1_0}"), not {_describe(first)}.',
            )
            return
        for index, entry in enumerate(value[1:], start=1):
            where = pointer_join(at, index)
            if isinstance(entry, dict):
                for prefix, iri in entry.items():
                    self.string(iri, pointer_join(where, prefix), 'Each prefix definition in "@context"')
            elif not isinstance(entry, str):
                self.fail(where, f'A "@context" entry must be a URI or an object of prefixes, not {_describe(entry)}.')
            elif first == TD_CONTEXT_1_1 and entry == TD_CONTEXT_1_0:
                self.fail(where, f'The TD 1.0 context may only come before "{TD_CONTEXT_1_1}", not after it.')

    def version(self, value: object, at: str) -> None:
        node = self.object_at(value, at, '"version"')
        if node is not None:
            self.required(node, at, ("instance",), '"version"')
            self.members(node, at, {"instance": lambda v, p: self.string(v, p, '"version/instance"')})

    # --- affordances and forms ---------------------------------------------------------------------------

    def interaction(self, value: object, at: str, what: str, ops: tuple[str, ...]) -> dict[str, object] | None:
        node = self.object_at(value, at, what)
        if node is None:
            return None
        self.required(node, at, ("forms",), what)
        self.annotations(node, at)
        self.members(
            node,
            at,
            {
                "forms": lambda v, p: self.forms(v, p, ops, op_required=False),
                "uriVariables": lambda v, p: self.map_of(v, p, '"uriVariables"', self.data_schema),
            },
        )
        return node

    def property_affordance(self, value: object, at: str) -> None:
        node = self.interaction(value, at, "A property affordance", PROPERTY_OPS)
        if node is not None:
            self.members(node, at, {"observable": lambda v, p: self.boolean(v, p, '"observable"')})
            self.data_schema_members(node, at, depth=0, content_members=False)

    def action_affordance(self, value: object, at: str) -> None:
        node = self.interaction(value, at, "An action affordance", ACTION_OPS)
        if node is not None:
            self.members(
                node,
                at,
                {
                    "input": self.data_schema,
                    "output": self.data_schema,
                    **{flag: self.boolean_rule(f'"{flag}"') for flag in ("safe", "idempotent", "synchronous")},
                },
            )

    def event_affordance(self, value: object, at: str) -> None:
        node = self.interaction(value, at, "An event affordance", EVENT_OPS)
        if node is not None:
            self.members(
                node, at, dict.fromkeys(("subscription", "data", "dataResponse", "cancellation"), self.data_schema)
            )

    def forms(self, value: object, at: str, ops: tuple[str, ...], *, op_required: bool) -> None:
        if not isinstance(value, list):
            self.fail(at, f'"forms" must be an array of forms, not {_describe(value)}.')
            return
        if not value:
            self.fail(at, '"forms" must contain at least one form.')
        for index, form in enumerate(value):
            self.form(form, pointer_join(at, index), ops, op_required=op_required)

    def form(self, value: object, at: str, ops: tuple[str, ...], *, op_required: bool) -> None:
        node = self.object_at(value, at, "A form")
        if node is None:
            return
        self.required(node, at, ("href", "op") if op_required else ("href",), "A form")
        self.members(
            node,
            at,
            {
                "href": lambda v, p: self.string(v, p, '"href"'),
                "op": lambda v, p: self.operations(v, p, ops),
                "contentType": lambda v, p: self.string(v, p, '"contentType"'),
                "contentCoding": lambda v, p: self.string(v, p, '"contentCoding"'),
                "subprotocol": lambda v, p: self.string(v, p, '"subprotocol"'),
                "security": lambda v, p: self.strings(v, p, '"security"', non_empty=True),
                "scopes": lambda v, p: self.strings(v, p, '"scopes"', non_empty=False),
                "response": self.expected_response,
                "additionalResponses": self.additional_responses,
            },
        )

    def operations(self, value: object, at: str, ops: tuple[str, ...]) -> None:
        if isinstance(value, str):
            self.one_of(value, at, '"op" here', ops)
            return
        if not isinstance(value, list):
            self.fail(at, f'"op" must be an operation name or an array of them, not {_describe(value)}.')
            return
        if not value:
            self.fail(at, '"op" must not be an empty array.')
        for index, op in enumerate(value):
            self.one_of(op, pointer_join(at, index), '"op" here', ops)

    def expected_response(self, value: object, at: str) -> None:
        node = self.object_at(value, at, '"response"')
        if node is not None:
            self.required(node, at, ("contentType",), '"response"')
            self.members(node, at, {"contentType": lambda v, p: self.string(v, p, '"contentType"')})

    def additional_responses(self, value: object, at: str) -> None:
        if not isinstance(value, list):
            self.fail(at, f'"additionalResponses" must be an array, not {_describe(value)}.')
            return
        for index, item in enumerate(value):
            where = pointer_join(at, index)
            node = self.object_at(item, where, "An additional response")
            if node is not None:
                self.members(
                    node,
                    where,
                    {
                        "contentType": lambda v, p: self.string(v, p, '"contentType"'),
                        "schema": lambda v, p: self.string(v, p, '"schema"'),
                        "success": lambda v, p: self.boolean(v, p, '"success"'),
                    },
                )

    # --- data schemas ------------------------------------------------------------------------------------

    def data_schema(self, value: object, at: str, depth: int = 0) -> None:
        node = self.object_at(value, at, "A data schema")
        if node is None:
            return
        if depth > MAX_SCHEMA_DEPTH:
            self.fail(at, f"Data schemas may nest at most {MAX_SCHEMA_DEPTH} levels deep.")
            return
        self.annotations(node, at)
        self.data_schema_members(node, at, depth=depth, content_members=True)

    def data_schema_members(self, node: dict[str, object], at: str, *, depth: int, content_members: bool) -> None:
        def nested(v: object, p: str) -> None:
            self.data_schema(v, p, depth + 1)

        rules: dict[str, Rule] = {
            "writeOnly": lambda v, p: self.boolean(v, p, '"writeOnly"'),
            "readOnly": lambda v, p: self.boolean(v, p, '"readOnly"'),
            "unit": lambda v, p: self.string(v, p, '"unit"'),
            "format": lambda v, p: self.string(v, p, '"format"'),
            "type": lambda v, p: self.one_of(v, p, '"type"', DATA_TYPES),
            "enum": self.enumeration,
            "oneOf": lambda v, p: self.schema_list(v, p, '"oneOf"', nested),
            "items": lambda v, p: self.items(v, p, nested),
            "required": lambda v, p: self.strings(v, p, '"required"', non_empty=False, or_string=False),
            "multipleOf": self.multiple_of,
            # Like the official schema, `properties` is only checked when it is an object.
            "properties": lambda v, p: self.map_of(v, p, '"properties"', nested) if isinstance(v, dict) else None,
        }
        for name in ("minItems", "maxItems", "minLength", "maxLength"):
            rules[name] = self.count_rule(f'"{name}"')
        for name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            rules[name] = self.number_rule(f'"{name}"')
        if content_members:
            rules["contentEncoding"] = lambda v, p: self.string(v, p, '"contentEncoding"')
            rules["contentMediaType"] = lambda v, p: self.string(v, p, '"contentMediaType"')
        self.members(node, at, rules)

    def schema_list(self, value: object, at: str, what: str, rule: Rule) -> None:
        if not isinstance(value, list):
            self.fail(at, f"{what} must be an array of data schemas, not {_describe(value)}.")
            return
        for index, item in enumerate(value):
            rule(item, pointer_join(at, index))

    def items(self, value: object, at: str, rule: Rule) -> None:
        if isinstance(value, list):
            self.schema_list(value, at, '"items"', rule)
        elif isinstance(value, dict):
            rule(value, at)
        else:
            self.fail(at, f'"items" must be a data schema or an array of them, not {_describe(value)}.')

    def enumeration(self, value: object, at: str) -> None:
        if not isinstance(value, list):
            self.fail(at, f'"enum" must be an array, not {_describe(value)}.')
            return
        if not value:
            self.fail(at, '"enum" must list at least one value.')
        for index, item in enumerate(value):
            if any(_json_equal(item, earlier) for earlier in value[:index]):
                self.fail(pointer_join(at, index), f'"enum" lists {_describe(item)} twice.')

    def multiple_of(self, value: object, at: str) -> None:
        if not _is_number(value) or value <= 0:  # type: ignore[operator]
            self.fail(at, f'"multipleOf" must be a number greater than 0, not {_describe(value)}.')

    # --- links -------------------------------------------------------------------------------------------

    def links(self, value: object, at: str) -> None:
        if not isinstance(value, list):
            self.fail(at, f'"links" must be an array, not {_describe(value)}.')
            return
        for index, item in enumerate(value):
            self.link(item, pointer_join(at, index))

    def link(self, value: object, at: str) -> None:
        node = self.object_at(value, at, "A link")
        if node is None:
            return
        self.required(node, at, ("href",), "A link")
        self.members(
            node,
            at,
            {
                "href": lambda v, p: self.string(v, p, '"href"'),
                "type": lambda v, p: self.string(v, p, '"type"'),
                "rel": lambda v, p: self.string(v, p, '"rel"'),
                "anchor": lambda v, p: self.string(v, p, '"anchor"'),
                "hreflang": self.hreflang,
            },
        )
        rel = node.get("rel")
        if rel == "icon":
            sizes = node.get("sizes")
            if "sizes" in node and not (isinstance(sizes, str) and ICON_SIZES.search(sizes)):
                self.fail(pointer_join(at, "sizes"), f'"sizes" must look like "16x16", not {_describe(sizes)}.')
        elif rel == "tm:extends":
            self.fail(pointer_join(at, "rel"), 'A "tm:extends" link belongs in a Thing Model, not a Thing Description.')
        elif "sizes" in node:
            self.fail(pointer_join(at, "sizes"), 'Only a link with "rel": "icon" may have "sizes".')

    def hreflang(self, value: object, at: str) -> None:
        tags = value if isinstance(value, list) else [value]
        for index, tag in enumerate(tags):
            where = pointer_join(at, index) if isinstance(value, list) else at
            if not isinstance(tag, str) or not BCP47.match(tag):
                self.fail(where, f'"hreflang" must be BCP 47 language tags such as "en-GB", not {_describe(tag)}.')

    # --- security schemes --------------------------------------------------------------------------------

    def security_scheme(self, value: object, at: str) -> None:
        node = self.object_at(value, at, "A security scheme")
        if node is None:
            return
        self.required(node, at, ("scheme",), "A security scheme")
        self.members(
            node,
            at,
            {
                "@type": self.type_declaration,
                "description": lambda v, p: self.string(v, p, '"description"'),
                "descriptions": lambda v, p: self.string_map(v, p, '"descriptions"'),
                "proxy": lambda v, p: self.string(v, p, '"proxy"'),
            },
        )
        if "scheme" not in node:
            return
        scheme = node["scheme"]

        def text(name: str) -> Rule:
            return lambda v, p: self.string(v, p, f'"{name}"')

        def location(options: tuple[str, ...]) -> Rule:
            return lambda v, p: self.one_of(v, p, '"in"', options)

        rules: dict[str, dict[str, Rule]] = {
            "nosec": {},
            "auto": {},
            "combo": {},
            "basic": {"in": location(SECURITY_IN), "name": text("name")},
            "digest": {
                "qop": lambda v, p: self.one_of(v, p, '"qop"', DIGEST_QOP),
                "in": location(SECURITY_IN),
                "name": text("name"),
            },
            "apikey": {"in": location(APIKEY_IN), "name": text("name")},
            "bearer": {
                **{name: text(name) for name in ("authorization", "alg", "format", "name")},
                "in": location(SECURITY_IN),
            },
            "psk": {"identity": text("identity")},
            "oauth2": {
                **{name: text(name) for name in ("authorization", "token", "refresh", "flow")},
                "scopes": lambda v, p: self.strings(v, p, '"scopes"', non_empty=False),
            },
        }
        where = pointer_join(at, "scheme")
        if isinstance(scheme, str) and scheme in rules:
            self.members(node, at, rules[scheme])
            if scheme == "auto" and "name" in node:
                self.fail(pointer_join(at, "name"), 'The "auto" scheme takes no "name".')
            elif scheme == "combo":
                self.combo(node, at)
        elif not isinstance(scheme, str) or not EXTENSION_SCHEME.search(scheme):
            self.fail(
                where,
                f"{_describe(scheme)} is not a TD security scheme ({_choices(rules)}) nor a prefixed extension "
                'scheme such as "ace:ACESecurityScheme".',
            )

    def combo(self, node: dict[str, object], at: str) -> None:
        """A combo scheme names at least two other schemes under exactly one of `oneOf` and `allOf`."""
        alternatives = {
            name: self.combo_alternative(node[name], pointer_join(at, name), name)
            for name in ("oneOf", "allOf")
            if name in node
        }
        valid = [name for name, problems in alternatives.items() if not problems]
        if len(valid) == 2:
            self.fail(at, 'A "combo" scheme must have either "oneOf" or "allOf", not both.')
        elif not alternatives:
            self.fail(at, 'A "combo" scheme needs "oneOf" or "allOf" with the names of at least two schemes.')
        elif not valid:  # one valid alternative is enough, so an invalid second one is only reported here
            for problems in alternatives.values():
                self.problems.extend(problems)

    def combo_alternative(self, value: object, at: str, name: str) -> list[Problem]:
        scratch = _Rules()
        scratch.strings(value, at, f'"{name}"', non_empty=False, or_string=False)
        if isinstance(value, list) and len(value) < 2:
            scratch.fail(at, f'"{name}" must name at least two security schemes.')
        return scratch.problems

    # --- our extension -----------------------------------------------------------------------------------

    def provides(self, value: object, at: str) -> None:
        self.interface_list(value, at, PROVIDES, version_rule=self.semver, amounts="capacity")

    def requires(self, value: object, at: str) -> None:
        self.interface_list(value, at, REQUIRES, version_rule=self.version_range, amounts="load")

    def interface_list(self, value: object, at: str, what: str, *, version_rule: Rule, amounts: str) -> None:
        if not isinstance(value, list):
            self.fail(at, f'"{what}" must be an array of interface entries, not {_describe(value)}.')
            return
        for index, item in enumerate(value):
            where = pointer_join(at, index)
            node = self.object_at(item, where, f'An entry of "{what}"')
            if node is None:
                continue
            self.required(node, where, ("interface", "version"), f'An entry of "{what}"')
            for name in node:
                if name not in ("interface", "version", amounts):
                    self.fail(
                        pointer_join(where, name),
                        f'"{name}" is not a member of a "{what}" entry (expected "interface", "version", "{amounts}").',
                    )
            self.members(
                node,
                where,
                {
                    "interface": self.interface_name,
                    "version": version_rule,
                    amounts: lambda v, p: self.amounts(v, p, amounts),
                },
            )

    def interface_name(self, value: object, at: str) -> None:
        if not isinstance(value, str) or not INTERFACE_NAME.match(value):
            self.fail(
                at,
                f'"interface" must be a dotted lower-case name such as "power.usb-c", not {_describe(value)}.',
            )

    def semver(self, value: object, at: str) -> None:
        """A provided interface's version, read by the same rules as the compatibility engine's."""
        self.parsed(value, at, Version.parse, 'a version such as "1.2" or "1.2.3"')

    def version_range(self, value: object, at: str) -> None:
        self.parsed(value, at, VersionRange.parse, 'a version range such as "^1.0" or ">=1.0,<2"')

    def parsed(self, value: object, at: str, parse: Callable[[str], object], expected: str) -> None:
        if not isinstance(value, str):
            self.fail(at, f'"version" must be {expected}, not {_describe(value)}.')
            return
        try:
            parse(value)
        except VersionSyntaxError as error:
            self.fail(at, f'"version" must be {expected}: {error}.')

    def amounts(self, value: object, at: str, what: str) -> None:
        node = self.object_at(value, at, f'"{what}"')
        for dimension, amount in (node or {}).items():
            where = pointer_join(at, dimension)
            if not DIMENSION_NAME.match(dimension):
                self.fail(
                    where,
                    f'A "{what}" dimension must be a lower-case name such as "watts", not {_describe(dimension)}.',
                )
            elif not _is_number(amount) or not 0 <= amount <= MAX_AMOUNT:  # type: ignore[operator]
                self.fail(
                    where,
                    f'"{what}" of "{dimension}" must be a number from 0 to {MAX_AMOUNT:.0e}, not {_describe(amount)}.',
                )
