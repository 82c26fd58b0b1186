"""Reading a file the config names (the config itself, a key, a certificate) without trusting it:
only a regular file, and only up to a size. A FIFO would block the reader forever, /dev/zero would
fill memory, and a file that grows while it is read is cut at the limit and refused."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_CONFIG_BYTES = 1024 * 1024  # a config with a thousand targets is about 100 KB
MAX_SECRET_BYTES = 64 * 1024  # keys, tokens, bot URLs; a Google service-account JSON is about 2.5 KB
MAX_CERT_BYTES = 1024 * 1024  # a certificate chain or a CA bundle


def read_bytes(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them. OSError otherwise, with a
    strerror a person can read ("not a regular file", "larger than 1048576 bytes")."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(65536, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
