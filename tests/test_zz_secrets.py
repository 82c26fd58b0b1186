"""The last test of the session (conftest orders it last): no recognisable fake secret the tests
used (API keys, bearer tokens, bot URLs and signing secrets, passwords) appears in anything captured
during the session: every process's log, every /metrics and landing page and relay answer a test
read, every message a fake bot received (tests/captured.py)."""

from __future__ import annotations

import pytest

from tests.captured import CAPTURED, KINDS

# A full run captures megabytes; less than this means the collector is not being fed.
MIN_FULL_RUN = {"metrics": 100_000, "landing page": 5_000, "log": 100_000, "relay message": 5_000, "response": 1_000}


def test_no_fake_secret_in_anything_captured(request):
    others = [item for item in request.session.items if item is not request.node]
    if not others:
        pytest.skip("nothing else ran: run it with the suite")
    sizes = {kind: CAPTURED.size(kind) for kind in KINDS}
    print(f"\nsecrets check: {len(CAPTURED.secrets)} fake secrets, scanned "
          + ", ".join(f"{kind} {size:,} chars" for kind, size in sizes.items()))
    leaks = CAPTURED.leaks()
    assert not leaks, f"{len(leaks)} fake secrets leaked:\n" + "\n".join(leaks[:20])
    assert CAPTURED.secrets and sum(sizes.values()) >= 10_000, f"too little captured to mean anything: {sizes}"
    whole_suite = len({item.module.__name__ for item in others}) >= 30 and not (
        request.config.option.markexpr or request.config.option.keyword)  # `-m "not slow"` leaves out much of the log
    if whole_suite:  # every kind must be there
        assert len(CAPTURED.secrets) >= 8, CAPTURED.secrets
        short = {kind: size for kind, size in sizes.items() if size < MIN_FULL_RUN[kind]}
        assert not short, f"the collector saw too little of these (is it still fed?): {short}"
