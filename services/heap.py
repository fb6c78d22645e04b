"""Tune CPython's cyclic garbage collector for a serving process (the API process and its writer).

- **The start-up heap is frozen.** A full (oldest-generation) collection walks every tracked object:
  in the writer process ~100,000 created at start-up (modules, models, schemas, the compiled
  agreement), in the API process ~125,000. Under ``bench/ingest.py`` a full collection of the writer took
  55-65 ms, three times a run, and every request waiting on the writer waited with it: the service's
  p99 latency was ~100 ms. Frozen objects are never walked again.
- **The youngest generation is collected every 10,000 net allocations instead of 700.** A group
  commit builds thousands of objects per batch and frees them by reference counting when the batch
  ends; at 700 the collector walked them several times per batch while they were still alive.

Garbage created while serving is collected as before, only in fewer, larger collections.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # CPython's default is 700


def prepare_heap_for_serving() -> None:
    """Collect once, freeze every object alive now, and raise the youngest generation's threshold.

    Call when start-up is done, before serving. Only the first call in a process acts: a process that
    starts the app again (the test suite does) would otherwise freeze every earlier app's objects too,
    and cycles among them would never be collected.
    """
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
