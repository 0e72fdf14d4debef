"""The real server in a subprocess, for the tests that talk to it over a socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

RELOAD_INTERVAL = 0.1


def cli() -> list[str]:
    """The installed `complaint-triage` entry point beside this interpreter."""
    script = Path(sys.executable).with_name("complaint-triage")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "classifier.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(
    directory: Path, models_dir: Path, reload_interval: float = RELOAD_INTERVAL
) -> dict[str, str]:
    """This environment (PATH etc.) without any CT_ setting, plus a private models dir and
    database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CT_")}
    env.update(
        CT_MODELS_DIR=str(models_dir),
        CT_DATABASE_URL=f"sqlite:///{directory / 'triage.db'}",
        CT_RELOAD_INTERVAL=str(reload_interval),
        # Tests send bursts from one address; the rate limit has its own tests.
        CT_RATE_LIMIT="100000/second",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Server:
    base: str
    models_dir: Path
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, text: str, count: int = 1, seconds: float = 30) -> None:
        """Until `text` has appeared `count` times in the server's output."""
        deadline = time.monotonic() + seconds
        while self.output().count(text) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not {count} times within {seconds} s:\n{self.output()}")
            time.sleep(0.05)

    def workers(self) -> list[int]:
        """The pids of uvicorn's worker processes (children of the server process)."""
        return worker_pids(self.process.pid)


def worker_pids(parent: int) -> list[int]:
    """Children of `parent` started by multiprocessing's spawn (uvicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # exited meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of `pid`, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@contextmanager
def running_server(
    directory: Path,
    models_dir: Path,
    *,
    ready: bool = True,
    reload_interval: float = RELOAD_INTERVAL,
    host: str = "127.0.0.1",
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`complaint-triage serve` on a free port, following the champion every
    `reload_interval` seconds (0: on SIGHUP only), with `workers` processes and `env` added
    to its environment. Waits for /readyz 200 (or only /livez when `ready` is False); always
    stopped on the way out, workers included: it runs in a process group of its own."""
    port = free_port()
    log = directory / f"server-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*cli(), "serve", "--host", host, "--port", str(port),
             "--workers", str(workers)],
            env={**environment(directory, models_dir, reload_interval), **(env or {})},
            cwd=directory,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", models_dir, log, process)
    path = "/readyz" if ready else "/livez"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{server.output()}")
            try:
                if httpx.get(server.base + path, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"GET {path} was not 200 within 30 s:\n{server.output()}")
            time.sleep(0.1)
        yield server
    except BaseException:
        print(f"--- server output ---\n{server.output()}")
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Workers left behind by a killed server process still hold the port.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
