"""The catalog against the live APIs: free listing calls, compared with exporter/models/catalog.py.

The catalog was right for the APIs as documented when it was written; the APIs move on (a model
retired early, a price changed, a new Nano Banana). This module asks the APIs themselves, with each
target's credentials, through calls that cost nothing:

- Gemini API: `GET {base}/v1beta/models` (models.list): which ids exist; a Gemini image id the
  catalog does not know is a new model. It lists no prices.
- Vertex AI: `GET {endpoint}/v1beta1/publishers/google/models/{model}` (publishers.models.get, Model
  Garden's entry): whether the id still exists. No prices, no list of new ids.
- OpenRouter (both dialects): `GET {base}/models?output_modalities=image` (the default list hides
  image models): ids, `pricing.prompt` / `pricing.completion` in USD per token, compared with the
  family's text rates; `supported_parameters`, compared with what a chat dialect sends (see
  LISTED_PARAMETERS). Its per-image `pricing.image` is the price of an input image (UNVERIFIED
  which), so image-token prices are not compared.
- OpenAI-style gateways: `GET {base}/models`: whether the id is listed; a Gemini image id the
  catalog does not know is a new model.

Dialects' request builders do no I/O (exporter/probing/dialects), nor does `compare`: recorded listings test
it directly (tests/fixtures/upstream/listings/). `check_catalog` does the calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from exporter.models import catalog
from exporter.probing.dialects import DIALECTS
from exporter.probing.dialects.base import Request
from exporter.domain.targets import Config, Series, Target

KINDS: tuple[str, ...] = ("gone", "price", "new_model", "parameter")  # the `kind` label of nanobanana_catalog_drift
PRICE_TOLERANCE = 0.05  # a live price more than 5 % off the catalog's is drift
MAX_BYTES = 8 * 1024 * 1024
OFFLINE_ENV = "NANOBANANA_CATALOG_CHECK"  # "off": --config.check compares nothing (the tests set it)


# The names OpenRouter's listing uses for what a model accepts: `supported_parameters` of the Model
# schema ("List of supported parameters for this model", items the `Parameter` enum) in its
# openapi.yaml (OpenRouterTeam/docs openapi/openapi.yaml, c26125a of 2026-08-22, seen 2026-12-06).
# The SDKs read it as an open enum, so a name any entry of a listing uses counts too. A field the
# vocabulary lacks (`modalities`, `image_config`, `messages`) is one the listing cannot speak of:
# not compared. The list describes the chat completions request: only chat dialects are compared
# (the Image API's own per-endpoint `supported_parameters` is another shape).
LISTED_PARAMETERS = frozenset((
    "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "max_tokens", "max_completion_tokens", "logit_bias", "logprobs", "top_logprobs",
    "prediction", "seed", "response_format", "structured_outputs", "stop", "tools", "tool_choice",
    "parallel_tool_calls", "include_reasoning", "reasoning", "reasoning_effort", "web_search_options", "verbosity"))


@dataclass(frozen=True)
class Drift:
    kind: str  # one of KINDS
    target: str
    model: str  # the configured model, or the new model's id
    catalog: str  # what the catalog says ("" for a new model)
    live: str  # what the API says
    field: str = ""  # price: which rate

    def describe(self) -> str:
        if self.kind == "gone":
            return f"model {self.model} (target {self.target}) is not listed by its API any more (catalog: {self.catalog})"
        if self.kind == "price":
            return (f"model {self.model} (target {self.target}): live {self.field} price {self.live} USD per 1M tokens, "
                    f"catalog {self.catalog}")
        if self.kind == "parameter":
            return (f"model {self.model} (target {self.target}): the request sends `{self.field}`, which the API's "
                    f"listing leaves out of the model's supported parameters")
        return f"the API of target {self.target} lists an image model the catalog does not know: {self.model}"


def sent_parameters(target: Target) -> set[str]:
    """The top-level fields the target's requests carry, over all its series (extra_body applied):
    built by the dialect itself, which does no I/O."""
    dialect = DIALECTS[target.api]
    return {field for resolution in target.resolutions for level in target.thinking_levels
            for field in dialect.build(Series(target, resolution, level), None, "").body or {}}


def accepted_parameters(target: Target, payload: Any) -> dict[str, bool]:
    """For each field a chat target sends that the listing's vocabulary names: whether the listing
    says the model accepts it. {} where the listing says nothing (no entry, no list, not a chat dialect)."""
    if not DIALECTS[target.api].listing.parameters or not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        return {}
    entries = [m for m in payload["data"] if isinstance(m, dict) and isinstance(m.get("supported_parameters"), list)]
    entry = next((m for m in entries if m.get("id") == target.model), None)
    if entry is None:
        return {}
    vocabulary = LISTED_PARAMETERS | {str(p) for m in entries for p in m["supported_parameters"]}
    accepted = {str(p) for p in entry["supported_parameters"]}
    return {field: field in accepted for field in sorted(sent_parameters(target) & vocabulary)}


def listing_request(target: Target, secret: str | None) -> Request | None:
    """The free call that lists what the target's API serves, or None for a dialect without one."""
    return DIALECTS[target.api].listing_request(target, secret)


def _stage(target: Target) -> str:
    entry = catalog.MODELS.get(target.model)
    if entry is None:
        return "not in the catalog"
    shutdown = entry.shutdown_on(target.api)
    return f"{entry.stage_on(catalog.today(), target.api)}" + (f", shutdown {shutdown}" if shutdown else "")


def _gemini_image_id(model_id: str) -> bool:
    return model_id.startswith(("gemini-", "google/gemini-")) and "image" in model_id


def compare(target: Target, status: int, payload: Any) -> list[Drift]:
    """What a listing answer says against the catalog, for one target (its dialect's `listing` says
    how the answer reads). A 404 on a lookup of the model (Vertex AI's) is `gone`; other
    non-2xx answers say nothing (the liveness check reports them)."""
    dialect = DIALECTS[target.api]
    listing = dialect.listing
    drifts: list[Drift] = []
    if listing.lookup:
        return [Drift("gone", target.name, target.model, _stage(target), f"404 from {listing.lookup}")] \
            if status == 404 else []
    if not 200 <= status < 300 or not isinstance(payload, dict):
        return []
    listed = dialect.listed(payload)
    if target.model not in listed and (target.model in catalog.MODELS or listing.complete):
        drifts.append(Drift("gone", target.name, target.model, _stage(target), "not in the list"))
    entry = listed.get(target.model)
    if entry is not None and listing.prices:
        family = target.family
        pricing = entry.get("pricing") if isinstance(entry.get("pricing"), dict) else {}
        for field, ours in (("prompt", family.usd_per_million_input_tokens), ("completion", family.usd_per_million_text_tokens)):
            live = _per_million(pricing.get(field))
            if live is not None and abs(live - ours) > PRICE_TOLERANCE * ours:
                drifts.append(Drift("price", target.name, target.model, f"{ours:g}", f"{live:g}", field))
    drifts += [Drift("parameter", target.name, target.model, "sent", "not supported", field)
               for field, ok in accepted_parameters(target, payload).items() if not ok]
    for model_id in sorted(listed):
        if model_id not in catalog.MODELS and _gemini_image_id(model_id) and model_id.startswith(listing.new_model_prefix):
            drifts.append(Drift("new_model", target.name, model_id, "", "listed"))
    return drifts


def _per_million(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number * 1e6, 6) if number >= 0 else None


@dataclass
class Report:
    drifts: list[Drift] = dataclasses.field(default_factory=list)
    compared: list[str] = dataclasses.field(default_factory=list)  # target names whose API answered
    unreachable: dict[str, str] = dataclasses.field(default_factory=dict)  # target name -> why
    # target name -> the text rates its API publishes, USD per 1M tokens by token kind (OpenRouter's)
    rates: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    # target name -> the sent fields its listing speaks of, and whether it says the model accepts each
    parameters: dict[str, dict[str, bool]] = dataclasses.field(default_factory=dict)


async def check_catalog(targets: Iterable[Target], client: httpx.AsyncClient, secret=None,
                        timeout: float = 10.0) -> Report:
    """Every target's listing, compared; one call per distinct listing URL and credential. `secret`:
    an async function of the target giving what its dialect sends (exporter.probing.credentials)."""
    report = Report()
    answers: dict[tuple[str, str | None], tuple[int, Any] | str] = {}
    for target in targets:
        try:
            async with asyncio.timeout(timeout):
                key = await secret(target) if secret else target.api_key
                request = listing_request(target, key)
                if request is None:
                    continue
                cache = (request.url, key)
                if cache not in answers:
                    answers[cache] = await _get(client, request)
        except (TimeoutError, httpx.HTTPError, OSError) as err:
            report.unreachable[target.name] = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            continue
        except Exception as err:  # credentials that fail: the liveness check says more
            report.unreachable[target.name] = f"{type(err).__name__}"
            continue
        status, payload = answers[cache]
        if status in (401, 403) or status >= 500:
            report.unreachable[target.name] = f"HTTP {status}"
            continue
        report.compared.append(target.name)
        report.drifts.extend(d for d in compare(target, status, payload) if d not in report.drifts)
        rates = live_rates(target, payload) if 200 <= status < 300 else {}
        if rates:
            report.rates[target.name] = rates
        parameters = accepted_parameters(target, payload) if 200 <= status < 300 else {}
        if parameters:
            report.parameters[target.name] = parameters
    return report


def live_rates(target: Target, payload: Any) -> dict[str, float]:
    """The text rates an OpenRouter listing publishes for the target's model: input from
    `pricing.prompt`, output and thinking from `pricing.completion` (USD per 1M tokens)."""
    if not DIALECTS[target.api].listing.prices or not isinstance(payload, dict):
        return {}
    entry = next((m for m in payload.get("data") or [] if isinstance(m, dict) and m.get("id") == target.model), None)
    pricing = entry.get("pricing") if isinstance(entry, dict) and isinstance(entry.get("pricing"), dict) else {}
    prompt, completion = _per_million(pricing.get("prompt")), _per_million(pricing.get("completion"))
    rates = {"input": prompt} if prompt is not None else {}
    return rates | ({"output": completion, "thinking": completion} if completion is not None else {})


async def _get(client: httpx.AsyncClient, request: Request) -> tuple[int, Any]:
    async with client.stream("GET", request.url, headers=request.headers) as response:
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                raise httpx.DecodingError(f"listing larger than {MAX_BYTES} bytes")
    try:
        return response.status_code, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return response.status_code, None


def config_check_lines(config: Config, timeout: float = 10.0) -> list[str]:
    """What `--config.check` prints about the catalog: the comparison when the APIs answer, and
    which could not be reached; never a failure (an offline check is still a valid check)."""
    if os.environ.get(OFFLINE_ENV, "").lower() == "off":
        return [f"catalog: not compared with the live APIs ({OFFLINE_ENV}=off)"]

    async def run() -> Report:
        from exporter.probing.credentials import Credentials

        credentials = Credentials()
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            return await check_catalog(config.targets, client, credentials.secret, timeout)

    try:
        report = asyncio.run(run())
    except Exception as err:  # noqa: BLE001 - an offline check never fails the config check
        return [f"catalog: not compared with the live APIs ({type(err).__name__})"]
    lines = [f"CATALOG DRIFT: {d.describe()}" for d in report.drifts]
    if report.compared:
        lines.insert(0, f"catalog: compared with the live APIs of {', '.join(report.compared)}: "
                        f"{len(report.drifts) or 'no'} difference{'s' if len(report.drifts) != 1 else ''}")
    for name, parameters in report.parameters.items():
        said = "; ".join(f"{field} {'accepted' if ok else 'NOT accepted'}" for field, ok in parameters.items())
        lines.append(f"catalog: target {name}: its API's listing says of the parameters sent: {said}")
    for name, why in report.unreachable.items():
        lines.append(f"catalog: the API of target {name} could not be reached ({why}): not compared")
    return lines


DAY = 86400.0


def catalog_watch(credentials=None) -> "CatalogWatch | None":
    """The running exporter's watch, or None when NANOBANANA_CATALOG_CHECK=off (the tests' default)."""
    if os.environ.get(OFFLINE_ENV, "").lower() == "off":
        return None
    return CatalogWatch(credentials)


class CatalogWatch:
    """The comparison in the running exporter: at start, after a reload that changes the targets, and
    then daily, with the liveness checks' credentials and TLS. Its report feeds the
    `nanobanana_catalog_*` families (exporter/exposition/metrics.py CATALOG_FAMILIES)."""

    def __init__(self, credentials=None, transport: httpx.AsyncBaseTransport | None = None, interval: float = DAY,
                 timeout: float = 30.0):
        from exporter import __version__
        from exporter.common import tls
        from exporter.probing.credentials import Credentials

        self.credentials = credentials or Credentials()
        self.interval, self.timeout = interval, timeout
        self.report: Report | None = None
        self.last_run: float | None = None  # wall clock of the last finished comparison
        self._targets: tuple[Target, ...] = ()
        self._task: asyncio.Task | None = None
        self._client = httpx.AsyncClient(verify=tls.client_context(), timeout=timeout, follow_redirects=False,
                                         transport=transport, headers={"User-Agent": f"nanobanana-exporter/{__version__}"})

    def apply(self, config: Config) -> None:
        """Compare now (and daily) when the targets' listings changed; keep the schedule otherwise."""
        targets = tuple(config.targets)
        specs = [(t.name, t.api, t.base_url, t.model, t.api_key, t.google) for t in targets]
        if self._task is not None and specs == [(t.name, t.api, t.base_url, t.model, t.api_key, t.google)
                                                for t in self._targets]:
            return
        self._targets = targets
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="catalog drift")

    async def _loop(self) -> None:
        import logging
        import time

        log = logging.getLogger(__name__)
        while True:
            try:
                report = await check_catalog(self._targets, self._client, self.credentials.secret, self.timeout)
            except Exception as err:  # noqa: BLE001 - a bug of ours must not end the daily check
                log.error("catalog drift check raised unexpectedly: %r", type(err).__name__)
            else:
                self.report, self.last_run = report, time.time()
                for d in report.drifts:
                    log.info("catalog drift", extra={"kind": d.kind, "target": d.target, "model": d.model,
                                                     "catalog": d.catalog, "live": d.live})
            await asyncio.sleep(self.interval)

    def rates_for(self, target: Target) -> dict[str, float]:
        """The live text rates of a target that opted in (`price: {live: true}`); {} otherwise."""
        if not target.price.live or self.report is None:
            return {}
        return self.report.rates.get(target.name, {})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()


# --- the maintainer's command: the drift as a patch of exporter/models/catalog.py --------------------------

CATALOG_FILE = "exporter/models/catalog.py"
_FAMILY_VARS = {"nano-banana-pro": "PRO", "nano-banana-2": "FLASH_2", "nano-banana-2.1": "FLASH_21",
                "nano-banana-2-lite": "FLASH_2_LITE", "nano-banana": "FLASH"}
_RATES = {"prompt": "usd_per_million_input_tokens", "completion": "usd_per_million_text_tokens"}


def _guess_family(model_id: str) -> str:
    """A new id's family by its name, for the maintainer to check: the catalog's variable name."""
    name = model_id.lower()
    if "lite" in name:
        return "FLASH_2_LITE"
    if "pro" in name:
        return "PRO"
    return "FLASH_21"  # the newest Flash: the likeliest shape of a new Nano Banana


def catalog_patch(source: str, drifts: list[Drift], day: str) -> str:
    """exporter/models/catalog.py's text with the drifts applied: live rates written into the family (one
    family, several targets: the first figure), new ids added with a guessed family, vanished ids
    marked; each edit commented with the day. Returns the new text."""
    import re

    lines = source.splitlines(keepends=True)
    done: set[tuple[str, str, str]] = set()
    for d in drifts:
        if d.kind == "price":
            family = catalog.family_of(d.model)
            var = _FAMILY_VARS.get(family.name)
            if var is None or (var, d.field, "") in done:
                continue
            done.add((var, d.field, ""))
            start = next(i for i, line in enumerate(lines) if line.startswith(f"{var} = Family("))
            end = next(i for i in range(start, len(lines)) if lines[i].startswith(")"))
            for i in range(start, end):
                if _RATES[d.field] in lines[i]:
                    lines[i] = re.sub(rf"{_RATES[d.field]}=[0-9.]+", f"{_RATES[d.field]}={d.live}", lines[i])
                    lines.insert(i, f"    # {day}: {d.field} rate {d.catalog} -> {d.live} per OpenRouter's live listing\n")
                    break
        elif d.kind == "new_model" and ("new", d.model, "") not in done:
            done.add(("new", d.model, ""))
            end = max(i for i, line in enumerate(lines) if line.startswith(")}"))
            lines.insert(end, f'    Model("{d.model}", {_guess_family(d.model)}, "ga", source="listed by the API on {day}; '
                              f'family GUESSED from the id: check"),\n')
        elif d.kind == "gone" and ("gone", d.model, "") not in done:
            done.add(("gone", d.model, ""))
            index = next((i for i, line in enumerate(lines) if line.lstrip().startswith(f'Model("{d.model}",')), None)
            if index is not None:
                lines.insert(index, f"    # {day}: not listed by the API of target {d.target} any more: set its shutdown "
                                    f"date (and successor)\n")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m exporter.background.drift [--config.file F]`: the catalog's drift against the live APIs as a
    patch a maintainer applies with `git apply` (or `patch -p1`). Without a config: OpenRouter's public
    listing for the catalog's slugs, and the Gemini API with GEMINI_API_KEY when it is set."""
    import argparse
    import difflib
    import sys
    from pathlib import Path

    from exporter.loading.config import load_file

    parser = argparse.ArgumentParser(prog="python -m exporter.background.drift", description=main.__doc__)
    parser.add_argument("--config.file", dest="config_file", help="compare through these targets instead")
    args = parser.parse_args(argv)
    if args.config_file:
        targets = list(load_file(args.config_file).targets)
    else:
        import yaml

        from exporter.loading.config import load_text

        raw = [{"name": "openrouter", "api": "openrouter", "model": next(m for m in catalog.MODELS if m.startswith("google/"))}]
        if os.environ.get("GEMINI_API_KEY"):
            raw.append({"name": "gemini", "api": "gemini", "model": "gemini-3-pro-image", "api_key_env": "GEMINI_API_KEY"})
        targets = list(load_text(yaml.safe_dump({"targets": raw}), "<catalog>").targets)
        # every slug of the catalog, compared through OpenRouter's one listing
        targets += [dataclasses.replace(targets[0], name="openrouter", model=m, family=catalog.family_of(m))
                    for m in catalog.MODELS if m.startswith("google/") and m != targets[0].model]

    async def run() -> Report:
        from exporter.probing.credentials import Credentials

        async with httpx.AsyncClient(timeout=30, follow_redirects=False) as client:
            return await check_catalog(targets, client, Credentials().secret, 30)

    report = asyncio.run(run())
    for name, why in report.unreachable.items():
        print(f"# not compared: target {name}: {why}", file=sys.stderr)
    for d in report.drifts:
        print(f"# {d.describe()}", file=sys.stderr)
    path = Path(catalog.__file__)
    before = path.read_text()
    known_gone = [m for m, e in catalog.MODELS.items() if e.stage_on(catalog.today()) == "shutdown"]
    after = catalog_patch(before, [d for d in report.drifts if d.kind != "gone" or d.model not in known_gone],
                          str(catalog.today()))
    sys.stdout.writelines(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                               f"a/{CATALOG_FILE}", f"b/{CATALOG_FILE}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
