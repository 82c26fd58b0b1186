"""A JSON answer read as it streams in, its long base64 strings decoded a chunk at a time.

A 4K image comes back as one base64 string of about 20 MB inside the JSON: Gemini's and Vertex AI's
`inlineData.data`, OpenRouter's `data:image/png;base64,...` URL. Decoding the whole body at the end
(text, `json.loads`, `a2b_base64`: three C calls of 10-45 ms each) held the event loop for 80-150 ms
and two copies of the answer in memory (BENCHMARKS.md). Here each chunk is looked at as it arrives:

- bytes outside long strings are kept as they came: the skeleton, a few KB;
- a string that grows past BLOB_MIN bytes and is strict base64 (after an optional
  `data:image/...;base64,` head) is decoded chunk by chunk, and a placeholder stands in the
  skeleton; the parsed skeleton gets a Base64Blob (the decoded bytes) in its place;
- a string that turns out not to be plain strict base64 (an escape, whitespace, padding before its
  end, a length that is not a multiple of four) is written back into the skeleton as it came (its
  decoded part re-encoded: the same characters), so it parses exactly as `json.loads` of the whole
  body would, and the dialect's own check decides what it is.

So the answer parses to what `json.loads` gives (tests/test_blobs.py holds it to that), no single
call holds the loop for more than a chunk, and the decoded image is the only large copy.
"""

from __future__ import annotations

import binascii
import json
import re
import secrets
from typing import Any

from exporter.common.aio import off_loop

BLOB_MIN = 64 * 1024  # a string this long is a candidate; shorter ones stay in the skeleton
_DATA_URL_HEAD = re.compile(rb"data:image/[a-zA-Z0-9.+-]+;base64,")  # as exporter.probing.dialects.base._DATA_URL
_QUOTE, _BACKSLASH = 0x22, 0x5C
_UTF8 = ("utf-8", "utf-8-sig")


class Base64Blob:
    """A long base64 string of an answer, already decoded: `head` is what came before the base64
    (b"" or a data URL's `data:image/png;base64,`), `data` the bytes a strict decode gives."""

    __slots__ = ("head", "data")

    def __init__(self, head: str, data: bytes):
        self.head, self.data = head, data

    def __repr__(self) -> str:
        return f"<base64 string{' ' + self.head if self.head else ''}: {len(self.data)} bytes>"


class _Decoding:
    """The base64 of one string, decoded as it comes; `feed` is all or nothing."""

    def __init__(self, head: bytes):
        self.head = head
        self.pieces: list[bytes] = []
        self.pending = b""  # characters not yet decoded: an incomplete quad, or the padded last one

    def feed(self, text: bytes) -> bool:
        data = self.pending + text
        padding = data.find(b"=")
        cut = (len(data) if padding < 0 else padding) // 4 * 4
        if padding >= 0 and len(data) - cut > 4:
            return False  # characters after the padding: not a strict decode
        try:
            decoded = binascii.a2b_base64(data[:cut], strict_mode=True)
        except (binascii.Error, ValueError):
            return False
        self.pieces.append(decoded)
        self.pending = data[cut:]
        return True

    def finish(self) -> list[bytes] | None:
        """The decoded pieces, None when the characters end as no strict decode would."""
        try:
            last = binascii.a2b_base64(self.pending, strict_mode=True) if self.pending else b""
        except (binascii.Error, ValueError):
            return None
        self.pieces.append(last)
        return self.pieces

    def text(self) -> bytes:
        """The characters fed so far, as they came."""
        return self.head + b"".join(binascii.b2a_base64(p, newline=False) for p in self.pieces) + self.pending


class StreamedJSON:
    """Feed the chunks of an answer's body, then `payload()`: its parsed JSON (None when it is not
    JSON), every long base64 string in it a Base64Blob."""

    def __init__(self, blob_min: int = BLOB_MIN):
        self.blob_min = blob_min
        self.size = 0  # bytes fed
        self.skeleton = bytearray()
        self._blobs: dict[str, Base64Blob] = {}
        self._pieces: dict[str, list[bytes]] = {}  # placeholder -> its blob's decoded pieces, joined in payload()
        self._token = secrets.token_hex(8)  # placeholders no answer can hold by chance
        self._utf8: bool | None = None  # decided on the first bytes: other encodings stay whole
        self._in_string = False
        self._start = 0  # where the current string's characters start in the skeleton
        self._candidate = False  # the current string may still become a blob
        self._backslashes = 0  # the run of backslashes that ends the current string's characters
        self._decoding: _Decoding | None = None

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._utf8 is None:
            self._utf8 = json.detect_encoding(chunk) in _UTF8
        if not self._utf8:
            self.skeleton += chunk
            return
        pos, end = 0, len(chunk)
        while pos < end:
            if not self._in_string:
                quote = chunk.find(b'"', pos)
                if quote < 0:
                    self.skeleton += chunk[pos:]
                    return
                self.skeleton += chunk[pos:quote + 1]
                pos = quote + 1
                self._in_string, self._start, self._candidate, self._backslashes = True, len(self.skeleton), True, 0
            elif self._decoding is not None:
                pos = self._blob_text(chunk, pos)
            else:
                pos = self._string_text(chunk, pos)

    def _blob_text(self, chunk: bytes, pos: int) -> int:
        quote = chunk.find(b'"', pos)
        stop = len(chunk) if quote < 0 else quote
        if not self._decoding.feed(chunk[pos:stop]):
            self._write_back()
            return pos  # the same characters again, now as a plain string
        if quote < 0:
            return stop
        pieces = self._decoding.finish()
        if pieces is None:
            self._write_back()
            return quote
        placeholder = f"\x00{self._token}:{len(self._blobs)}"
        self._blobs[placeholder] = Base64Blob(self._decoding.head.decode(), b"")
        self._pieces[placeholder] = pieces
        self.skeleton += json.dumps(placeholder)[1:-1].encode() + b'"'
        self._decoding, self._in_string = None, False
        return quote + 1

    def _write_back(self) -> None:
        self.skeleton += self._decoding.text()  # base64 characters: no backslash ends them
        self._decoding, self._candidate, self._backslashes = None, False, 0

    def _string_text(self, chunk: bytes, pos: int) -> int:
        """A plain string's characters up to its closing quote (escapes kept as they are)."""
        quote = chunk.find(b'"', pos)
        while quote >= 0 and self._escaped(chunk, pos, quote):
            quote = chunk.find(b'"', quote + 1)
        stop = len(chunk) if quote < 0 else quote
        text = chunk[pos:stop]
        if self._candidate and b"\\" in text:
            self._candidate = False
        if self._candidate and len(self.skeleton) - self._start + len(text) >= self.blob_min and self._to_blob(text):
            return stop  # the closing quote, if this chunk holds it, ends the blob
        self.skeleton += text
        if quote < 0:
            run = len(text) - len(text.rstrip(b"\\"))
            self._backslashes = self._backslashes + run if run == len(text) else run
            return stop
        self.skeleton.append(_QUOTE)
        self._in_string = False
        return quote + 1

    def _escaped(self, chunk: bytes, pos: int, quote: int) -> bool:
        first = quote
        while first > pos and chunk[first - 1] == _BACKSLASH:
            first -= 1
        run = quote - first + (self._backslashes if first == pos else 0)
        return run % 2 == 1

    def _to_blob(self, text: bytes) -> bool:
        head_and_text = bytes(self.skeleton[self._start:]) + text
        head = _DATA_URL_HEAD.match(head_and_text)
        decoding = _Decoding(head.group(0) if head else b"")
        if not decoding.feed(head_and_text[len(decoding.head):]):
            self._candidate = False
            return False
        del self.skeleton[self._start:]
        self._decoding = decoding
        return True

    async def payload(self) -> Any:
        """The parsed answer; the skeleton is emptied. A blob's pieces are joined off the loop."""
        if self._decoding is not None:  # the body ended inside a long string: not JSON
            self._write_back()
        for placeholder, pieces in self._pieces.items():
            self._blobs[placeholder].data = await off_loop(sum(map(len, pieces)), b"".join, pieces)
        self._pieces.clear()
        payload = parse(self.skeleton)
        return _with_blobs(payload, self._blobs) if self._blobs else payload


def parse(body: bytearray) -> Any:
    """The body's JSON, None when it is not JSON; the body is emptied first, so its bytes and its
    text are not held beside the parsed payload (json.loads decodes bytes to text first)."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except (UnicodeDecodeError, LookupError):
        return None
    finally:
        body.clear()
    try:
        return json.loads(text)
    except ValueError:
        return None


def _with_blobs(node: Any, blobs: dict[str, Base64Blob]) -> Any:
    if isinstance(node, str):
        return blobs.get(node, node)
    if isinstance(node, dict):
        for key, value in node.items():
            node[key] = _with_blobs(value, blobs)
    elif isinstance(node, list):
        node[:] = [_with_blobs(value, blobs) for value in node]
    return node
