"""Hand-built plans and results for the report tests (pure data, no emulator)."""

from __future__ import annotations

from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.result import ApplyResult, Outcome


def bucket(address: str, action: Action, *changes: FieldChange, **extra: object) -> ResourceChange:
    desired = None if action is Action.DELETE else {"name": address, "location": "EU"}
    return ResourceChange(address=address, kind="storage.Bucket",
                          id=f"projects/p/buckets/{address}", action=action, changes=changes,
                          desired=desired, parts={"project": "p", "bucket": address},
                          scope="projects/p", **extra)  # type: ignore[arg-type]


def plan_of(*resources: ResourceChange, ledger_sync: bool = False) -> Plan:
    return Plan(stack="ml", project="p", env="dev", spec_path="specs/dev.yaml",
                ledger_location="gs://ledgers/ml.json", ledger_generation=7,
                created_at="2024-05-01T12:00:00Z", resources=resources,
                outputs={"raw-data": {"url": "gs://raw-data"}}, ledger_sync=ledger_sync)


def create() -> ResourceChange:
    return bucket("raw-data", Action.CREATE,
                  FieldChange(path="labels.env", op="add", new="dev"),
                  FieldChange(path="storageClass", op="add", new="STANDARD"),
                  outputs={"url": "gs://raw-data"})


def update() -> ResourceChange:
    return bucket("models", Action.UPDATE,
                  FieldChange(path="storageClass", op="change", old="STANDARD", new="NEARLINE"),
                  FieldChange(path="labels.old", op="remove", old="x"),
                  FieldChange(path="versioning.enabled", op="add", new=True))


def replace() -> ResourceChange:
    return bucket("features", Action.REPLACE,
                  FieldChange(path="location", op="change", old="US", new="EU",
                              forces_replace=True),
                  FieldChange(path="labels.team", op="add", new="ml"),
                  reason="immutable field(s) location", depends_on=("raw-data",))


def delete() -> ResourceChange:
    return bucket("scratch", Action.DELETE, reason="removed from the spec")


def noop(address: str = "logs") -> ResourceChange:
    return bucket(address, Action.NOOP)


def blocked() -> ResourceChange:
    return bucket("archive", Action.DELETE, reason="removed from the spec",
                  blocked="bucket holds objects; set allow_delete: true to destroy data")


def adopted() -> ResourceChange:
    return bucket("exports", Action.NOOP, adopt=True, adopt_reason="its labels name this stack")


def spared() -> ResourceChange:
    """A shared thing whose pre-existing part was removed from the spec, and a moved address."""
    return ResourceChange(address="access", kind="storage.BucketBindings",
                          id="projects/p/buckets/raw/iamBindings/access", action=Action.NOOP,
                          desired={"bindings": {}}, moved_from="storage.BucketBindings:old-access",
                          notes=('bindings.roles/storage.objectViewer.group:ml@acme.com: existed '
                                 'before this stack applied it; left in place',))


def nasty() -> ResourceChange:
    """Values that must be escaped in Markdown and HTML."""
    return ResourceChange(address="a|b", kind="storage.Bucket", id="projects/p/buckets/a-b",
                          action=Action.UPDATE, desired={"labels": {"x": "<script>"}},
                          changes=(FieldChange(path="labels.x", op="change", old="a|b",
                                               new="<script>alert(1)</script>"),
                                   FieldChange(path="labels.ticks", op="add", new="```"),))


CASES = {
    "create": lambda: plan_of(create()),
    "update": lambda: plan_of(update(), noop()),
    "replace": lambda: plan_of(replace()),
    "delete": lambda: plan_of(delete()),
    "noop": lambda: plan_of(noop(), noop("tmp")),
    "noop_ledger_sync": lambda: plan_of(noop(), ledger_sync=True),
    "blocked": lambda: plan_of(blocked(), noop()),
    "spared": lambda: plan_of(spared()),
    "adopt": lambda: plan_of(adopted(), create()),
    "mixed": lambda: plan_of(create(), update(), replace(), noop(), noop("tmp"), delete()),
    "escaping": lambda: plan_of(nasty()),
}


def outcome(address: str, action: Action, status: str = "done", **extra: object) -> Outcome:
    return Outcome(address=address, kind="storage.Bucket", action=action, status=status,
                   **extra)  # type: ignore[arg-type]


def failed_result() -> ApplyResult:
    return ApplyResult(outcomes=(
        outcome("raw-data", Action.CREATE, seconds=0.4),
        outcome("models", Action.UPDATE, seconds=1.2),
        outcome("features", Action.REPLACE, "failed",
                error="403 caller lacks storage.buckets.create"),
        outcome("exports", Action.UPDATE, "skipped", error="depends on failed change features"),
    ), outputs={"raw-data": {"url": "gs://raw-data"}, "region": "europe-west1"}, seconds=3.21)
