"""Stores the triages answered on the event loop, many requests' triages per transaction.

Requests hand their rows over and await the commit. Rows that arrive while others wait go
into the same transaction (group commit), so under load the cost of a transaction is shared.

On SQLite the write runs on the event loop itself, and only when it can go ahead without
waiting: when another writer holds the lock, the loop serves other requests and tries again
a moment later. A writer thread was tried first and cost a millisecond of CPU per request
more: every SQLite call gives up the interpreter lock, and the two threads then handed it to
each other dozens of times per transaction. A database server (PostgreSQL) is reached over
a socket that can stall, so there the write runs on one thread of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from classifier.store import DatabaseBusy, NewTriage, Store

# Triages stored in one transaction at most: a burst is split rather than held in one long
# transaction that other processes would wait for.
MAX_TRIAGES_PER_COMMIT = 64
# The first and the longest pause before trying a locked SQLite database again (seconds).
FIRST_PAUSE, LONGEST_PAUSE = 0.0002, 0.005


@dataclass
class _Group:
    """One caller's triages: stored together, all or none."""

    triages: Sequence[NewTriage]
    deadline: float  # loop time after which the caller is told the database is busy
    done: asyncio.Future[None]


class TriageWriter:
    """Group commit for one event loop. A caller waits at most the store's busy timeout,
    counted from when it handed its triages over, and then hears DatabaseBusy."""

    def __init__(self, store: Store, *, max_per_commit: int = MAX_TRIAGES_PER_COMMIT) -> None:
        self.store = store
        self.max_per_commit = max_per_commit
        self._pending: list[_Group] = []
        self._draining: asyncio.Task[None] | None = None
        self._thread = None if store.embedded else ThreadPoolExecutor(1, "triage-writer")

    async def save(self, triages: Sequence[NewTriage]) -> None:
        """Store `triages` in one transaction (possibly with other callers'); raises what
        stopped them, DatabaseBusy for a database that stayed locked."""
        loop = asyncio.get_running_loop()
        group = _Group(triages, loop.time() + self.store.busy_timeout, loop.create_future())
        self._pending.append(group)
        if self._draining is None:
            # A task's first step runs after the requests already ready to run: those
            # that reach this point meanwhile join the same transaction.
            self._draining = loop.create_task(self._drain())
        await group.done

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)

    async def _drain(self) -> None:
        pause = FIRST_PAUSE
        try:
            while self._pending:
                again = await self._commit(self._take())
                if again:  # another writer has the database: serve others meanwhile
                    self._pending[:0] = again  # first in line for the next try
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, LONGEST_PAUSE)
                else:
                    pause = FIRST_PAUSE
        finally:
            self._draining = None

    def _take(self) -> list[_Group]:
        """The oldest waiting groups, up to `max_per_commit` triages (at least one group)."""
        now = asyncio.get_running_loop().time()
        taken: list[_Group] = []
        kept: list[_Group] = []
        count = 0
        for group in self._pending:
            if group.done.done():  # its caller went away
                continue
            if group.deadline <= now:
                _settle(group, DatabaseBusy(None, None, TimeoutError("the busy timeout passed")))
            elif not taken or count + len(group.triages) <= self.max_per_commit:
                taken.append(group)
                count += len(group.triages)
            else:
                kept.append(group)
        self._pending = kept
        return taken

    async def _commit(self, groups: list[_Group]) -> list[_Group]:
        """Store `groups` in one transaction and tell their callers; returns the groups to
        try again because SQLite was locked."""
        if not groups:
            return []
        triages = [t for g in groups for t in g.triages]
        try:
            if self._thread is None:
                self.store.save_triages(triages, patience=0.0)
            else:
                loop = asyncio.get_running_loop()
                left = min(g.deadline for g in groups) - loop.time()
                await loop.run_in_executor(
                    self._thread, lambda: self.store.save_triages(triages, patience=left)
                )
        except DatabaseBusy as exc:
            if self._thread is None:
                return groups
            for group in groups:
                _settle(group, exc)
        except Exception as exc:
            if len(groups) == 1:
                _settle(groups[0], exc)
                return []
            # Something in one group was refused: store them one by one, so that only its
            # caller hears of it.
            again = []
            for group in groups:
                again += await self._commit([group])
            return again
        else:
            for group in groups:
                _settle(group, None)
        return []


def _settle(group: _Group, error: BaseException | None) -> None:
    if group.done.done():  # its caller went away (the request was cancelled)
        return
    if error is None:
        group.done.set_result(None)
    else:
        group.done.set_exception(error)
