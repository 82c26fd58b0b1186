"""Keeps secrets out of everything a person or Prometheus can read."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "<redacted>"
LEARNED_KEPT = 100  # access tokens remembered (a day and more of hourly tokens per credentials)
# Credentials that ride in URLs: ?key=, &access_token=, &sign=, user:password@
_URL_SECRETS = re.compile(r"(?i)([?&](?:key|api_key|access_token|token|sign)=)[^&\s\"']+|(//[^/\s:@]+:)[^@/\s]+@")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self._configured: set[str] = set()
        self._learned: dict[str, None] = {}  # insertion-ordered: the oldest go first
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """The secrets of the config (replacing those of the last one); learned ones stay."""
        self._configured = {s for s in secrets if s and len(s) >= 4}
        self._sort()

    def learn(self, secret: str) -> None:
        """A secret issued at run time (an access token), masked from now on, across reloads too."""
        if secret and len(secret) >= 4 and secret not in self._learned:
            self._learned[secret] = None
            while len(self._learned) > LEARNED_KEPT:  # hourly tokens: the oldest expired long ago
                del self._learned[next(iter(self._learned))]
            self._sort()

    def _sort(self) -> None:
        # longest first, so a secret that contains another is masked whole
        self._secrets = sorted(self._configured | set(self._learned), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _URL_SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + (MASK if m.group(1) else MASK + "@"), text)
