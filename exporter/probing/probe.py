"""One probe: one HTTP attempt (plus the image download a URL answer needs), timed by phase,
bounded by a hard deadline, ending in exactly one classified outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import httpx
from PIL import Image, UnidentifiedImageError

from exporter.common import aio, tls
from exporter.common.blobs import StreamedJSON
from exporter.common.bodies import TooLarge, body_chunks, capped
from exporter.probing.credentials import Credentials
from exporter.probing.dialects import DIALECTS
from exporter.probing.dialects.base import Answer, Dialect, ProbeFailure, classify_error, error_in_body
from exporter.probing.openai_sdk import SDK
from exporter.contract.outcomes import Outcome
from exporter.models.sizes import size_problem
from exporter.domain.state import PHASES, Attempt
from exporter.domain.targets import Series

log = logging.getLogger(__name__)

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
THUMBNAIL_PIXELS = 96  # the landing page's picture of what the probe saw: a few KB per series
# A PNG decodes in full before it shrinks (a 4K image is ~50 MB of pixels): one thumbnail at a
# time, on its own thread, and at most one per series in this many seconds.
THUMBNAIL_EVERY = 60.0
# The largest image a thumbnail decodes: twice 4K's 4096x4096. The header says the size before any
# pixel is decoded; a 13000x13000 PNG of 657 KB (under Pillow's bomb threshold) took 1,350 MB (issue 32).
THUMBNAIL_MAX_PIXELS = 2 * 4096 * 4096


def _trim() -> None:
    """Hand freed memory back to the system: glibc keeps a decoded image's pages in the thread's
    arena (+50 MiB RSS after one 4K thumbnail, measured); elsewhere nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def thumbnail(data: bytes) -> bytes:
    """A small JPEG of an image that decodes, b"" when it does not or is too large to decode (the
    outcome already says why); never raises, not even MemoryError, so the attempt is always kept."""
    try:
        return _thumbnail(data)
    except MemoryError:
        log.warning("no thumbnail: out of memory decoding the image", extra={"image_bytes": len(data)})
        return b""
    finally:
        _trim()


def _thumbnail(data: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size  # read from the header: nothing decoded yet
            if width * height > THUMBNAIL_MAX_PIXELS:
                return b""
            image.draft("RGB", (THUMBNAIL_PIXELS * 2, THUMBNAIL_PIXELS * 2))  # JPEG: decode at a fraction
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=70)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return b""


class PhaseTimer:
    """Collects phase durations from httpx's `trace` extension, summed over every request of a probe.

    connect = connect_tcp (DNS included), tls = start_tls, processing = request headers sent ->
    response headers received, transfer = response body read, less the decode work done between its
    chunks (decoded_in_transfer). A reused connection has no connect or tls phase.
    """

    _PHASE_OF = {
        "connection.connect_tcp": "connect",
        "connection.start_tls": "tls",
        "http11.receive_response_body": "transfer",
        "http2.receive_response_body": "transfer",
    }

    def __init__(self) -> None:
        self.phases = dict.fromkeys(PHASES, 0.0)
        self._started: dict[str, float] = {}
        self._decoding = 0.0  # decode seconds inside the current transfer phase

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] += seconds

    def decoded_in_transfer(self, seconds: float) -> None:
        """Decode work done between body chunks: decode's time, taken out of the transfer it spans."""
        self.phases["decode"] += seconds
        self._decoding += seconds

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        name, _, stage = event.rpartition(".")
        if name.endswith("send_request_headers") and stage == "started":
            self._started["processing"] = now
        elif name.endswith("receive_response_headers") and stage != "started":
            self._finish("processing", now)
        elif name in self._PHASE_OF:
            phase = self._PHASE_OF[name]
            if stage == "started":
                self._started[phase] = now
            else:  # complete or failed
                self._finish(phase, now)

    def _finish(self, phase: str, now: float) -> None:
        started = self._started.pop(phase, None)
        if started is not None:
            spent, self._decoding = (self._decoding, 0.0) if phase == "transfer" else (0.0, self._decoding)
            self.phases[phase] += max(0.0, now - started - spent)


def judge(data: bytes, series: Series, served_model: str, prompt: str) -> dict[str, tuple[str, str]]:
    """The image checks' verdicts (exporter/probing/imagechecks.py) as (verdict, why) per check; on a worker
    thread (it decodes the image in full), numpy imported on the first image."""
    from exporter.probing import imagechecks
    try:
        target = series.target
        family = target.family if target.family.name != "unknown" else None
        verdicts = imagechecks.check_image(data, target.model, served_model, prompt, target.image_checks, family)
        return {check: (v.verdict, v.why) for check, v in verdicts.items()}
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return {check: ("unchecked", f"image does not decode in full: {err}"[:200]) for check in imagechecks.CHECKS}
    finally:
        _trim()


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) of a decodable PNG, JPEG or WebP image, else bad_image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format or "", image.size
            if fmt == "JPEG":  # verify() does not read JPEG data; a DCT-scaled load reads all of it, fast
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
            else:
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ProbeFailure(Outcome.BAD_IMAGE, f"image does not decode: {err}") from None
    if fmt not in IMAGE_FORMATS:
        raise ProbeFailure(Outcome.BAD_IMAGE, f"image is {fmt}, expected PNG, JPEG or WebP")
    return fmt, width, height


# The probe a request belongs to (its phase timer and body cap), for requests the probe does not
# build itself: the openai SDK's. Each probe runs in its own task, so each sees its own.
_CURRENT: contextvars.ContextVar[tuple[PhaseTimer, int] | None] = contextvars.ContextVar("probe", default=None)


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, cap: int):
        self.stream, self.cap = stream, cap

    async def __aiter__(self):
        try:
            async for chunk in capped(self.stream, self.cap):
                yield chunk
        except TooLarge as err:
            raise ProbeFailure(Outcome.BAD_RESPONSE, str(err)) from None

    async def aclose(self) -> None:
        await self.stream.aclose()


class CappingTransport(httpx.AsyncBaseTransport):
    """Caps every response body of a probe as it streams in, whoever reads it (the SDK reads error
    bodies whole before raising)."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        current = _CURRENT.get()
        if current is not None:
            response.stream = _CappedStream(response.stream, current[1])
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# While a probe downloads an image URL its answer gave: why a URL (the first, or one a redirect leads
# to) must not be fetched, or None. Set by the probe, read by the client's request hook.
_IMAGE_URL_CHECK: contextvars.ContextVar[Callable[[httpx.URL], str | None] | None] = contextvars.ContextVar(
    "image_url_check", default=None)


def image_url_problem(policy: str, base_url: str, url: httpx.URL) -> str | None:
    """Why `url` must not be downloaded under a target's `image_urls` policy, else None: `same_host`
    takes only the base_url's host, `https` (the default) that host or any https URL, `any` every
    http(s) URL. An answer could name any address the exporter can reach (issue 32)."""
    if url.scheme not in ("http", "https"):
        return f"image URL scheme {url.scheme!r} is not http(s)"
    if policy == "any" or url.host == httpx.URL(base_url).host or (policy == "https" and url.scheme == "https"):
        return None
    wanted = "the base_url's host" if policy == "same_host" else "the base_url's host or https"
    return f"image URL {url.scheme}://{url.host} refused: image_urls: {policy} takes {wanted}"


async def _image_url_allowed(request: httpx.Request) -> None:
    check = _IMAGE_URL_CHECK.get()
    problem = check(request.url) if check is not None else None
    if problem:
        raise ProbeFailure(Outcome.BAD_RESPONSE, problem)


async def _traced(request: httpx.Request) -> None:
    current = _CURRENT.get()
    if current is not None and "trace" not in request.extensions:
        request.extensions["trace"] = current[0].trace


class Prober:
    """Runs probes for one target over one HTTP client (no keep-alive: every probe measures a
    fresh connection, DNS and TLS included, as a new client of the API would see it)."""

    def __init__(self, redact: Callable[[str], str] = str, transport: httpx.AsyncBaseTransport | None = None,
                 credentials: Credentials | None = None):
        self.redact = redact
        # the redactor learns every access token as it is issued
        self.credentials = credentials or Credentials(getattr(redact, "learn", None))
        no_keepalive = httpx.Limits(max_keepalive_connections=0)
        self.client = httpx.AsyncClient(
            verify=tls.client_context(),
            limits=no_keepalive,
            timeout=None,  # the probe's own deadline bounds everything
            follow_redirects=False,
            transport=CappingTransport(transport or httpx.AsyncHTTPTransport(verify=tls.client_context(), limits=no_keepalive)),
            event_hooks={"request": [_traced, _image_url_allowed]},
        )
        self.sdk = SDK(self.client)
        self._thumbnails = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnail")
        self._thumbnailed: dict[tuple[str, ...], float] = {}  # series key -> monotonic time of its last thumbnail

    async def aclose(self) -> None:
        await self.client.aclose()
        self._thumbnails.shutdown(wait=False, cancel_futures=True)

    async def _thumbnail(self, series: Series, image: bytes | None) -> bytes:
        now = time.monotonic()
        if not image or now - self._thumbnailed.get(series.key, float("-inf")) < THUMBNAIL_EVERY:
            return b""
        self._thumbnailed[series.key] = now
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thumbnails, thumbnail, image)
        except RuntimeError:  # the executor shut down (the prober closed): the attempt is kept without one
            return b""

    async def probe(self, series: Series, prompt: str | None = None) -> Attempt:
        """One attempt with `prompt` (the target's first prompt when None)."""
        started_wall, started = time.time(), time.perf_counter()
        timer = PhaseTimer()
        result: dict[str, Any] = {}
        try:
            async with asyncio.timeout(series.timeout):
                secret = await self.credentials.secret(series.target)  # a key, or a (refreshed) token
                if DIALECTS[series.target.api].openai_sdk_call:
                    await self.sdk.ready()
                started_wall, started = time.time(), time.perf_counter()  # the model's time, not the token's
                await self._attempt(series, prompt or series.target.prompts[0], secret, timer, result)
            outcome, message = Outcome.SUCCESS, ""
        except ProbeFailure as failure:
            outcome, message = failure.outcome, failure.message
        except (TimeoutError, httpx.TimeoutException):
            outcome, message = Outcome.TIMEOUT, f"no complete answer within {series.timeout:g}s"
        except httpx.DecodingError as err:
            outcome, message = Outcome.BAD_RESPONSE, f"cannot decode the response body: {err}"
        except httpx.TooManyRedirects as err:
            outcome, message = Outcome.CLIENT_ERROR, str(err)
        except (httpx.TransportError, OSError) as err:
            outcome, message = Outcome.NETWORK_ERROR, f"{type(err).__name__}: {err}"
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a bug of ours must not kill the series; classify and log it
            log.error("probe raised unexpectedly: %s", self.redact(repr(err)), exc_info=False)
            outcome, message = Outcome.BAD_RESPONSE, f"unexpected {type(err).__name__}: {err}"
        duration = time.perf_counter() - started
        image = result.pop("image", None)
        verdicts: dict[str, tuple[str, str]] = {}
        served_model, served_provider = result.get("served", ("", ""))
        if outcome is Outcome.SUCCESS and image and series.target.image_checks:  # after the timing, off the loop
            verdicts = await asyncio.get_running_loop().run_in_executor(
                self._thumbnails, judge, image, series, served_model, prompt or series.target.prompts[0])
            if verdicts.get("blank", ("", ""))[0] == "fail":  # a blank frame is a broken image, not a picture
                outcome, message = Outcome.BAD_IMAGE, f"image is blank: {verdicts['blank'][1]}"
        small = await self._thumbnail(series, image)  # after the timing: not part of the probe
        return Attempt(
            started=started_wall,
            outcome=outcome,
            duration=duration,
            phases=dict(timer.phases),
            response_bytes=result.get("response_bytes", 0),
            image_bytes=result.get("image_bytes", 0),
            image_size=result.get("image_size", ""),
            usage=result.get("usage", {}),
            response_model=result.get("response_model", ""),
            message=self.redact(message)[:500],
            thumbnail=small,
            verdicts=verdicts,
            served_model=served_model,
            served_provider=served_provider,
        )

    async def _attempt(self, series: Series, prompt: str, secret: str | None, timer: PhaseTimer,
                       result: dict[str, Any]) -> None:
        dialect = DIALECTS[series.target.api]
        request = dialect.build(series, secret, prompt)
        request.headers.update(self.credentials.headers(series.target))
        cap = series.target.max_response_bytes
        _CURRENT.set((timer, cap))
        if dialect.openai_sdk_call:  # as the teams' applications call their gateways
            status, payload, content_type, result["response_bytes"] = await self.sdk.call(
                dialect.openai_sdk_call, series.target.base_url, secret, request, series.timeout)
            decode_started = time.perf_counter()  # the SDK parsed while reading: its time is transfer's
        else:  # the answer is parsed as it streams in (exporter/common/blobs.py): a 4K image never stalls the loop
            streamed = StreamedJSON()
            status, content_type = await self._fetch(
                "POST", request.url, timer, cap, streamed.feed, headers=request.headers, json=request.body
            )
            result["response_bytes"] = streamed.size
            decode_started = time.perf_counter()
            payload = await streamed.payload()
            del streamed
        try:
            answer = read_answer(dialect, status, payload, content_type, result)
        finally:
            del payload
        timer.add("decode", time.perf_counter() - decode_started)
        result["served"] = (answer.model, answer.provider)
        image = answer.image
        if image is None and answer.image_url:
            download = bytearray()
            t = series.target
            allowed = _IMAGE_URL_CHECK.set(lambda url: image_url_problem(t.image_urls, t.base_url, url))
            try:
                status, _ = await self._fetch("GET", answer.image_url, timer, cap, download.extend, follow_redirects=True)
            finally:
                _IMAGE_URL_CHECK.reset(allowed)
            image = download
            if not 200 <= status < 300:
                raise download_error(status)
        decode_started = time.perf_counter()
        result["image_bytes"] = len(image or b"")
        fmt, width, height = await aio.off_loop(len(image or b""), inspect_image, image or b"")
        result["image_size"] = f"{width}x{height} {fmt.lower()}"
        result["image"] = image  # decodable: the landing page shows it, wrong size or not
        problem = size_problem(width, height, series.resolution, series.target.aspect_ratio, series.target.family)
        timer.add("decode", time.perf_counter() - decode_started)
        if problem:
            raise ProbeFailure(Outcome.BAD_IMAGE, problem)

    async def _fetch(self, method: str, url: str, timer: PhaseTimer, cap: int, into: Callable[[bytes], None],
                     **kwargs: Any) -> tuple[int, str]:
        """(status, content type); the body goes to `into` chunk by chunk. Time spent in `into` is
        decode time, not transfer time (httpcore's body phase spans the whole iteration)."""
        extensions = {"trace": timer.trace}
        async with self.client.stream(method, url, extensions=extensions, **kwargs) as response:
            try:
                async for chunk in body_chunks(response, cap):
                    fed = time.perf_counter()
                    into(chunk)
                    timer.decoded_in_transfer(time.perf_counter() - fed)
            except TooLarge as err:
                raise ProbeFailure(Outcome.BAD_RESPONSE, str(err)) from None
            return response.status_code, response.headers.get("content-type", "")


def download_error(status: int) -> ProbeFailure:
    """A failed download of the image URL an answer gave. No key is sent there, so its 401 or 403 is
    no verdict on the target's key (it was classed auth_error and fired the key alert, issue 32)."""
    if status == 429:
        return ProbeFailure(Outcome.RATE_LIMITED, f"image download answered HTTP {status}")
    if status >= 500:
        return ProbeFailure(Outcome.SERVER_ERROR, f"image download answered HTTP {status}")
    return ProbeFailure(Outcome.BAD_RESPONSE, f"image download answered HTTP {status}: the answer's image URL is unusable")


def read_answer(dialect: Dialect, status: int, payload: Any, content_type: str, result: dict[str, Any]) -> Answer:
    """An upstream answer (its status and parsed JSON, None when it is not JSON) as an image to
    check, or ProbeFailure with its outcome; the usage it reports goes to result["usage"], even for
    an answer that fails (a blocked or text-only answer may still be billed)."""
    if not 200 <= status < 300:
        raise classify_error(status, payload)
    if payload is None:
        raise ProbeFailure(Outcome.BAD_RESPONSE, f"answer is not valid JSON ({content_type or 'no content type'})")
    if not isinstance(payload, dict):
        raise ProbeFailure(Outcome.BAD_RESPONSE, "answer is JSON but not an object")
    result["usage"] = dialect.usage(payload)
    result["response_model"] = dialect.response_model(payload)
    failure = error_in_body(payload)
    if failure is not None:
        raise failure
    return dialect.parse(payload)
