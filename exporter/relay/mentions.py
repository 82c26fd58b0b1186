"""Who a notification mentions: per channel, rules selected by the firing alerts' labels.

    mentions:
      - match: {severity: critical}              # every pair must hold for one firing alert
        users: [ou_7d8a6e6d...]                  # platform user IDs (Feishu open_id, DingTalk / WeCom userid)
        users_file: /run/secrets/oncall-users    # more, one a line ('#' comments)
        mobiles_file: /run/secrets/oncall-phones # DingTalk and WeCom only
      - match: {severity: critical, target: prod}
        all: true                                # everyone in the group

Mentions come only from here: alert values are escaped by each platform (alerts.py), and the IDs
are checked against a strict alphabet, so neither can add markup. IDs are personal data: they are
secrets to the redactor, never shown in errors, metrics or logs. Resolved notifications mention no one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from exporter.relay.alerts import Notification

# WeCom userids: letters, digits and _-@. (its contacts API); Feishu open_ids and DingTalk userIds fit.
USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MOBILE = re.compile(r"\+?[0-9][0-9-]{4,19}")
# People one channel's rules may mention together: the mention line stays whole within every
# platform's message size (no platform documents a count limit we could find; 1,500 did not fit)
MAX_MENTIONS = 50
EVERYONE = {"all", "@all"}  # spelled as an ID it would mention everyone on some platforms: use `all: true`


@dataclass(frozen=True)
class Mentions:
    users: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()
    everyone: bool = False

    def __bool__(self) -> bool:
        return bool(self.users or self.mobiles or self.everyone)

    @property
    def ids(self) -> list[str]:
        return [*self.users, *self.mobiles]


NOBODY = Mentions()


@dataclass(frozen=True)
class MentionRule:
    match: tuple[tuple[str, frozenset[str]], ...]
    mentions: Mentions

    def selects(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(name) in values for name, values in self.match)


def select(rules: tuple[MentionRule, ...], n: Notification) -> Mentions:
    """Everyone the rules matching some firing alert of the notification mention, each once."""
    if not rules or n.status != "firing":
        return NOBODY
    chosen = [r.mentions for r in rules if any(r.selects(a.labels) for a in n.firing)]
    if not chosen:
        return NOBODY
    return Mentions(users=tuple(dict.fromkeys(u for m in chosen for u in m.users)),
                    mobiles=tuple(dict.fromkeys(p for m in chosen for p in m.mobiles)),
                    everyone=any(m.everyone for m in chosen))


def id_problem(value: str, mobile: bool) -> str | None:
    """What is wrong with an ID from the config or a file, without quoting it (it is personal data)."""
    if mobile:
        return None if MOBILE.fullmatch(value) else "not a mobile number (digits, '-', an optional leading '+', 5-20)"
    if value.lower() in EVERYONE:
        return "'all' is not a user: set `all: true` to mention everyone"
    return None if USER_ID.fullmatch(value) else "not a user ID (letters, digits and _ . - @, at most 64)"


def parse_id_file(text: str, mobile: bool) -> tuple[list[str], tuple[int, str] | None]:
    """(IDs, None), or ([], (line number, problem)) for the first bad line. One ID a line; blank
    lines and '#' comments are skipped."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        value = line.split("#", 1)[0].strip()
        if not value:
            continue
        if problem := id_problem(value, mobile):
            return [], (number, problem)
        found.append(value)
    return found, None
