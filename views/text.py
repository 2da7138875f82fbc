"""User text in HTML: escaped first, then its line breaks kept as paragraphs or <br> (never raw markup)."""

import re

from markupsafe import Markup, escape

_BLANK_LINE = re.compile(r"\n[ \t]*\n+")


def _lines(text: str) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in text.split("\n"))


def line_breaks(text) -> Markup:
    """One block of text whose single line breaks show as <br>."""
    return _lines((text or "").replace("\r\n", "\n").replace("\r", "\n").strip())


def paragraphs(text) -> Markup:
    """Blank-line separated blocks as <p> paragraphs, single line breaks inside them as <br>."""
    blocks = _BLANK_LINE.split((text or "").replace("\r\n", "\n").replace("\r", "\n").strip())
    return Markup("\n").join(Markup("<p>%s</p>") % _lines(block.strip()) for block in blocks if block.strip())
