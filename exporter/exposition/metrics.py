"""The metrics contract: every probe metric family, built fresh on each scrape from the store.

Values come from the background prober, not from the scrape: scraping never triggers a probe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from itertools import accumulate

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from exporter import __version__
from exporter.models import catalog
from exporter.domain.budget import Budget
from exporter.domain.targets import SERIES_LABELS
from exporter.background.checks import Checker
from exporter.common.metric_families import Collector, Table, counter, gauge, histogram
from exporter.contract.outcomes import Outcome
from exporter.domain.state import DURATION_BUCKETS, LATENESS_BUCKETS, STATUS_LAG_BUCKETS, Store
from exporter.status.collector import StatusCollector
from exporter.exposition.text_format import Encodable, TextCache

_BG = "Values come from the background prober"


# The per-series families, each row's labels following the series labels. The contract: dashboards,
# alerts, docs and tests read this table.
FAMILIES = Table(
    histogram("nanobanana_probe_duration_seconds", f"Duration of successful probes, request start to verified image. {_BG}.", ()),
    counter("nanobanana_probes", f"Probe attempts by outcome. {_BG}.", ("outcome",)),
    gauge("nanobanana_probe_success", f"1 if the last probe that was not rate limited succeeded, else 0. {_BG}.", ()),
    gauge("nanobanana_probe_consecutive_failures", f"Failed probes in a row; rate-limited probes neither reset nor extend it. {_BG}.", ()),
    gauge("nanobanana_probe_consecutive_slow", f"Successful probes in a row slower than the series' latency threshold; a failure resets it. {_BG}.", ()),
    gauge("nanobanana_probe_last_run_timestamp_seconds", f"When the last probe finished. {_BG}.", ()),
    # the alerts name it; the error text itself (unbounded) is on the landing page, never a label
    gauge("nanobanana_probe_last_outcome", f"1, labelled with the outcome of the last probe (only that one). {_BG}.", ("outcome",)),
    gauge("nanobanana_probe_last_success_timestamp_seconds", f"When the last successful probe finished. {_BG}.", ()),
    gauge("nanobanana_probe_phase_duration_seconds", f"Time spent in each phase of the last probe. {_BG}.", ("phase",)),
    counter("nanobanana_probe_phase_seconds", f"Time spent in each phase, summed over all probes. {_BG}.", ("phase",)),
    gauge("nanobanana_probe_response_bytes", f"Size of the last probe's response body. {_BG}.", ()),
    gauge("nanobanana_probe_image_bytes", f"Size of the last probe's image file. {_BG}.", ()),
    counter("nanobanana_probe_tokens", f"Tokens reported by the API's usage fields. {_BG}.", ("kind",)),
    gauge("nanobanana_probe_interval_seconds", "Configured probe interval.", ()),
    gauge("nanobanana_probe_timeout_seconds", "Configured probe timeout.", ()),
    counter("nanobanana_probe_skipped", f"Probes not run when due, by reason. {_BG}.", ("reason",)),
    counter("nanobanana_probe_cost_usd", f"Estimated spend of finished probes in USD at the configured prices; failed attempts cost what "
        f"the price's `failed` rule says. {_BG}.", ()),
    gauge("nanobanana_probe_price_usd", "Configured estimated price of one successful probe in USD.", ()),
    counter("nanobanana_probe_confirmations", f"Probes run early, off the regular schedule, to confirm a failure: reason failure (a paid probe "
        f"failed), liveness (a free check failed), slow (a successful probe slower than its latency threshold), status (an "
        f"official incident appeared), uptime (OpenRouter's uptime of the model fell) or canary (canary calls failed "
        f"in a row). They count in nanobanana_probes_total too. {_BG}.", ("reason",)),
    # the image checks (exporter/probing/imagechecks.py, docs/image-checks.md): verdicts beside the outcome
    counter("nanobanana_image_checks", f"Images judged by each image check, passed or failed (an unchecked image is not counted). {_BG}.",
        ("check",)),
    counter("nanobanana_image_check_failures", f"Images that failed each image check. {_BG}.", ("check",)),
    gauge("nanobanana_image_check_passed", f"1 if the last image judged by the check passed it, 0 if it failed; absent while the check has not "
        f"judged an image. {_BG}.", ("check",)),
    gauge("nanobanana_image_check_consecutive_failures", f"Images in a row that failed the check; an unchecked image neither resets nor extends it. {_BG}.",
        ("check",)),
    gauge("nanobanana_probe_served_model_info", f"The model the last answer said served it (Gemini's modelVersion, the OpenAI-style `model`); "
        f"absent while no answer named one; always 1. {_BG}.", ("served_model",)),
    gauge("nanobanana_probe_served_provider_info", f"The provider a router said served the last answer (OpenRouter's `provider`); always 1. {_BG}.",
        ("provider",)),
    base=SERIES_LABELS)

# The background checks (exporter.background.checks): one series per target, each kind its own outcome list.
CHECK_LABELS = ("target", "api", "model")


def check_families(kind: str, what: str, *more) -> Table:
    """The families every kind of check has, `nanobanana_<kind>_*`, and its own (`more`)."""
    bg = f"Values come from the background {kind} checker"
    return Table(
        counter(f"nanobanana_{kind}_checks", f"{what} by outcome. {bg}.", ("outcome",)),
        gauge(f"nanobanana_{kind}_outcome", f"1 for the outcome of the last {kind} check, 0 for the others. {bg}.", ("outcome",)),
        gauge(f"nanobanana_{kind}_success", f"1 if the last {kind} check succeeded, else 0. {bg}.", ()),
        gauge(f"nanobanana_{kind}_consecutive_failures", f"Failed {kind} checks in a row; rate-limited ones neither reset nor extend it. {bg}.", ()),
        gauge(f"nanobanana_{kind}_duration_seconds", f"Duration of the last {kind} check. {bg}.", ()),
        gauge(f"nanobanana_{kind}_last_run_timestamp_seconds", f"When the last {kind} check finished. {bg}.", ()),
        gauge(f"nanobanana_{kind}_last_success_timestamp_seconds", f"When the last successful {kind} check finished. {bg}.", ()),
        gauge(f"nanobanana_{kind}_interval_seconds", f"Configured {kind} check interval.", ()),
        *more, base=CHECK_LABELS)


LIVENESS_FAMILIES = check_families("liveness", "Free liveness checks (metadata calls)")
_CC = "Values come from the background canary checker"
CANARY_FAMILIES = check_families(
    "canary", "Canary calls (a paid text-only generation on the image model)",
    counter("nanobanana_canary_cost_usd", f"Estimated spend of canary calls in USD, from the tokens the answers report. {_CC}.", ()),
    counter("nanobanana_canary_tokens", f"Tokens reported by the canary answers' usage fields. {_CC}.", ("kind",)),
    counter("nanobanana_canary_skipped", f"Canary calls not run when due, by reason (budget, maintenance). {_CC}.", ("reason",)))
CHECK_FAMILIES = {"liveness": LIVENESS_FAMILIES, "canary": CANARY_FAMILIES}

# The catalog against the live APIs (exporter.background.drift.CatalogWatch): at start and daily
_CW = "Values come from the daily catalog comparison: free model listing calls to each API"
CATALOG_FAMILIES = Table(
    gauge("nanobanana_catalog_drift", f"Differences between the model catalog and the live APIs, by kind: gone (a configured model the "
                 f"API no longer lists), price (a live rate more than 5 % off the catalog's), new_model (an image "
                 f"model the catalog does not know), parameter (a request field the listing says the model does not accept). "
                 f"{_CW}.", ("kind",)),
    gauge("nanobanana_catalog_drift_info", f"One difference: the target and model, its kind, the rate (price) or request field (parameter) it "
                 f"concerns, the catalog's and the live value; always 1. {_CW}.", ("target", "model", "kind", "field", "catalog", "live")),
    gauge("nanobanana_catalog_last_check_timestamp_seconds", f"When the last comparison finished (the targets whose API did not answer were skipped). {_CW}.", ()))

# Daily budgets (exporter.domain.budget): scope is "global" or "target:<name>".
BUDGET_FAMILIES = Table(
    gauge("nanobanana_budget_limit_usd", "Configured daily spend limit in USD, where one is set.", ("scope",)),
    gauge("nanobanana_budget_spent_usd", "Estimated spend of paid probes this budget day in USD; kept across restarts, 0 when the day "
                 "starts.", ("scope",)),
    gauge("nanobanana_budget_exhausted", "1 while the scope's daily limit is reached and its paid probes pause until the day ends.", ("scope",)),
    gauge("nanobanana_budget_day_end_timestamp_seconds", "When the current budget day ends (midnight in the configured time zone).", ()))
# The catalog entries of the probed models (exporter/models/catalog.py): one series per model id and api
# (lifecycle dates are per platform: Model.shutdown_on).
MODEL_FAMILIES = Table(
    gauge("nanobanana_model_info", "A probed model id on an api, its family (the catalog's, or the target's family:) and its stage "
                 "today on that api (preview, ga, deprecated, shutdown; unknown for ids the catalog does not know); "
                 "always 1.", ("model", "api", "family", "stage")),
    gauge("nanobanana_model_shutdown_timestamp_seconds", "Announced shutdown of a probed model id on an api, where one is announced: the platform's own "
                 "date where the catalog has one (Vertex AI's), else Google's (the earliest possible).",
        ("model", "api")))
# The exporter's own: its version and its scheduler, and how late the status pages are.
EXPORTER_FAMILIES = Table(
    gauge("nanobanana_exporter_build_info", "Version of nanobanana-exporter; always 1.", ("version",)),
    histogram("nanobanana_exporter_schedule_lateness_seconds",
              "How late the scheduler started probes: actual start minus due time. Growing values mean a busy event loop."),
    histogram("nanobanana_status_page_lag_seconds",
              "Per official incident: time from the first failing probe of the current failure streak of an affected "
              "series to the incident's first appearance in the status feed. Not observed when no affected series fails.",
              ("source",)))
TASKS_FAMILIES = Table(
    gauge("nanobanana_exporter_asyncio_tasks",
          "Unfinished asyncio tasks in the exporter's event loop (one per series, one per probe in flight, the HTTP "
          "server's); growing with a steady config means a leak."))


class ProbeCollector(Collector):
    """The per-series families (FAMILIES), the exporter's own and the probed models'.
    `series_families=False` leaves FAMILIES out of collect() (describe() still declares them): a
    scrape renders them with render() (make_registry then renders the CheckCollectors' too)."""

    families = FAMILIES | EXPORTER_FAMILIES | MODEL_FAMILIES

    def __init__(self, store: Store, series_families: bool = True):
        self.store = store
        self.series_families = series_families
        self._text = TextCache(FAMILIES, self.fill_series)

    def collect(self):
        for family in super().collect():
            if self.series_families or family.name not in FAMILIES:
                yield family

    def fill(self, f) -> None:
        if self.series_families:
            self.fill_series(f)
        f["nanobanana_exporter_build_info"].add_metric([__version__], 1)
        self.fill_models(f)
        buckets = [(str(b), c) for b, c in zip(LATENESS_BUCKETS, accumulate(self.store.lateness_counts))]
        f["nanobanana_exporter_schedule_lateness_seconds"].add_metric(
            [], buckets + [("+Inf", sum(self.store.lateness_counts))], self.store.lateness_sum)
        for source, (counts, total) in self.store.status_lag.items():
            buckets = [(str(b), c) for b, c in zip(STATUS_LAG_BUCKETS, accumulate(counts))]
            f["nanobanana_status_page_lag_seconds"].add_metric([source], buckets + [("+Inf", sum(counts))], total)

    def models(self):
        """The MODEL_FAMILIES alone."""
        f = MODEL_FAMILIES.empty()
        self.fill_models(f)
        yield from f.values()

    def fill_models(self, f) -> None:
        day = catalog.today()
        seen: dict[tuple[str, str], str] = {}
        for state in self.store:
            target = state.series.target
            seen.setdefault((target.model, target.api), target.family.name)
        for (model_id, api), family in sorted(seen.items()):
            entry = catalog.MODELS.get(model_id)
            f["nanobanana_model_info"].add_metric([model_id, api, family, entry.stage_on(day, api) if entry else "unknown"], 1)
            shutdown = entry.shutdown_on(api) if entry else None
            if shutdown:
                midnight = dt.datetime.combine(shutdown, dt.time(), dt.timezone.utc)
                f["nanobanana_model_shutdown_timestamp_seconds"].add_metric([model_id, api], midnight.timestamp())

    def render(self, openmetrics: bool = False) -> bytes:
        """FAMILIES as exposition text, the same samples as collect() without prometheus_client's
        per-sample objects and formatting (the sizes at 1,000 series: BENCHMARKS.md, Scale)."""
        return b"".join(self.chunks(openmetrics))

    def chunks(self, openmetrics: bool = False) -> list[bytes]:
        """render()'s text in pieces, for the scrape to join once with the rest."""
        return self._text.chunks(((state, state.series.key, state.series) for state in self.store), openmetrics)

    def fill_series(self, f, states=None) -> None:
        for state in self.store if states is None else states:
            values = list(state.series.key)
            buckets = [(str(b), c) for b, c in zip(DURATION_BUCKETS, accumulate(state.bucket_counts))]
            buckets.append(("+Inf", sum(state.bucket_counts)))
            f["nanobanana_probe_duration_seconds"].add_metric(values, buckets, state.duration_sum)
            for outcome, count in state.probes.items():
                f["nanobanana_probes"].add_metric(values + [outcome.value], count)
            if state.success is not None:
                f["nanobanana_probe_success"].add_metric(values, state.success)
            f["nanobanana_probe_consecutive_failures"].add_metric(values, state.consecutive_failures)
            f["nanobanana_probe_consecutive_slow"].add_metric(values, state.consecutive_slow)
            if state.last_run is not None:
                f["nanobanana_probe_last_run_timestamp_seconds"].add_metric(values, state.last_run)
            if state.last is not None:
                f["nanobanana_probe_last_outcome"].add_metric(values + [state.last.outcome.value], 1)
            if state.last_success is not None:
                f["nanobanana_probe_last_success_timestamp_seconds"].add_metric(values, state.last_success)
            if state.last is not None:
                for name, seconds in state.last.phases.items():
                    f["nanobanana_probe_phase_duration_seconds"].add_metric(values + [name], seconds)
                f["nanobanana_probe_response_bytes"].add_metric(values, state.last.response_bytes)
                f["nanobanana_probe_image_bytes"].add_metric(values, state.last.image_bytes)
            for name, seconds in state.phase_totals.items():
                f["nanobanana_probe_phase_seconds"].add_metric(values + [name], seconds)
            for kind, count in state.tokens.items():
                f["nanobanana_probe_tokens"].add_metric(values + [kind], count)
            f["nanobanana_probe_interval_seconds"].add_metric(values, state.series.interval)
            f["nanobanana_probe_timeout_seconds"].add_metric(values, state.series.timeout)
            for reason, count in state.skipped.items():
                f["nanobanana_probe_skipped"].add_metric(values + [reason], count)
            f["nanobanana_probe_cost_usd"].add_metric(values, state.cost)
            f["nanobanana_probe_price_usd"].add_metric(values, state.series.price)
            for reason, count in state.confirmations.items():
                f["nanobanana_probe_confirmations"].add_metric(values + [reason], count)
            for check, count in state.image_checks.items():
                f["nanobanana_image_checks"].add_metric(values + [check], count)
                f["nanobanana_image_check_failures"].add_metric(values + [check], state.image_check_failures[check])
                f["nanobanana_image_check_consecutive_failures"].add_metric(values + [check],
                                                                            state.image_check_streaks[check])
            for check, passed in state.last_judged.items():
                f["nanobanana_image_check_passed"].add_metric(values + [check], float(passed))
            if state.served is not None:
                if state.served[0]:
                    f["nanobanana_probe_served_model_info"].add_metric(values + [state.served[0]], 1)
                if state.served[1]:
                    f["nanobanana_probe_served_provider_info"].add_metric(values + [state.served[1]], 1)


class CheckCollector(Collector):
    """The families of one kind of check (exporter.background.checks.Checker): CHECK_FAMILIES[checker.kind], one
    series per target. Liveness checks run on every target, so at 1,000 series these are ~5,000 lines:
    a scrape renders them with render(), cached per target like ProbeCollector's (`rendered=True`:
    collect() yields nothing, describe() still declares them)."""

    def __init__(self, checker: Checker, rendered: bool = False):
        self.checker = checker
        self.rendered = rendered
        self.families = CHECK_FAMILIES[checker.kind]
        self.prefix = f"nanobanana_{checker.kind}_"
        self._text = TextCache(self.families, self.fill)

    def collect(self):
        return iter(()) if self.rendered else super().collect()

    def render(self, openmetrics: bool = False) -> bytes:
        return b"".join(self.chunks(openmetrics))

    def chunks(self, openmetrics: bool = False) -> list[bytes]:
        return self._text.chunks(((state, state.key, state.target) for state in self.checker), openmetrics)

    def fill(self, families, states=None) -> None:
        f = {name.removeprefix(self.prefix): family for name, family in families.items()}
        for state in self.checker if states is None else states:  # a snapshot: scrapes run in a worker thread
            values = list(state.key)
            for outcome, count in state.checks.items():
                f["checks"].add_metric(values + [outcome], count)
            f["interval_seconds"].add_metric(values, self.checker.settings(state.target).interval)
            if "cost_usd" in f:
                f["cost_usd"].add_metric(values, state.cost)
                for token_kind, count in state.tokens.items():
                    f["tokens"].add_metric(values + [token_kind], count)
                for reason, count in state.skipped.items():
                    f["skipped"].add_metric(values + [reason], count)
            last = state.last
            if last is None:
                continue
            for outcome in self.checker.outcomes:
                f["outcome"].add_metric(values + [outcome], float(outcome == last.outcome))
            f["success"].add_metric(values, float(last.outcome == Outcome.SUCCESS))
            f["consecutive_failures"].add_metric(values, state.consecutive_failures)
            f["duration_seconds"].add_metric(values, last.duration)
            f["last_run_timestamp_seconds"].add_metric(values, last.started + last.duration)
            if state.last_success is not None:
                f["last_success_timestamp_seconds"].add_metric(values, state.last_success)


class BudgetCollector(Collector):
    families = BUDGET_FAMILIES

    def __init__(self, budget: Budget):
        self.budget = budget

    def fill(self, f) -> None:
        for scope in self.budget.states():
            f["nanobanana_budget_spent_usd"].add_metric([scope.scope], scope.spent)
            if scope.limit is not None:
                f["nanobanana_budget_limit_usd"].add_metric([scope.scope], scope.limit)
                f["nanobanana_budget_exhausted"].add_metric([scope.scope], float(scope.exhausted))
        f["nanobanana_budget_day_end_timestamp_seconds"].add_metric([], self.budget.day_end())


class CatalogCollector(Collector):
    families = CATALOG_FAMILIES

    def __init__(self, watch):
        self.watch = watch

    def fill(self, f) -> None:
        from exporter.background.drift import KINDS

        report = self.watch.report
        if report is not None:
            for kind in KINDS:
                f["nanobanana_catalog_drift"].add_metric([kind], sum(d.kind == kind for d in report.drifts))
            for d in report.drifts:
                f["nanobanana_catalog_drift_info"].add_metric([d.target, d.model, d.kind, d.field, d.catalog, d.live], 1)
            f["nanobanana_catalog_last_check_timestamp_seconds"].add_metric([], self.watch.last_run)


class TasksCollector(Collector):
    """The asyncio tasks of the exporter's event loop, as Go exporters export go_goroutines: steady
    with a steady config, so a count that keeps growing is a leak. Read from the scrape's worker
    thread; asyncio.all_tasks copes with tasks starting meanwhile."""

    families = TASKS_FAMILIES

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop

    def fill(self, f) -> None:
        f["nanobanana_exporter_asyncio_tasks"].add_metric([], len(asyncio.all_tasks(self.loop)))


def make_registry(store: Store, status=None, liveness: Checker | None = None,
                  budget: Budget | None = None, series_families: bool = True, canary: Checker | None = None,
                  catalog_watch=None) -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(ProbeCollector(store, series_families))
    if status is not None:  # the status poller (exporter.status.poller.StatusPoller)
        registry.register(StatusCollector(status))
    for checker in (liveness, canary):
        if checker is not None:
            registry.register(CheckCollector(checker, rendered=not series_families))
    if budget is not None:
        registry.register(BudgetCollector(budget))
    if catalog_watch is not None:
        registry.register(CatalogCollector(catalog_watch))
    return registry


class Exposition:
    """What /metrics serves: the per-series families rendered from cached text by ProbeCollector and
    CheckCollector.render(), the rest (process, build info, scheduler, status sources, budgets) by
    prometheus_client."""

    def __init__(self, store: Store, status=None, liveness: Checker | None = None, budget: Budget | None = None,
                 canary: Checker | None = None, catalog_watch=None):
        self.registry = make_registry(store, status, liveness, budget, series_families=False, canary=canary,
                                      catalog_watch=catalog_watch)
        self.series = [ProbeCollector(store)] + [CheckCollector(c) for c in (liveness, canary) if c is not None]

    def render(self, accept: str) -> tuple[bytes, str]:
        """The body and its content type for a scrape sending this Accept header."""
        encoder, content_type = choose_encoder(accept)
        openmetrics = content_type.startswith("application/openmetrics-text")
        rest = encoder(Encodable(self.registry))
        eof = b"# EOF\n" if openmetrics and rest.endswith(b"# EOF\n") else b""
        series = [chunk for collector in self.series for chunk in collector.chunks(openmetrics)]
        return b"".join([rest.removesuffix(eof), *series, eof]), content_type
