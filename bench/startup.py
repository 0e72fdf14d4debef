"""From process start to `/readyz` answering 200, for the real server and a bare one.

The real server imports the application, loads and verifies the champion (sha256 before
unpickling), builds the fast-path tables and serves. The baseline, started the same way in
the same run, is a bare FastAPI app (bench/bare_app.py) under uvicorn. Target (issue 5):
under 2 s. The median of several starts is printed.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_ready(command: list[str], port: int, env: dict[str, str]) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - start < 60:
            if process.poll() is not None:
                raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.01)
        raise SystemExit("not ready within 60 s")
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts of each server")
    parser.add_argument("--models-dir", type=Path, help="where the champion is")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.models_dir:
        env["CT_MODELS_DIR"] = str(args.models_dir)
    servers = {
        "baseline: bare FastAPI app": lambda port: [
            sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "--factory",
            "bare_app:create_app", "--port", str(port), "--log-level", "warning",
        ],
        "complaint-triage serve": lambda port: [
            sys.executable, "-m", "classifier.cli", "serve", "--port", str(port),
        ],
    }  # fmt: skip
    results = {}
    for name, command in servers.items():
        samples = []
        for _ in range(args.runs):
            port = free_port()
            samples.append(time_to_ready(command(port), port, env))
        results[name] = statistics.median(samples)
    base = results["baseline: bare FastAPI app"]
    print(f"process start to /readyz 200, median of {args.runs} starts")
    print(f"{'':<32}{'seconds':>9}{'vs base':>9}")
    for name, seconds in results.items():
        print(f"{name:<32}{seconds:>9.2f}{seconds / base:>8.1f}x")
    verdict = "meets" if results["complaint-triage serve"] < 2 else "misses"
    print(f"target under 2 s: {verdict}")


if __name__ == "__main__":
    main()
