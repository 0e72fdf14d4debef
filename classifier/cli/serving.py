"""What `serve` sets up around uvicorn: the workers' shared metrics directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# Read by prometheus_client when first imported: set before any worker imports the app.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh, private directory where every worker writes its metrics, so GET /metrics
    sums all of them; removed afterwards. Files left by an earlier run would be counted
    again, so an inherited directory is never reused."""
    directory = tempfile.mkdtemp(prefix="complaint-triage-metrics-")  # mode 0700
    previous = os.environ.get(MULTIPROCESS_VARIABLE)
    os.environ[MULTIPROCESS_VARIABLE] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_VARIABLE, None)
        else:
            os.environ[MULTIPROCESS_VARIABLE] = previous
        shutil.rmtree(directory, ignore_errors=True)
