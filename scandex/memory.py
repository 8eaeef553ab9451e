"""Process memory settings for processes that do nothing but OCR or training.

Reading a page allocates and frees the same large arrays (a page of 8 megapixels, its
float copies, the recognizer's batches) again and again, and so does a training step (a
batch's activations, over 100 MB). glibc's allocator maps every block over its mmap
threshold (128 KiB at first, 32 MiB at most) on its own and unmaps it when freed, and
shrinks the heap whenever 128 KiB lie free at its top, so the next page or batch faults all
of that memory in again, zeroed by the kernel. Measured on the project's 2-core VM: 20-30 ms
of system time on a 250 ms page analysis, and a quarter of a training run's CPU time. Here
every block comes from the heap and the heap keeps what is freed. That costs resident
memory: a worker stays at its largest page's size instead of shrinking between pages.

Only the processes scandex starts for itself call this (OCR workers, `scandex ocr`,
`scandex train`, the benchmarks); code that imports scandex as a library keeps its own
allocator settings. Nothing here imports numpy, so it may run before numpy is loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["KEPT_HEAP_BYTES", "keep_freed_memory"]

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

# The heap gives memory back to the kernel only when this much lies free at its top.
KEPT_HEAP_BYTES = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed memory for the next allocation; True if it took
    both settings (False on other C libraries and systems, where nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # musl's mallopt takes nothing
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # No block mapped on its own (should the heap fail to grow, glibc still maps one).
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, KEPT_HEAP_BYTES))
