"""The service host the exporter and the relay both run in: the Prometheus exporters' flags
(exporter-toolkit's `--web.listen-address` repeatable, `--web.systemd-socket`, `--web.config.file`),
the listeners, reload (SIGHUP, POST /-/reload and, opt-in, `--config.auto-reload-interval`) and a
clean stop. A process gives it what is its own: how to read its config and how to apply one.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web as aiohttp_web

from exporter import __version__
from exporter.common.files import MAX_CONFIG_BYTES, read_bytes
from exporter.common.yamlconfig import ConfigError

log = logging.getLogger("exporter")

# sd_listen_fds(3): systemd passes sockets from file descriptor 3 on, and says so in the environment
SD_LISTEN_FDS_START = 3


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard one, as Go programs do at start (Go 1.19): at
    the usual soft 1,024, 1,100 connections that never finish a TLS handshake made authenticated
    scrapes fail for ~20 s (issue 32). Returns the limit in force."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY and hard <= 1 << 20 else 1 << 20  # a million is plenty
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return wanted
        return soft
    except (ImportError, ValueError, OSError) as err:  # no resource module (Windows), or refused
        log.debug("open files limit left as it is", extra={"error": str(err)})
        return -1


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """"1 channel", "3 channels", "2 series"."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


class _Repeatable(argparse.Action):
    """A flag that may be given several times; the first use replaces the default (exporter-toolkit's
    repeatable --web.listen-address)."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, [*(() if current is self.default else current), values])


def log_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"])
    parser.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])
    parser.add_argument("--version", action="version", version=f"nanobanana-exporter {__version__}")


def listen_flag(parser: argparse.ArgumentParser, listen: str, repeatable: bool = True) -> None:
    if repeatable:
        parser.add_argument("--web.listen-address", dest="listen", default=[listen], action=_Repeatable, metavar="ADDR",
                            help=f"address to listen on for HTTP; repeat it to listen on several (default {listen})")
    else:
        parser.add_argument("--web.listen-address", dest="listen", default=listen, metavar="ADDR",
                            help=f"address to listen on for HTTP (default {listen})")


def service_flags(parser: argparse.ArgumentParser, listen: str) -> None:
    """The flags of a service: listeners, web config, auto-reload, logging (exporter and relay)."""
    listen_flag(parser, listen)
    parser.add_argument("--web.systemd-socket", dest="systemd_socket", action="store_true",
                        help="listen on the sockets systemd passes (socket activation) instead of "
                        "--web.listen-address (Linux)")
    parser.add_argument("--web.config.file", dest="web_config_file", default=None, metavar="FILE",
                        help="TLS and basic auth settings, in the Prometheus exporter-toolkit format "
                        "(read at start and on every reload)")
    parser.add_argument("--config.auto-reload-interval", dest="auto_reload_interval", default=None, metavar="DURATION",
                        help="check the config files this often and reload when they changed (e.g. 30s; "
                        "off by default: reload by SIGHUP or POST /-/reload)")
    log_flags(parser)


def load_web_config(path: str | None):
    from exporter.common import webconfig

    return webconfig.load_file(path) if path else webconfig.WebConfig()


def describe_web_config(web_config) -> str:
    tls = web_config.tls
    parts = [f"TLS {tls.min_version}+" + (", client certificates" if tls.client_ca_file else "") if tls else "no TLS",
             counted(len(web_config.users), "basic auth user") if web_config.users else "no basic auth"]
    if web_config.open_paths:
        parts.append("open without auth: " + " ".join(sorted(web_config.open_paths)))
    return ", ".join(parts)


def auto_reload_interval(args: argparse.Namespace) -> float | None:
    """--config.auto-reload-interval in seconds, or None when it is off; ConfigError when malformed."""
    if not args.auto_reload_interval:
        return None
    from exporter.common.durations import parse_duration

    try:
        interval = parse_duration(args.auto_reload_interval)
    except ValueError as err:
        raise ConfigError(f"--config.auto-reload-interval: {err}") from None
    if interval < 1:
        raise ConfigError("--config.auto-reload-interval: at least 1s")
    return interval


def systemd_sockets(environ: Any = os.environ) -> list[socket.socket]:
    """The listening sockets systemd passed to this process (sd_listen_fds(3)); ConfigError when none."""
    count = environ.get("LISTEN_FDS", "")
    if environ.get("LISTEN_PID") != str(os.getpid()) or not count.isdigit() or int(count) < 1:
        raise ConfigError("--web.systemd-socket: systemd passed no socket (LISTEN_PID/LISTEN_FDS are not set for "
                          "this process); start it from a .socket unit, or use --web.listen-address")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(name, None)  # not inherited by child processes, as sd_listen_fds(1) does
    return [socket.socket(fileno=fd) for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count))]


def fingerprint(paths: list[str]) -> str:
    """What the config files hold now (a missing or unreadable file counts as its error)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(read_bytes(path, MAX_CONFIG_BYTES))
        except OSError as err:
            digest.update(f"unreadable: {err.errno}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


class Service:
    """Host one process's web app: listen, reload, stop.

    read: reads and checks the new config and web config (in a thread; raises ConfigError), returns
    (config, web config). apply: applies a config that was read, returns a summary of it."""

    def __init__(self, prefix: str, args: argparse.Namespace, web_config, read: Callable[[], tuple[Any, Any]],
                 apply: Callable[[Any], Awaitable[str]], redact: Callable[[str], str], files: list[str],
                 echo_errors: bool = True):
        from exporter.loading.reload import Reloader

        self.args = args
        self.web_config = web_config
        self.read = read
        self.apply = apply
        self.files = [f for f in files if f]
        self.echo_errors = echo_errors  # False: POST /-/reload answers "see the log" (an error may quote a secret)
        self.interval = auto_reload_interval(args)  # checked before anything starts
        self.sockets = systemd_sockets() if args.systemd_socket else []
        self.reloader = Reloader(prefix, self._reload, redact)
        self.server = None
        self._seen = fingerprint(self.files) if self.interval else ""

    async def _reload(self) -> str:
        # everything is read and checked before anything changes, off the event loop (requests go on)
        new, new_web = await asyncio.to_thread(self.read)
        await self.server.apply(new_web)
        summary = await self.apply(new)
        return f"{summary}, {describe_web_config(new_web)}"

    async def start(self, app: aiohttp_web.Application) -> bool:
        """Listen; False (logged) when an address cannot be listened on."""
        from exporter.exposition import web

        raise_open_files_limit()
        self.reloader.add_route(app, echo_errors=self.echo_errors)
        addresses = [] if self.sockets else self.args.listen
        self.server = web.Server(app, addresses, self.web_config, sockets=self.sockets)
        try:
            await self.server.start()
        except (OSError, ValueError) as err:
            log.error("cannot listen", extra={"address": " ".join(addresses) or "systemd socket", "error": str(err)})
            return False
        return True

    @property
    def listening(self) -> dict[str, Any]:
        """Log fields: where it listens."""
        return {"address": " ".join(self.args.listen) if not self.sockets else "systemd socket",
                "port": self.server.port, "scheme": self.web_config.scheme}

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, reloading on SIGHUP, POST /-/reload and file changes."""
        watch = asyncio.create_task(self._watch()) if self.interval and self.files else None
        try:
            await self.reloader.serve_until_stopped()
        finally:
            if watch is not None:
                watch.cancel()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()

    async def _watch(self) -> None:
        """--config.auto-reload-interval: reload when the files' content changed. A file that fails to
        load is tried again only once it changes again (the running config stays, the error is logged
        once and ..._config_last_reload_successful is 0), as a SIGHUP with a bad file does."""
        log.info("reloading when the config changes", extra={"files": " ".join(self.files), "interval_seconds": self.interval})
        while True:
            await asyncio.sleep(self.interval)
            now = await asyncio.to_thread(fingerprint, self.files)
            if now != self._seen:
                self._seen = now
                await self.reloader.reload("config file changed")
