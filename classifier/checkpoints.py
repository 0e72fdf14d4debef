"""WAL checkpoints of a SQLite database on a thread of their own.

SQLite copies its write-ahead log back into the database file every 1,000 pages, inside
whichever commit crosses that mark, and syncs both files to disk while at it. The server
commits triages on its event loop, so that commit stalled every request of the worker: with
sixteen clients, half the commit time and a p99 commit of 49 ms against 15 ms without. The
server's connections therefore leave checkpoints to this thread, which runs a PASSIVE one (it
never waits for, nor blocks, readers and writers) every `interval` seconds after a write.
The call holds no interpreter lock while SQLite works.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, engine: Engine, interval: float = 0.2) -> None:
        self.engine = engine
        self.interval = interval
        self._written = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        """Something was committed: the log will want copying back."""
        if not self._written.is_set():
            self._written.set()

    def close(self) -> None:
        """Stop the thread after a last checkpoint of what was written."""
        self._stopping.set()
        self._written.set()
        self._thread.join(timeout=30)

    def checkpoint(self) -> None:
        connection = self.engine.raw_connection()  # the driver's: no transaction around it
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()
        finally:
            connection.close()

    def _run(self) -> None:
        while True:
            self._written.wait()
            stopping = self._stopping.wait(self.interval)  # more writes join this one
            self._written.clear()
            try:
                self.checkpoint()
            except Exception:  # a failed checkpoint is retried after the next write
                log.exception("WAL checkpoint failed")
            if stopping:
                return
