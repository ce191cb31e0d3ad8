"""Measure plan and apply speed on a large stack against the emulator, with per-request latency.

    python benchmarks/bench_plan.py [--buckets 200] [--datasets 50] [--latency 0.02]

Prints: resources, requests made by a plan (and how many were list calls), plan seconds,
apply seconds, no-op reconcile seconds. Latency models a real API round trip; batching reads
into one list call per (kind, scope) is what keeps plans fast.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator


def _spec(buckets: int, datasets: int) -> str:
    lines = ["apiVersion: mlops-infra/v1", "stack: bench", "project: bench-project", "resources:"]
    for i in range(buckets):
        lines += [f"  b{i}:", "    kind: storage.Bucket", f"    name: bench-bucket-{i}",
                  "    labels: {team: ml}", "    versioning: true",
                  "    uniformBucketLevelAccess: true", "    publicAccessPrevention: enforced"]
    for i in range(datasets):
        lines += [f"  d{i}:", "    kind: bigquery.Dataset", f"    name: bench_ds_{i}",
                  "    labels: {team: ml}"]
        lines += [f"  t{i}:", "    kind: bigquery.Table", "    name: events",
                  f"    dataset: ${{d{i}.name}}", "    schema: [{name: id, type: STRING}]"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buckets", type=int, default=200)
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    os.environ.setdefault("MLOPS_INFRA_RETRY_SCALE", "0.05")
    with tempfile.TemporaryDirectory() as tmp, Emulator.start(services=("storage", "bigquery")) as emu:
        spec = Path(tmp) / "bench.yaml"
        spec.write_text(_spec(args.buckets, args.datasets))
        emu.set_latency(args.latency)
        with Stack.load(spec, endpoints=emu.endpoints) as stack:
            total = len(stack.spec.resources)
            emu.clear_journal()
            started = time.perf_counter()
            plan = stack.plan()
            plan_s = time.perf_counter() - started
            calls = Counter(e.method for e in emu.journal)
            started = time.perf_counter()
            result = stack.apply(plan, concurrency=16)
            apply_s = time.perf_counter() - started
            emu.clear_journal()
            started = time.perf_counter()
            noop_plan, _ = stack.reconcile()
            noop_s = time.perf_counter() - started
            noop_calls = len(emu.journal)
            mutating = len(emu.mutating_requests())
    print(f"resources: {total}  latency/request: {args.latency * 1000:.0f} ms")
    print(f"first plan: {plan_s:.2f} s, {sum(calls.values())} requests ({dict(calls)})")
    print(f"apply: {apply_s:.2f} s (ok={result.ok}, concurrency 16)")
    print(f"no-op reconcile: {noop_s:.2f} s, {noop_calls} requests, {mutating} mutating, "
          f"changes={noop_plan.has_changes}")


if __name__ == "__main__":
    main()
