"""What `serve` sets up around uvicorn: the workers' shared metrics directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Read by prometheus_client when first imported: set before any worker imports the app.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "complaint-triage-metrics-"


@contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """For several workers, a fresh, private directory where each writes its metrics, so
    GET /metrics sums all of them; removed afterwards. Files left by an earlier run would be
    counted again, so an inherited directory is never reused. One worker keeps its metrics in
    memory and needs none (None)."""
    if workers <= 1:
        yield None
        return
    parent = Path(tempfile.gettempdir())
    sweep(parent)
    # mode 0700; named after this process, so a later start can tell it was left behind
    directory = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)
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


def sweep(parent: Path) -> list[Path]:
    """Remove the metrics directories of servers that died without cleaning up (SIGKILL);
    the ones removed."""
    removed = []
    for path in parent.glob(f"{PREFIX}*-*"):
        pid = path.name.removeprefix(PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
