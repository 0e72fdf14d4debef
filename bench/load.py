"""Full `POST /v1/triage` under load over loopback, next to a bare FastAPI endpoint and a naive
`Pipeline.predict_proba` endpoint served the same way in the same run.

Each server runs alone on the machine in turn, under uvicorn with the same worker count and
uvicorn's default flags (the triage server as `complaint-triage serve --workers N`, on a fresh
SQLite database and a private copy of the champion; the others as `uvicorn --factory`). The
load generator is wrk (Debian's package) posting the 529 complaints of the frozen test set in
rotation, or an asyncio client when wrk is missing. The bare endpoint (bench/bare_app.py)
validates the same body and returns a small JSON from a coroutine route, as the triage route
is one; the naive one (bench/naive_app.py) adds a plain scikit-learn pipeline's predict_proba
in a plain (thread-pool) route. Targets (issue 8): triage at least 12% of the
bare endpoint's requests per second, p99 under 50 ms at 32 connections.

    python bench/load.py [--duration 10] [--connections 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
STARTED = "Application startup complete"


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # connection errors, timeouts and statuses >= 400
    unstored: int = 0  # triages answered with "stored": false
    cpu_seconds: float = 0.0  # used by the server's processes meanwhile

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bodies(test_data: Path) -> list[str]:
    """JSON bodies of every complaint of the frozen test set (ASCII-escaped): 529 distinct
    texts, so that no server sees the same few complaints over and over."""
    lines = test_data.read_text(encoding="utf-8").splitlines()
    return [
        json.dumps({"text": json.loads(line)["text"], "case_ref": f"LOAD-{i}", "channel": "email"})
        for i, line in enumerate(lines)
    ]


@contextmanager
def serving(
    command: list[str], env: dict[str, str], workers: int, log: Path
) -> Iterator[tuple[int, int]]:
    """Start `command` (with {port} filled in) in a process group of its own, wait until
    every worker has started and /readyz answers, yield the port and the group; stop the
    server and its workers on the way out."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [part.format(port=port) for part in command], env=env, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while log.read_text(errors="replace").count(STARTED) < workers or not ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"{' '.join(command)} did not start:\n{tail}")
            time.sleep(0.1)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        try:
            os.killpg(process.pid, signal.SIGKILL)  # any worker left behind
        except ProcessLookupError:
            pass


def cpu_seconds(group: int) -> float:
    """CPU time used so far by the live processes of process group `group`."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # not a process, or gone meanwhile
            continue
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


LUA = """
local bodies = {%s}
local headers = {["Content-Type"] = "application/json"}
local i = math.random(#bodies)
local threads = {}
unstored = 0
setup = function(thread) table.insert(threads, thread) end
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/v1/triage", headers, bodies[i])
end
response = function(status, headers, body)
  if string.find(body, '"stored":false', 1, true) then unstored = unstored + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  local missing = 0
  for _, thread in ipairs(threads) do missing = missing + thread:get("unstored") end
  io.write(string.format(
    'RESULT {"requests": %%.0f, "us": %%.0f, "p50": %%.0f, "p99": %%.0f, "errors": %%.0f, '
    .. '"unstored": %%.0f}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout, missing))
end
"""


def lua_script(payloads: list[str], path: Path) -> Path:
    quoted = ",\n".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in payloads)
    path.write_text(LUA % quoted, encoding="ascii")
    return path


def with_wrk(port: int, script: Path, connections: int, seconds: float, threads: int) -> Result:
    """wrk, closed loop: each connection sends its next request when the last one answers."""
    command = [
        "wrk", "--threads", str(min(threads, connections)), "--connections", str(connections),
        "--duration", f"{max(1, round(seconds))}s", "--timeout", "30s", "--script", str(script),
        f"http://127.0.0.1:{port}/v1/triage",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    found = json.loads(line.removeprefix("RESULT "))
    return Result(
        found["requests"], found["us"] / 1e6, found["p50"] / 1000, found["p99"] / 1000,
        found["errors"], found["unstored"],
    )  # fmt: skip


def with_asyncio(port: int, payloads: list[str], connections: int, seconds: float) -> Result:
    """The fallback without wrk: one httpx.AsyncClient, `connections` concurrent loops.
    Python is the slower client: it caps what the bare endpoint can show."""
    import httpx

    async def run() -> Result:
        latencies: list[float] = []
        errors = unstored = 0
        limits = httpx.Limits(max_connections=connections)
        headers = {"Content-Type": "application/json"}
        url = f"http://127.0.0.1:{port}/v1/triage"
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            start = time.perf_counter()
            end = start + seconds

            async def loop(offset: int) -> None:
                nonlocal errors, unstored
                i = offset
                while time.perf_counter() < end:
                    sent = time.perf_counter()
                    try:
                        response = await client.post(url, content=payloads[i % len(payloads)],
                                                     headers=headers)  # fmt: skip
                        errors += response.status_code >= 400
                        unstored += b'"stored":false' in response.content
                    except httpx.HTTPError:
                        errors += 1
                    latencies.append(time.perf_counter() - sent)
                    i += 1

            await asyncio.gather(*(loop(n) for n in range(connections)))
            elapsed = time.perf_counter() - start
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        return Result(len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors, unstored)

    return asyncio.run(run())


def fit_naive_pipeline(models_dir: Path, data: Path, path: Path) -> None:
    """DESIGN.md's plain pipeline (word + character TF-IDF, one-vs-rest logistic regression),
    fitted once here on the training data and pickled for the naive server's workers."""
    import pickle

    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline

    from classifier.catalogue import DEPARTMENT_IDS
    from classifier.data import load_records
    from classifier.evaluation import label_matrix
    from classifier.registry import load_champion

    model = load_champion(models_dir, DEPARTMENT_IDS).model
    train = load_records(data)
    pipeline = Pipeline([
        ("features", model._features()),
        ("departments", OneVsRestClassifier(
            LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear"))),
    ])  # fmt: skip
    pipeline.fit([r.text for r in train], label_matrix(train, DEPARTMENT_IDS)[:, :-1])
    path.write_bytes(pickle.dumps(pipeline))


def private_models(models_dir: Path, into: Path) -> Path:
    """A copy of the champion alone, so a promotion elsewhere cannot change the run."""
    from classifier import registry

    version = registry.champion(models_dir)
    if version is None:
        raise SystemExit(f"no champion in {models_dir}: run `complaint-triage train` first")
    shutil.copytree(models_dir / version, into / version)
    registry.set_champion(into, version)
    return into


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per server")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load before it")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (it shares the CPU)")
    parser.add_argument("--models-dir", type=Path, help="where the champion is")
    parser.add_argument("--data", type=Path, help="training JSONL for the naive pipeline")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive endpoint")
    parser.add_argument(
        "--database-url", help="the triage server's database (default: a fresh SQLite file)"
    )
    parser.add_argument("--client", choices=["wrk", "asyncio"], help="default: wrk if installed")
    args = parser.parse_args()

    from classifier.settings import get_settings

    settings = get_settings()
    client = args.client or ("wrk" if shutil.which("wrk") else "asyncio")
    payloads = bodies(settings.test_data)
    with tempfile.TemporaryDirectory(prefix="ct-load-") as temp:
        work = Path(temp)
        models = private_models(args.models_dir or settings.models_dir, work / "models")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CT_")}
        database = args.database_url or f"sqlite:///{work / 'load.db'}"
        # One client at full speed: the default per-client rate limit would answer 429.
        env.update(CT_MODELS_DIR=str(models), CT_DATABASE_URL=database,
                   CT_RATE_LIMIT="1000000/second")  # fmt: skip
        uvicorn = [
            sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "--factory",
            "--host", "127.0.0.1", "--port", "{port}", "--workers", str(args.workers),
        ]  # fmt: skip
        servers = {
            "bare FastAPI endpoint": [*uvicorn, "bare_app:create_app"],
            "naive predict_proba": [*uvicorn, "naive_app:create_app"],
            "complaint-triage": [
                sys.executable, "-m", "classifier.cli", "serve", "--host", "127.0.0.1",
                "--port", "{port}", "--workers", str(args.workers),
            ],
        }  # fmt: skip
        if args.no_naive:
            del servers["naive predict_proba"]
        else:
            pipeline = work / "naive.pkl"
            fit_naive_pipeline(models, args.data or settings.training_data, pipeline)
            env["BENCH_NAIVE_PIPELINE"] = str(pipeline)
        script = lua_script(payloads, work / "post.lua")

        def measure(port: int, seconds: float) -> Result:
            if client == "wrk":
                return with_wrk(port, script, args.connections, seconds, args.threads)
            return with_asyncio(port, payloads, args.connections, seconds)

        results: dict[str, Result] = {}
        for name, command in servers.items():
            log = work / f"{len(results)}.log"
            with serving(command, env, args.workers, log) as (port, group):
                if args.warmup > 0:
                    measure(port, args.warmup)
                before = cpu_seconds(group)
                result = measure(port, args.duration)
                used = cpu_seconds(group) - before
                results[name] = dataclasses.replace(result, cpu_seconds=used)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"POST /v1/triage over loopback, {args.duration:g} s per server after {args.warmup:g} "
        f"s of warm-up; load generator: {client}; {cores} cores shared by the servers and "
        f"the load generator; {len(payloads)} complaints in rotation"
    )
    if client == "asyncio":
        print("(the asyncio client saturates long before the bare endpoint does: its ratio")
        print(" understates the bare server; install wrk for comparable figures)")
    print()
    print(f"{'server':<24}{'workers':>8}{'connections':>13}{'req/s':>9}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'errors':>8}{'not stored':>12}{'server CPU ms/req':>19}")  # fmt: skip
    for name, r in results.items():
        cpu = r.cpu_seconds * 1000 / max(r.requests, 1)
        print(
            f"{name:<24}{args.workers:>8}{args.connections:>13}{r.rate:>9,.0f}{r.p50_ms:>9.1f}"
            f"{r.p99_ms:>9.1f}{r.errors:>8}{r.unstored:>12}{cpu:>19.2f}"
        )
    bare, triage = results["bare FastAPI endpoint"], results["complaint-triage"]
    share = triage.rate / bare.rate
    print()
    print(f"triage / bare: {share:.1%} of the requests per second")
    print(f"target: triage req/s >= 12% of bare: {verdict(share >= 0.12)}")
    print(f"target: triage p99 < 50 ms at {args.connections} connections: "
          f"{verdict(triage.p99_ms < 50)}")  # fmt: skip
    print(f"no errors and every triage stored: {verdict(triage.errors + triage.unstored == 0)}")


if __name__ == "__main__":
    main()
