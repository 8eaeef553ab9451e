"""scandex.memory: OCR and training processes keep freed memory instead of faulting it in
again for every page or batch."""

import subprocess
import sys

import pytest

from scandex.memory import keep_freed_memory

# Allocates, fills and frees a 40 MB block (a page as float32 in OpenCV, a training
# batch's activations: over glibc's largest mmap threshold) ten times, and prints the minor
# page faults that took.
_PROGRAM = """
import resource, sys
from scandex.memory import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    block = bytearray(40 * 2**20)
    del block
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[bool, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


def test_a_process_that_keeps_freed_memory_faults_it_in_once():
    kept, faults_kept = _faults("keep")
    if not kept:
        pytest.skip("not glibc: the allocator settings do not apply")
    _, faults_default = _faults("default")
    pages_of_block = 40 * 2**20 // 4096
    # By default every round maps the block and faults in its 10,240 pages again; kept,
    # the first round's memory serves the other nine.
    assert faults_default > 5 * pages_of_block
    assert faults_kept < 2 * pages_of_block


def test_keeping_freed_memory_is_a_no_op_where_it_does_not_apply(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
