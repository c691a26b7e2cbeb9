from __future__ import annotations

import pytest
from celery import _state as celery_state


@pytest.fixture(autouse=True)
def _celery_join_flag_cleared():
    """Celery's eager `apply()` sets a process-global "inside a task" flag and restores the value it saw,
    without a lock: eager tasks running in several threads at once (the concurrency tests) can leave it
    stuck on, and every later `result.get()` then raises "Never call result.get() within a task!".
    Clear it around each test so one threaded test cannot break the next."""
    celery_state._set_task_join_will_block(False)
    yield
    celery_state._set_task_join_will_block(False)
