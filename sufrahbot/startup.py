"""What a long-running process does once it has loaded what it serves with.

`freeze_startup_objects` moves every object the process holds after startup (Django's apps and models, the
URLconf, the tasks, the libraries: 130,000-170,000 objects in a web or worker process) into the garbage
collector's permanent generation (`gc.freeze`). They live as long as the process, but each full collection
walked them all again: 120-155 ms of CPU, a pause in whatever request or task was running, a few times in a
process's first minutes (`bench/instructions.py`'s webhook step in process: 15-22 % of its CPU went to one
such collection; with the freeze, 2 %). Objects made later are collected as before. In a prefork worker the
children freeze what they inherited, so collections there also stop touching (and copying) the parent's pages.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect what startup left behind, then freeze the rest; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
