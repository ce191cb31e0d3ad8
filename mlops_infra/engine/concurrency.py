"""How many API calls the engine makes at once, by default (the CLI's ``--concurrency``).

Kept in a module of its own so the command line can show the defaults without importing
the engine.
"""

APPLY_CONCURRENCY = 32
"""Changes applied at once. Most of a change's time is spent waiting on an operation, not
calling, so 32 keeps an apply on its critical path (measured: ``benchmarks/harness.py``, a
212-resource platform at 100 ms per call and 1 s operations, 1.3x the DAG floor at 16 and
1.0x at 32) while staying far under the per-project write quotas (Compute Engine allows
1,500 operation writes a minute); a 429 is retried with backoff."""

READ_CONCURRENCY = 32
"""Reads made at once while planning; a 429 pauses them all (``engine.throttle``)."""

MOST_AT_ONCE = 64
"""The most calls any phase makes at once (the CLI's ``--concurrency`` goes up to it): each
REST client keeps that many connections per host open for reuse (``clients.widen_pools``)."""
