"""The accessibility rules every browser test holds pages to: WCAG 2.2 A and AA, as axe-core tags them."""

from __future__ import annotations

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
