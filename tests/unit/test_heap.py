"""``services.heap``: the start-up heap is frozen once per process, the youngest generation is
collected less often, and garbage made later is still collected.

Run in a fresh interpreter: freezing is process-wide, and the test process has its own start-up heap.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROGRAM = textwrap.dedent(
    """
    import gc
    import weakref

    from services.heap import YOUNG_THRESHOLD, prepare_heap_for_serving

    class Node:
        pass

    assert gc.get_freeze_count() == 0
    kept = Node()
    kept.self = kept  # a cycle alive at start-up
    prepare_heap_for_serving()
    frozen = gc.get_freeze_count()
    assert frozen > 0, "nothing was frozen"
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD > 700
    assert not any(obj is kept for obj in gc.get_objects()), "a start-up object is still walked"

    later = [Node() for _ in range(1_000)]
    prepare_heap_for_serving()
    assert gc.get_freeze_count() == frozen, "a second call froze again"
    assert any(obj is later for obj in gc.get_objects()), "objects made after start-up left the collector"

    garbage = Node()
    garbage.self = garbage  # a cycle made while serving: only the collector frees it
    ref = weakref.ref(garbage)
    del garbage
    gc.collect()
    assert ref() is None, "garbage made after start-up was not collected"
    print("ok")
    """
)


def test_start_up_heap_is_frozen_once_and_later_garbage_is_still_collected() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
