"""Every string the pages mark for translation has a Traditional Chinese translation."""

from __future__ import annotations

import re

from clinic.i18n import Message, extract_messages, missing, translated

_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def test_no_string_is_left_untranslated() -> None:
    left = [f"{m.msgid!r} ({', '.join(sorted(set(where)))})" for m, where in missing()]
    assert not left, f"{len(left)} strings have no zh_Hant translation:\n" + "\n".join(left[:60])


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for entry in translated().values():
        expected = set(_PLACEHOLDER.findall(entry.msgid))
        for text in [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values()):
            if expected and set(_PLACEHOLDER.findall(text)) != expected:
                wrong.append(entry.msgid)
    assert not wrong, f"translations that lose or invent placeholders: {wrong}"


def test_the_extractor_finds_template_and_code_strings() -> None:
    found = extract_messages()
    # One of each kind, so that a broken extractor cannot pass the test above by finding nothing.
    assert ("", "Skip to content") in found  # {% translate %} in templates/base.html
    assert ("", "Hong Kong time (HKT)") in found  # gettext in clinic/context.py
    assert isinstance(next(iter(found.values()))[0], Message)
