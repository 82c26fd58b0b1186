"""exporter/common/blobs.py: an answer parsed as it streams in must parse to exactly what json.loads of the
whole body gives, whatever the chunking, with each long strict-base64 string already decoded."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random

import pytest

from exporter.common.blobs import BLOB_MIN, Base64Blob, StreamedJSON

RNG = random.Random(16)
IMAGE = bytes(RNG.getrandbits(8) for _ in range(3000))  # 4,000 base64 characters
B64 = base64.b64encode(IMAGE).decode()
B64_PADDED = base64.b64encode(IMAGE[:-1]).decode()  # ends in "="
SMALL_MIN = 256  # so the test documents stay small


def as_text(node):
    """The payload with every blob written back as the string it stood for."""
    if isinstance(node, Base64Blob):
        return node.head + base64.b64encode(node.data).decode()
    if isinstance(node, dict):
        return {k: as_text(v) for k, v in node.items()}
    if isinstance(node, list):
        return [as_text(v) for v in node]
    return node


def blobs_in(node) -> list[Base64Blob]:
    if isinstance(node, Base64Blob):
        return [node]
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [b for v in values for b in blobs_in(v)]


def chunkings(body: bytes):
    yield [body]
    yield [body[i:i + 1] for i in range(len(body))] if len(body) < 20_000 else [body[i:i + 7] for i in range(0, len(body), 7)]
    for seed in range(3):
        rng, pos, chunks = random.Random(seed), 0, []
        while pos < len(body):
            step = rng.randint(1, 900)
            chunks.append(body[pos:pos + step])
            pos += step
        yield chunks


def streamed(chunks, blob_min=SMALL_MIN):
    reader = StreamedJSON(blob_min)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.size, asyncio.run(reader.payload())


def gemini(data: str, extra: str = "") -> bytes:
    # the shape of tests/fixtures/upstream/gemini-generatecontent-image-success.json
    return ('{"candidates":[{"content":{"parts":[{"text":"Here is your banana.%s"},'
            '{"inlineData":{"mimeType":"image/png","data":"%s"}}]},"finishReason":"STOP"}],'
            '"usageMetadata":{"promptTokenCount":12}}' % (extra, data)).encode()


# document -> how many strings must come out as blobs
DOCUMENTS = {
    "gemini": (gemini(B64), 1),
    "gemini, padded": (gemini(B64_PADDED), 1),
    "data URL (OpenRouter)": (('{"choices":[{"message":{"images":[{"type":"image_url","image_url":'
                               '{"url":"data:image/png;base64,%s"}}]}}]}' % B64).encode(), 1),
    "two images": (('{"a":"%s","b":["%s"]}' % (B64, B64_PADDED)).encode(), 2),
    "pretty-printed": (json.dumps(json.loads(gemini(B64)), indent=2).encode(), 1),
    "escapes beside it": (gemini(B64, extra='\\" \\\\\\" \\\\ \\u00e9 \\n ' * 3 + "\\\\"), 1),
    "long escaped text": (('{"text":"%s","data":"%s"}' % ("a \\\"quoted\\\" \\\\ word " * 40, B64)).encode(), 1),
    "UTF-8 text and a BOM": (b"\xef\xbb\xbf" + ('{"t":"%s","d":"%s"}' % ("banane \u00e0 \u2603 " * 50, B64)).encode(), 1),
    # not strict base64: written back, so the dialect's own check decides as before
    "an escaped slash (PHP)": (gemini(B64.replace("/", "\\/")), 0),
    "line-wrapped base64": (gemini("\\n".join(B64[i:i + 76] for i in range(0, len(B64), 76))), 0),
    "padding in the middle": (gemini(B64[:2000] + "==" + B64[2000:]), 0),
    "a length not a multiple of 4": (gemini(B64 + "A"), 0),
    "URL-safe alphabet": (gemini(base64.urlsafe_b64encode(IMAGE).decode()), 0),
    "long plain text": (('{"text":"%s"}' % ("words and more words " * 100)).encode(), 0),
    "markdown with a data URL": (('{"content":"![image](data:image/png;base64,%s)"}' % B64).encode(), 0),
    "data URL of a non-image": (('{"url":"data:text/plain;base64,%s"}' % B64).encode(), 0),
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_streamed_answer_parses_as_the_whole_body_does(name):
    body, blob_count = DOCUMENTS[name]
    want = json.loads(body.decode("utf-8-sig"))
    for chunks in chunkings(body):
        size, got = streamed(chunks)
        assert size == len(body)
        assert as_text(got) == want
        assert len(blobs_in(got)) == blob_count


def test_a_blob_holds_what_a_strict_decode_gives():
    _, payload = streamed([gemini(B64)])
    blob = payload["candidates"][0]["content"]["parts"][1]["inlineData"]["data"]
    assert isinstance(blob, Base64Blob) and blob.head == "" and blob.data == IMAGE
    _, payload = streamed([DOCUMENTS["data URL (OpenRouter)"][0]])
    blob = payload["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert blob.head == "data:image/png;base64," and blob.data == IMAGE
    assert "bytes" in repr(blob) and B64[:20] not in repr(blob)  # never the whole image in a log line


@pytest.mark.parametrize("body", [
    gemini(B64)[:-10],  # cut short
    gemini(B64)[:2000],  # cut inside the image
    gemini(B64).replace(b'"data":', b'"data"'),
    b"<html>upstream error</html>",
    b"",
    gemini(B64) + b"{}",
    gemini(B64.replace("A", "\x01")),  # a control character inside a string
])
def test_what_is_not_json_stays_not_json(body):
    with pytest.raises(ValueError):
        json.loads(body.decode("utf-8", "replace"))
    for chunks in chunkings(body):
        assert streamed(chunks)[1] is None


def test_other_encodings_are_parsed_whole():
    body = json.dumps({"data": B64, "t": "\u2603"}).encode("utf-16")
    assert streamed([body[:3], body[3:]])[1] == {"data": B64, "t": "\u2603"}


def test_a_placeholder_cannot_be_forged_by_the_answer():
    forged = '{"x":"\\u0000deadbeefdeadbeef:0","d":"%s"}' % B64
    _, payload = streamed([forged.encode()])
    assert payload["x"] == "\x00deadbeefdeadbeef:0" and isinstance(payload["d"], Base64Blob)


def test_short_strings_stay_strings_at_the_default_size():
    body = gemini(B64)  # 4,000 characters: under BLOB_MIN
    assert len(B64) < BLOB_MIN
    assert streamed([body], BLOB_MIN)[1] == json.loads(body)


def test_a_4k_sized_answer_in_transport_chunks():
    image = RNG.randbytes(3 * 2**20)  # 4 MB of base64
    body = gemini(base64.b64encode(image).decode())
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]  # httpcore reads 64 KiB at a time
    size, payload = streamed(chunks, BLOB_MIN)
    assert size == len(body)
    assert payload["candidates"][0]["content"]["parts"][1]["inlineData"]["data"].data == image
    assert payload["usageMetadata"] == {"promptTokenCount": 12}


def test_the_written_back_text_is_the_text_that_came():
    # the decoded part of a string that stops being base64 is re-encoded: the same characters
    text = B64[:3000] + "!" + B64[3000:]
    assert binascii.b2a_base64(base64.b64decode(B64[:3000]), newline=False).decode() == B64[:3000]
    for chunks in chunkings(gemini(text)):
        assert streamed(chunks)[1]["candidates"][0]["content"]["parts"][1]["inlineData"]["data"] == text
