"""Reading secrets (API keys, tokens) from an environment variable or a file, never from the config."""

from __future__ import annotations

from typing import Any

from exporter.common.files import MAX_SECRET_BYTES, read_bytes


def read_secret(env: str | None, path: str | None, where: str, environ: Any) -> str | None:
    """The secret named by `<where>_env` or `<where>_file`; ValueError names the key at fault.

    `where` is the key path without its suffix, e.g. "targets[0].api_key"."""
    if env and path:
        leaf = where.rsplit(".", 1)[-1]
        raise ValueError(f"{where}_file: set {leaf}_env or {leaf}_file, not both")
    if env:
        value = environ.get(env, "").strip()
        if not value:
            raise ValueError(f"{where}_env: environment variable {env} is not set")
        return _checked(value, f"{where}_env", f"environment variable {env}")
    if path:
        try:
            value = read_bytes(path, MAX_SECRET_BYTES).decode("utf-8-sig").strip()  # -sig: a BOM is not part of a key
        except OSError as err:
            raise ValueError(f"{where}_file: cannot read {path}: {err.strerror or err}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{where}_file: {path} is not UTF-8 text") from None
        if not value:
            raise ValueError(f"{where}_file: {path} is empty")
        return _checked(value, f"{where}_file", path)
    return None


def _checked(value: str, key: str, origin: str) -> str:
    """Secrets travel in HTTP headers and URLs: printable ASCII only (the value itself is never shown)."""
    if not (value.isascii() and value.isprintable()):
        raise ValueError(f"{key}: {origin} holds characters that cannot go in an HTTP header (non-ASCII or control)")
    return value
