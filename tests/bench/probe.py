"""Loaded into benchmark workers with `celery worker --include tests.bench.probe`; never in
production. For every `request_advance` run it records, per request, the task's wall time and
the part spent inside the Azure gateway (HTTP to the simulator, SDK polling waits), so the
benchmark can tell the portal's own time from Azure's. Records go to a Redis list.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from typing import Any

import redis
from celery import signals

KEY = "bench:probe"
_local = threading.local()
_redis = redis.Redis.from_url(os.environ["REDIS_URL"])


def _timed(function: Any) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(_local, "depth", 0)
        _local.depth = depth + 1
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _local.depth = depth
            if depth == 0:  # a gateway function calling another counts once
                _local.azure = getattr(_local, "azure", 0.0) + time.perf_counter() - started

    return wrapper


def _instrument_gateway() -> None:
    from connectivity.azure import gateway

    for name in dir(gateway):
        value = getattr(gateway, name)
        if (callable(value) and not name.startswith("_") and not isinstance(value, type)
                and getattr(value, "__module__", "") == gateway.__name__):
            setattr(gateway, name, _timed(value))


@signals.worker_process_init.connect
@signals.worker_init.connect
def _on_worker_start(**_: Any) -> None:
    if not getattr(_instrument_gateway, "done", False):
        _instrument_gateway()
        _instrument_gateway.done = True  # type: ignore[attr-defined]


@signals.task_prerun.connect
def _on_task_start(task: Any = None, args: Any = None, **_: Any) -> None:
    _local.azure = 0.0
    _local.started = time.perf_counter()


@signals.task_postrun.connect
def _on_task_end(task: Any = None, args: Any = None, **_: Any) -> None:
    if task is None or not task.name.endswith("request_advance") or not args:
        return
    _redis.rpush(KEY, json.dumps({
        "request": str(args[0]),
        "task": time.perf_counter() - getattr(_local, "started", time.perf_counter()),
        "azure": getattr(_local, "azure", 0.0),
    }))
