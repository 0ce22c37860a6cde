"""The server-rendered SVG diagram of a system: members as boxes on a grid, satisfied links as lines, unmet
requirements in red under their member. Pure: it draws an engine check result and reads no database. Every
piece of text is XML-escaped, because titles and messages come from makers.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from crowdmaker.protocol import engine

COLUMNS = 4  # boxes per row
BOX_WIDTH = 220
BOX_HEIGHT = 48
GAP_X = 80
GAP_Y = 50  # room for the arches of links within a row
ARCH_HEIGHT = 16  # how far a link within a row rises above the boxes
LINE_HEIGHT = 15  # one line of unmet text under a box
MARGIN = 20
MAX_TEXT = 44  # characters of one line (about a column at 12 px); longer text is cut, whole in its <title>
UNMET_COLOUR = "#c62828"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def system_svg(members: Sequence[engine.Member], result: engine.CheckResult, *, title: str) -> str:
    # Under the box a short line (interface, range, reason); the engine's whole explanation is its tooltip.
    unmet_by_member: dict[str, list[tuple[str, str]]] = {m.id: [] for m in members}
    for unmet in result.unmet:
        short = f"✗ {unmet.interface} {unmet.version_range}: {unmet.reason.replace('_', ' ')}"
        unmet_by_member.setdefault(unmet.requirement.member_id, []).append((short, unmet.message))
    rows = [members[i : i + COLUMNS] for i in range(0, len(members), COLUMNS)]
    boxes: dict[str, tuple[int, int]] = {}  # member id -> top-left corner
    y = MARGIN + 30 + ARCH_HEIGHT
    for row in rows:
        tallest = max(len(unmet_by_member[m.id]) for m in row)
        for column, member in enumerate(row):
            boxes[member.id] = (MARGIN + column * (BOX_WIDTH + GAP_X), y)
        y += BOX_HEIGHT + tallest * LINE_HEIGHT + GAP_Y
    width = MARGIN * 2 + max(1, min(COLUMNS, len(members))) * (BOX_WIDTH + GAP_X) - GAP_X
    height = y - GAP_Y + MARGIN if members else MARGIN * 2 + 60
    status = "complete" if result.complete else result.status
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{MARGIN}" y="{MARGIN + 8}" font-size="14" font-weight="bold">{escape(_cut(title))} ({status})</text>',
    ]
    if not members:
        parts.append(f'<text x="{MARGIN}" y="{MARGIN + 40}">This system has no members yet.</text>')
    by_id = {m.id: m for m in members}
    for requirement, provider in sorted(result.assignment.items()):
        if requirement.member_id not in boxes or provider.member_id not in boxes:
            continue
        (x1, y1), (x2, y2) = boxes[requirement.member_id], boxes[provider.member_id]
        interface = by_id[requirement.member_id].requires[requirement.position].interface
        ax, bx = x1 + BOX_WIDTH // 2, x2 + BOX_WIDTH // 2
        if y1 == y2:  # same row: arch over the boxes in between, from top edge to top edge
            ay = by = y1
            cy = y1 - ARCH_HEIGHT * 2  # a quadratic curve's apex is half way to its control point
            label_y = y1 - ARCH_HEIGHT - 3
        else:  # different rows: a straight line from the lower edge of the upper box to the upper edge of the other
            ay, by = (y1 + BOX_HEIGHT, y2) if y1 < y2 else (y1, y2 + BOX_HEIGHT)
            cy = (ay + by) // 2
            label_y = cy - 4
        parts.append(
            f'<g class="link"><path d="M {ax} {ay} Q {(ax + bx) // 2} {cy} {bx} {by}" fill="none" '
            f'stroke="#2e7d32" stroke-width="2"/>'
            f'<text x="{(ax + bx) // 2}" y="{label_y}" fill="#2e7d32" text-anchor="middle">'
            f"{escape(interface)}</text></g>"
        )
    for member in members:
        x, y = boxes[member.id]
        parts.append(
            f'<g class="member" id={quoteattr("member-" + member.id)}>'
            f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" fill="#ffffff" stroke="#37474f"/>'
            f'<text x="{x + 10}" y="{y + 20}" font-weight="bold">{escape(_cut(member.label))}</text>'
            f'<text x="{x + 10}" y="{y + 37}" fill="#607d8b">{escape(_cut(member.id))}</text>'
        )
        for line, (short, message) in enumerate(unmet_by_member[member.id]):
            parts.append(
                f'<text class="unmet" x="{x}" y="{y + BOX_HEIGHT + 13 + line * LINE_HEIGHT}" fill="{UNMET_COLOUR}">'
                f"<title>{escape(message)}</title>{escape(_cut(short))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
