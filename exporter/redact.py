"""Keeps secrets out of everything a person or Prometheus can read."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "<redacted>"
# Credentials that ride in URLs: ?key=, &access_token=, &sign=, user:password@
_URL_SECRETS = re.compile(r"(?i)([?&](?:key|api_key|access_token|token|sign)=)[^&\s\"']+|(//[^/\s:@]+:)[^@/\s]+@")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        # longest first, so a secret that contains another is masked whole
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _URL_SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + (MASK if m.group(1) else MASK + "@"), text)
