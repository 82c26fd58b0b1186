"""Reading an HTTP answer with a cap: the one way every client of the exporter does it (probes, the
openai SDK's transport, liveness checks, status sources; Google token requests and the report with
a whole-answer deadline too), so an upstream that sends gigabytes costs at most `cap` bytes of
memory and becomes a classified outcome, never an exhausted process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator

import httpx


class TooLarge(Exception):
    """The answer is larger than the cap; each caller classifies it in its own terms."""

    def __init__(self, cap: int):
        super().__init__(f"response body exceeds the {cap} byte cap")
        self.cap = cap


async def capped(chunks: AsyncIterable[bytes], cap: int) -> AsyncIterator[bytes]:
    """The chunks as they come, raising TooLarge once more than `cap` bytes have come."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise TooLarge(cap)
        yield chunk


async def body_chunks(response: httpx.Response, cap: int) -> AsyncIterator[bytes]:
    """The decoded body of a streamed response, chunk by chunk. A declared Content-Length above the
    cap is refused before anything is read."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap and "content-encoding" not in response.headers:
        raise TooLarge(cap)
    async for chunk in capped(response.aiter_bytes(), cap):
        yield chunk


async def read_capped(response: httpx.Response, cap: int) -> bytearray:
    """The decoded body of a streamed response in one buffer (see body_chunks)."""
    body = bytearray()
    async for chunk in body_chunks(response, cap):
        body += chunk
    return body


def read_by(response: httpx.Response, cap: int, deadline: float) -> bytearray:
    """The body of a streamed synchronous response, refusing more than `cap` bytes (TooLarge) and
    any of it after `deadline` (time.monotonic(); TimeoutError): httpx's timeout bounds each read,
    so an answer that trickles a byte a second would never end (issue 32)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap and "content-encoding" not in response.headers:
        raise TooLarge(cap)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > cap:
            raise TooLarge(cap)
        if time.monotonic() > deadline:
            raise TimeoutError
    return body
