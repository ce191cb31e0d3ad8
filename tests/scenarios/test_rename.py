"""Changing a resource's ``name:``: the old one is deleted (not the new name), and a new name
that is already taken by what this stack cannot prove its own is a conflict in the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_infra.clients import Clients

SPEC = """\
apiVersion: mlops-infra/v1
stack: renames
project: test-project
resources:
  data:
    kind: storage.Bucket
    name: {name}
    location: US
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
"""


def _write(path: Path, name: str) -> Path:
    path.write_text(SPEC.format(name=name))
    return path


def _buckets(emulator: Any) -> set[str]:
    storage = Clients(project="test-project", endpoints=emulator.endpoints).storage()
    return {b.name for b in storage.list_buckets(retry=None)}


def test_a_renamed_bucket_is_replaced_and_the_old_one_deleted(
        emulator, open_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _write(tmp_path / "spec.yaml", "rn-old-name")
    open_stack(spec).reconcile()
    _write(spec, "rn-new-name")
    emulator.clear_journal()
    plan, result = open_stack(spec).reconcile()
    assert result is not None and result.ok, result
    assert {"rn-old-name", "rn-new-name"} & _buckets(emulator) == {"rn-new-name"}
    deletes = [e.path for e in emulator.mutating_requests("storage")
               if e.method == "DELETE" and "/o/" not in e.path]      # not the lock object
    assert deletes == ["/storage/v1/b/rn-old-name"], deletes
    assert not open_stack(spec).plan().has_changes


def test_renaming_onto_a_bucket_that_is_not_ours_is_a_conflict(
        emulator, open_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _write(tmp_path / "spec.yaml", "rn-mine")
    open_stack(spec).reconcile()
    Clients(project="test-project", endpoints=emulator.endpoints).storage().create_bucket(
        "rn-theirs", retry=None)
    _write(spec, "rn-theirs")
    emulator.clear_journal()
    plan = open_stack(spec).plan()
    (change,) = [c for c in plan.resources if c.address == "data"]
    assert change.blocked and "conflict" in change.blocked and "rn-theirs" in change.blocked
    assert emulator.mutating_requests() == []
    assert {"rn-mine", "rn-theirs"} <= _buckets(emulator)
