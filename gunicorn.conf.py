"""Settings gunicorn reads by itself when started from the project folder (``make run``,
``bench/api.py``, the acceptance tests); command-line options add to them.

Garbage collection: a worker holds the app's imports and the parsed process specs for its
whole life, and every request allocates many small objects (SpiffWorkflow tasks, rows). With
Python's default thresholds the collector keeps rescanning the long-lived objects, and a full
collection pauses a request for tens of milliseconds: the p99 of ``bench/api.py`` at 200
requests per second drops from ~60 ms to ~15 ms when what exists after start-up is frozen
(``gc.freeze``: never scanned again) and young collections run less often. Reference counting
still frees almost everything at once; the collector only finds cycles.
"""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
