"""Translation catalogues without system gettext.

The catalogues live in ``locale/<area>/zh_Hant/LC_MESSAGES/django.po``, one
area per part of the site, so that people working on different pages never edit
the same file. ``compile_catalogues`` writes the ``.mo`` files with polib
(``make run`` and ``make test`` call it through ``bin/compile-messages``), and
``extract_messages`` finds every string the code marks for translation, the way
``makemessages`` would, so a test can prove none is left untranslated.

    python -m clinic.i18n compile   # write the .mo files
    python -m clinic.i18n missing   # print .po entries for untranslated strings
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polib

BASE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = BASE_DIR / "locale"
LOCALES = ("zh_Hant",)
SOURCE_DIRS = ("clinic", "patients", "treatments", "booking", "portal", "workspace", "demo")
TEMPLATE_DIR = BASE_DIR / "templates"
# Emails are written once per language (templates/emails/<lang>/), not translated by catalogue.
TEMPLATE_EXCLUDE = ("emails",)

_SINGULAR = {"gettext", "gettext_lazy", "gettext_noop", "_", "_lazy"}
_CONTEXT = {"pgettext", "pgettext_lazy"}
_PLURAL = {"ngettext", "ngettext_lazy"}
_CONTEXT_PLURAL = {"npgettext", "npgettext_lazy"}


@dataclass(frozen=True)
class Message:
    msgid: str
    context: str = ""
    plural: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.context, self.msgid)


def catalogue_paths(locale: str = "zh_Hant") -> list[Path]:
    return sorted(LOCALE_DIR.glob(f"*/{locale}/LC_MESSAGES/django.po"))


def compile_catalogues() -> list[Path]:
    """Writes ``django.mo`` next to every ``django.po`` that is newer; returns what it wrote."""
    written = []
    for po_path in sorted(LOCALE_DIR.glob("*/*/LC_MESSAGES/django.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


def _string_value(token: tokenize.TokenInfo) -> str | None:
    if token.type != tokenize.STRING:
        return None
    try:
        value = ast.literal_eval(token.string)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _calls(source: str) -> Iterator[tuple[str, list[str | None]]]:
    """Yields (function name, literal arguments) for every call to a gettext function.

    Adjacent string literals are joined, as Python does; an argument that is not
    a literal is None (and such a call is skipped, as xgettext skips it)."""
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
        ]
    except (tokenize.TokenError, SyntaxError) as error:
        raise ValueError(f"cannot read the translatable strings: {error}") from error
    names = _SINGULAR | _CONTEXT | _PLURAL | _CONTEXT_PLURAL
    i = 0
    while i < len(tokens) - 1:
        token = tokens[i]
        previous = tokens[i - 1].string if i else ""
        if token.type == tokenize.NAME and token.string in names and tokens[i + 1].string == "(" and previous != "def":
            args: list[str | None] = []
            j = i + 2
            current: str | None = ""
            started = False
            depth = 0
            while j < len(tokens):
                t = tokens[j]
                if t.string in "([{" and t.type == tokenize.OP:
                    depth += 1
                    current = None
                elif t.string in ")]}" and t.type == tokenize.OP:
                    if depth == 0:
                        if started:
                            args.append(current)
                        break
                    depth -= 1
                elif t.string == "," and depth == 0:
                    args.append(current if started else None)
                    current, started = "", False
                else:
                    started = True
                    value = _string_value(t) if depth == 0 else None
                    if value is None or current is None:
                        current = None
                    else:
                        current += value
                j += 1
            yield token.string, args
            i = j
        i += 1


def _messages_from_source(source: str) -> Iterator[Message]:
    for name, args in _calls(source):
        if name in _SINGULAR and args and args[0]:
            yield Message(args[0])
        elif name in _CONTEXT and len(args) >= 2 and args[0] is not None and args[1]:
            yield Message(args[1], context=args[0])
        elif name in _PLURAL and len(args) >= 2 and args[0] and args[1]:
            yield Message(args[0], plural=args[1])
        elif name in _CONTEXT_PLURAL and len(args) >= 3 and args[0] is not None and args[1] and args[2]:
            yield Message(args[1], context=args[0], plural=args[2])


def python_sources() -> Iterable[Path]:
    for folder in SOURCE_DIRS:
        for path in sorted((BASE_DIR / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path


def template_sources() -> Iterable[Path]:
    for path in sorted(TEMPLATE_DIR.rglob("*")):
        if path.suffix in {".html", ".txt"} and path.relative_to(TEMPLATE_DIR).parts[0] not in TEMPLATE_EXCLUDE:
            yield path
    for folder in SOURCE_DIRS:
        for path in sorted((BASE_DIR / folder).glob("templates/**/*.html")):
            yield path


def extract_messages() -> dict[tuple[str, str], tuple[Message, list[str]]]:
    """Every translatable string in the code and templates, with where it is used."""
    from django.utils.translation.template import templatize

    found: dict[tuple[str, str], tuple[Message, list[str]]] = {}

    def add(message: Message, where: str) -> None:
        entry = found.setdefault(message.key, (message, []))
        entry[1].append(where)

    for path in python_sources():
        for message in _messages_from_source(path.read_text(encoding="utf-8")):
            add(message, str(path.relative_to(BASE_DIR)))
    for path in template_sources():
        source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        # templatize keeps the template's indentation, which Python's tokenizer would reject;
        # its string literals never span lines, so dropping the indentation is safe.
        source = "\n".join(line.lstrip() for line in source.splitlines())
        for message in _messages_from_source(source):
            add(message, str(path.relative_to(BASE_DIR)))
    return found


def translated(locale: str = "zh_Hant") -> dict[tuple[str, str], polib.POEntry]:
    """Every finished (non-empty, not fuzzy, not obsolete) entry of the locale's catalogues."""
    entries: dict[tuple[str, str], polib.POEntry] = {}
    for path in catalogue_paths(locale):
        for entry in polib.pofile(str(path)):
            if entry.obsolete or "fuzzy" in entry.flags:
                continue
            done = all(entry.msgstr_plural.values()) if entry.msgid_plural else bool(entry.msgstr)
            if done:
                entries.setdefault((entry.msgctxt or "", entry.msgid), entry)
    return entries


def missing(locale: str = "zh_Hant") -> list[tuple[Message, list[str]]]:
    done = translated(locale)
    return [value for key, value in sorted(extract_messages().items()) if key not in done]


def _po_entry(message: Message, where: list[str]) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [f"#: {' '.join(sorted(set(where)))}"]
    if "%(" in message.msgid or "%s" in message.msgid:
        lines.append("#, python-format")
    if message.context:
        lines.append(f"msgctxt {quote(message.context)}")
    lines.append(f"msgid {quote(message.msgid)}")
    if message.plural:
        lines += [f"msgid_plural {quote(message.plural)}", 'msgstr[0] ""']
    else:
        lines.append('msgstr ""')
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "compile"
    if command == "compile":
        for path in compile_catalogues():
            print(f"compiled {path.relative_to(BASE_DIR)}")
        return 0
    if command == "missing":
        import django

        sys.path.insert(0, str(BASE_DIR))
        from django.conf import settings

        if not settings.configured:
            settings.configure()
        django.setup()
        prefixes = tuple(argv[2:])
        entries = [
            _po_entry(message, where)
            for message, where in missing()
            if not prefixes or any(w.startswith(prefixes) for w in where)
        ]
        print("\n\n".join(entries))
        print(f"# {len(entries)} untranslated", file=sys.stderr)
        return 1 if entries else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
