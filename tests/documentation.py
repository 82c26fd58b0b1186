"""The documentation as the tests read it: the README (a newcomer's page) and the rooms of docs/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def room(name: str) -> str:
    """One room of docs/, e.g. room("alerting") is docs/alerting.md."""
    return (ROOT / "docs" / f"{name}.md").read_text()


def section(text: str, heading: str) -> str:
    """From a `## heading` to the next heading of the same level (or the end)."""
    start = text.index(f"\n## {heading}\n") + 1
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end + 1]


# Everything a user can read: the lists the code has must appear somewhere in here.
ALL = "\n".join([README, *(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))])
