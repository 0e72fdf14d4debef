"""The real server in a subprocess, for the tests that talk to it over a socket."""

from __future__ import annotations

import os
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


@contextmanager
def running_server(
    directory: Path,
    models_dir: Path,
    *,
    ready: bool = True,
    reload_interval: float = RELOAD_INTERVAL,
    host: str = "127.0.0.1",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`complaint-triage serve` on a free port, following the champion every
    `reload_interval` seconds (0: on SIGHUP only). Waits for /readyz 200 (or only /livez
    when `ready` is False); always stopped on the way out."""
    port = free_port()
    log = directory / f"server-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*cli(), "serve", "--host", host, "--port", str(port)],
            env={**environment(directory, models_dir, reload_interval), **(extra_env or {})},
            cwd=directory,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
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
