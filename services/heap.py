"""Keep the cyclic garbage collector off the long-lived start-up heap of a service process.

CPython's full (oldest-generation) collection walks every tracked object. In the writer process that
is ~100,000 objects created at start-up (modules, models, schemas, the compiled agreement): a
full collection took 55-65 ms under ``bench/ingest.py``, three times a run, and every request waiting
on the writer waited with it. The API process holds more. Frozen objects are never walked again;
what requests allocate is collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the collector's generations.

    Call when start-up is done, before serving. Only the first call in a process freezes: a process
    that starts the app again (the test suite does) would otherwise freeze every earlier app's objects
    too, and cycles among them are never collected. Objects created later are collected as usual.
    """
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
