"""Give freed large buffers back to the system.

A probe's 4K answer passes through buffers of 10-30 MB (the body, the decoded image). glibc serves
such a buffer from a fresh mapping at first, but each one freed raises its threshold for the next
(up to 32 MiB), so after the first 4K answer they come from the heap and stay in the process when
freed: idle RSS 88-91 MiB before this, 65-68 MiB after (BENCHMARKS.md). A fixed 1 MiB
threshold keeps every buffer that large in its own mapping, unmapped when freed, at a few
milliseconds of page faults per 4K probe. MALLOC_MMAP_THRESHOLD_ in the environment (glibc's own
tunable) wins over this; on a C library without mallopt (musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD = 1 << 20


def return_large_buffers() -> bool:
    """Set the fixed threshold; whether it was set."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
