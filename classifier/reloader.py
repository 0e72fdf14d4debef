"""A running server follows `models/champion`: it loads and verifies a new champion beside the
serving one and swaps it in by one reference assignment, so requests in flight finish on the
model they started with. A version that fails verification is refused, with the reason
logged, and the serving model stays."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from classifier import registry
from classifier.registry import ModelHolder

log = logging.getLogger(__name__)


# While a model loads beside the requests, the interpreter switches threads every 0.5 ms
# instead of 5: a request that gives up the interpreter (NumPy does, in its larger loops)
# waits that long to get it back, and does so a few times per triage.
_LOADING_SWITCH_INTERVAL = 0.0005
_switch_lock = threading.Lock()


def load_beside_requests(
    models_dir: Path, version: str, labels: tuple[str, ...]
) -> registry.LoadedModel:
    """`registry.load`, with thread switches made frequent while it runs."""
    with _switch_lock:
        usual = sys.getswitchinterval()
        sys.setswitchinterval(min(usual, _LOADING_SWITCH_INTERVAL))
        try:
            return registry.load(models_dir, version, labels)
        finally:
            sys.setswitchinterval(usual)


def freeze_heap() -> None:
    """Move every object alive now out of the cyclic garbage collector's view. A served
    model is hundreds of thousands of long-lived objects; a full collection walked them all
    and stopped the server for about 100 ms every few thousand requests. Frozen objects are
    still freed when unreferenced (a model swapped out is), only cycles among them are not."""
    gc.freeze()


@dataclass(frozen=True)
class Refusal:
    version: str
    reason: str
    files: tuple[tuple[int, int], ...]  # (size, mtime) of its files when refused


def _files(models_dir: Path, version: str) -> tuple[tuple[int, int], ...]:
    found = []
    for name in (registry.METADATA, registry.ARTEFACT):
        try:
            stat = (models_dir / version / name).stat()
            found.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            found.append((-1, -1))
    return tuple(found)


class ChampionReloader:
    """Loads the champion named on disk into `holder` when it is not the one being served."""

    def __init__(self, models_dir: Path, labels: tuple[str, ...], holder: ModelHolder) -> None:
        self.models_dir = models_dir
        self.labels = labels
        self.holder = holder
        self.refused: Refusal | None = None  # the last champion that failed verification
        self.missing: str | None = None  # why there is no champion to load, if so

    @property
    def problem(self) -> str | None:
        """Why the champion on disk is not being served, or None when it is."""
        return self.refused.reason if self.refused else self.missing

    def check(self, force: bool = False) -> str | None:
        """Swap in the champion if it changed; the version swapped in, or None. A refused
        version is tried again only when its files change or `force` (SIGHUP) says so."""
        version = registry.champion(self.models_dir)
        serving = self.holder.current
        if version is None:
            self.missing = (
                f"no champion model in {self.models_dir}; train one with `complaint-triage train`"
            )
            return None
        self.missing = None
        if serving is not None and serving.version == version:
            self.refused = None
            return None
        files = _files(self.models_dir, version)
        known = self.refused
        if not force and known and (known.version, known.files) == (version, files):
            return None
        try:
            loaded = load_beside_requests(self.models_dir, version, self.labels)
        except registry.ArtefactError as exc:
            self.refused = Refusal(version, str(exc), files)
            log.error(
                "refused model %s: %s; %s", version, exc,
                f"still serving {serving.version}" if serving else "no model is being served",
            )  # fmt: skip
            return None
        self.holder.swap(loaded)
        self.refused = None
        log.info("now serving model %s (was %s)", version, serving and serving.version)
        return version

    async def follow(self, interval: float) -> None:
        """Check every `interval` seconds (0: only on SIGHUP) until cancelled."""
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, wake.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            log.debug("SIGHUP cannot be handled here; checking every %ss", interval)
        try:
            while True:
                try:
                    await asyncio.wait_for(wake.wait(), timeout=interval or None)
                except TimeoutError:
                    pass
                forced = wake.is_set()
                wake.clear()
                try:
                    # Loading takes a fraction of a second: off the event loop.
                    if await asyncio.to_thread(self.check, forced):
                        freeze_heap()
                except Exception:  # a failed check must never stop the following
                    log.exception("checking the champion failed")
        finally:
            try:
                loop.remove_signal_handler(signal.SIGHUP)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
