"""The performance harness: prints every figure of the plan/apply goals in one run.

    python benchmarks/harness.py [--quick] [--sizes 500,1000,2000,5000]

The emulator runs in its own process (``benchmarks/emulator_process.py``) with per-request
latency, like a real API; the spec is the platform mix (``benchmarks/platform_mix.py``).
Printed, never asserted:

1. reads of a no-op plan of ~500 resources at 50 ms per request, by call, against two
   models measured in the same run on the same emulator: one GET per resource in sequence,
   and GETs 10 at a time (Terraform's default parallelism; median of 3, as the plan is);
2. a fresh apply of ~212 resources at 100 ms per call and 1 s operations, against the DAG
   floor (critical path x (call + operation), and the same path weighted by which kinds
   really wait on an operation), and the ledger writes it made (rate, count);
3. no-op plan time (no latency) and fresh-plan peak memory at each size;
4. ``reconcile examples/quickstart.yaml --local`` with nothing to do (median of 5).

Setting up the large stacks takes a few minutes; ``--quick`` uses small sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator_process import EmulatorProcess  # noqa: E402
from platform_mix import platform_mix  # noqa: E402

from mlops_infra.api import Stack  # noqa: E402
from mlops_infra.engine.plan import Plan  # noqa: E402
from mlops_infra.engine.resolve import resolve_resources  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OPERATION_KINDS = ("serviceusage.", "compute.")     # kinds whose writes wait on an operation
FAST = {"operation": 0.02, "operations": {"serviceusage": 0.02, "compute": 0.02},
        "apiEnablement": 0, "iamPolicy": 0, "serviceAccount": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--sizes", default="500,1000,2000,5000")
    args = parser.parse_args()
    os.environ.setdefault("MLOPS_INFRA_RETRY_SCALE", "0.05")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    sizes = [60, 120] if args.quick else [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        noop_reads(work, 100 if args.quick else 500)
        fresh_apply(work, 60 if args.quick else 212)
        scaling(work, sizes)
        quickstart(work)


# --- 1. reads of a no-op plan ------------------------------------------------------------

def noop_reads(work: Path, size: int) -> None:
    with EmulatorProcess() as emu:
        emu.delays(**FAST)
        stack = _applied_stack(work, emu, size, "reads")
        emu.latency(0.05)
        emu.clear_journal()
        started = time.perf_counter()
        plan = stack.plan()
        times = [time.perf_counter() - started]
        journal = emu.journal()
        times += [_timed(stack.plan) for _ in range(2)]
        plan_s = statistics.median(times)
        sequential_s, parallel = _get_models(stack)
        parallel_s = statistics.median(parallel)
        stack.close()
    calls = Counter(_call(e) for e in journal)
    mutating = sum(1 for e in journal if e.get("mutating"))
    print(f"\n## 1. No-op plan of {len(plan.resources)} resources, 50 ms per request")
    print(f"reads: {len(journal)} requests ({mutating} mutating), changes: {plan.has_changes}")
    for call, count in calls.most_common():
        print(f"  {count:5d}  {call}")
    print(f"no-op plan: {plan_s:.2f} s (median of {', '.join(f'{t:.2f}' for t in times)})")
    print(f"one GET per resource, sequential: {sequential_s:.2f} s  -> plan is "
          f"{sequential_s / plan_s:.1f}x faster")
    print(f"GETs 10 at a time: {parallel_s:.2f} s (median of "
          f"{', '.join(f'{t:.2f}' for t in parallel)})  -> plan is {parallel_s / plan_s:.1f}x faster")


def _get_models(stack: Stack) -> tuple[float, list[float]]:
    """Time reading each planned resource with one GET: in sequence once, 10 at a time three
    times (a median, as the plan's figure is)."""
    resolved = resolve_resources(stack.spec, kinds=stack.kinds)
    rids = [r.rid for r in resolved.values()]

    def get(rid: Any) -> Any:
        return stack.kinds[rid.kind].get(rid)

    started = time.perf_counter()
    for rid in rids:
        get(rid)
    sequential = time.perf_counter() - started
    parallel = []
    for _ in range(3):
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(get, rids))
        parallel.append(time.perf_counter() - started)
    return sequential, parallel


def _call(entry: dict[str, Any]) -> str:
    """A journal entry as ``service METHOD path-shape`` (ids replaced by ``*``)."""
    parts = [p if not _looks_like_an_id(p, i) else "*" for i, p in enumerate(entry["path"].split("/"))]
    return f"{entry['service']} {entry['method']} {'/'.join(parts)}"


def _looks_like_an_id(part: str, index: int) -> bool:
    return any(ch.isdigit() for ch in part) or part.startswith(("bench", "projects%2F")) \
        or "@" in part or part.endswith(".googleapis.com")


# --- 2. a fresh apply against the DAG floor -----------------------------------------------

def fresh_apply(work: Path, size: int) -> None:
    call, operation = 0.1, 1.0
    with EmulatorProcess() as emu:
        emu.delays(operation=operation, operations={"serviceusage": operation, "compute": operation},
                   apiEnablement=0, iamPolicy=0, serviceAccount=0)
        emu.latency(call)
        stack = _stack(work, emu, size, "apply")
        plan = stack.plan()
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        result = stack.apply(plan)
        apply_s = time.perf_counter() - started
        writes, locks = _object_writes(stack, since=started_at)
        stack.close()
    nodes, weighted = _critical_path(plan, call, operation)
    floor = nodes * (call + operation)
    print(f"\n## 2. Fresh apply of {len(plan.resources)} resources, {call * 1000:.0f} ms per call, "
          f"{operation:.0f} s operations (default concurrency)")
    print(f"apply: {apply_s:.2f} s, ok={result.ok}")
    print(f"DAG floor, critical path of {nodes} x (call + operation): {floor:.2f} s -> "
          f"apply is {apply_s / floor:.2f}x the floor")
    print(f"DAG floor weighted by the kinds that wait on operations: {weighted:.2f} s -> "
          f"{apply_s / weighted:.2f}x")
    print(f"ledger writes: {len(writes)} in {apply_s:.1f} s; closest two "
          f"{_closest(writes):.2f} s apart; at most {_per_second(writes)} in any second "
          f"(and {locks} write(s) of the lock object)")


def _critical_path(plan: Plan, call: float, operation: float) -> tuple[int, float]:
    by_address = {c.address: c for c in plan.resources if c.mutates}
    memo: dict[str, tuple[int, float]] = {}

    def depth(address: str) -> tuple[int, float]:
        if address not in memo:
            change = by_address[address]
            below = [depth(d) for d in change.depends_on if d in by_address]
            cost = call + (operation if change.kind.startswith(OPERATION_KINDS) else 0.0)
            memo[address] = (1 + max((b[0] for b in below), default=0),
                             cost + max((b[1] for b in below), default=0.0))
        return memo[address]

    paths = [depth(a) for a in by_address]
    return max(p[0] for p in paths), max(p[1] for p in paths)


def _object_writes(stack: Stack, *, since: datetime) -> tuple[list[float], int]:
    """When the ledger object was written since ``since`` (seconds, from its versions: the
    ledger bucket keeps every one), and how many times the lock object was."""
    bucket = stack.spec.ledger_bucket
    versions = [blob for blob in stack.clients.storage().list_blobs(bucket, versions=True)
                if blob.time_created >= since]
    ledger = sorted(b.time_created.timestamp() for b in versions if b.name.endswith(".json"))
    return ledger, sum(1 for b in versions if b.name.endswith(".lock"))


def _closest(times: list[float]) -> float:
    return min((b - a for a, b in zip(times, times[1:])), default=float("nan"))


def _per_second(times: list[float]) -> int:
    return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


# --- 3. scaling ------------------------------------------------------------------------------

def scaling(work: Path, sizes: list[int]) -> None:
    print("\n## 3. Scaling, no latency")
    print("| resources | no-op plan | fresh plan | fresh plan peak RSS |")
    print("|---|---|---|---|")
    for size in sizes:
        with EmulatorProcess() as emu:
            emu.delays(**FAST)
            fresh_s, peak_mb = _fresh_plan_in_a_process(work, emu, size)
            stack = _applied_stack(work, emu, size, f"scale{size}")
            noop = min(_timed(stack.plan) for _ in range(3))
            count = len(stack.spec.resources)
            stack.close()
        print(f"| {count} | {noop:.2f} s | {fresh_s:.2f} s | {peak_mb:.0f} MB |", flush=True)


def _fresh_plan_in_a_process(work: Path, emu: EmulatorProcess, size: int) -> tuple[float, float]:
    spec = work / f"fresh-{size}.yaml"
    spec.write_text(platform_mix(size, stack=f"fresh{size}"))
    # The peak is the process's own high-water mark (VmHWM). ``ru_maxrss`` is not: Linux
    # carries the parent's resident size across fork and exec into it, so it read as this
    # harness's size whenever that was larger (257-261 MB at 4,530 resources, 233 MB real).
    probe = ("import json, re, resource, sys, time; from pathlib import Path; "
             "from mlops_infra.api import Stack; "
             "stack = Stack.load(sys.argv[1]); t = time.perf_counter(); stack.plan(); "
             "status = Path('/proc/self/status'); "
             "hwm = re.search(r'VmHWM:\\s+(\\d+)', status.read_text()) if status.exists() else None; "
             "peak = int(hwm.group(1)) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
             "print(json.dumps([time.perf_counter() - t, peak / 1024]))")
    env = {**os.environ, "MLOPS_INFRA_ENDPOINTS": json.dumps(emu.endpoints)}
    out = subprocess.run([sys.executable, "-c", probe, str(spec)], capture_output=True,
                         text=True, env=env, check=True).stdout
    seconds, peak = json.loads(out.strip().splitlines()[-1])
    return float(seconds), float(peak)


# --- 4. the quickstart ------------------------------------------------------------------------

def quickstart(work: Path) -> None:
    home = work / "quickstart"
    home.mkdir()
    spec = home / "quickstart.yaml"
    spec.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    command = [sys.executable, "-m", "mlops_infra", "reconcile", str(spec), "--local",
               "--auto-approve"]
    subprocess.run(command, cwd=home, capture_output=True, check=True)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(command, cwd=home, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    print(f"\n## 4. reconcile examples/quickstart.yaml --local, nothing to do: "
          f"{statistics.median(times):.2f} s (median of 5; min {min(times):.2f} s)")
    print(f"   PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}, "
          f"max RSS of this harness so far: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")


# --- helpers -----------------------------------------------------------------------------------

def _stack(work: Path, emu: EmulatorProcess, size: int, stack: str) -> Stack:
    spec = work / f"{stack}.yaml"
    spec.write_text(platform_mix(size, stack=stack))
    return Stack.load(spec, endpoints=emu.endpoints)


def _applied_stack(work: Path, emu: EmulatorProcess, size: int, name: str) -> Stack:
    stack = _stack(work, emu, size, name)
    result = stack.apply(stack.plan(), concurrency=64)
    if not result.ok:
        raise SystemExit(f"setup apply failed: {list(result.failures.items())[:3]}")
    return stack


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
