"""Text from outside made writable, for every output that encodes it (exposition, pages, logs).

JSON's `\\ud800` escapes decode to lone surrogates, which no UTF-8 writer takes: one such character
in an incident title, a provider name or an upstream error made /metrics or the landing page answer
500 (issue 32). Each output passes its text through here once, where it is encoded.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")  # a str holds a valid pair as one code point: these are lone


def encodable(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD; unchanged (the same object) otherwise."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def utf8(text: str) -> bytes:
    return encodable(text).encode("utf-8")
