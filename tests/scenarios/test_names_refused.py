"""Names and values the API would reject never reach it (issue 6).

Each fixture in ``tests/fixtures/specs/names/`` breaks one rule and marks the offending line
with ``# expect: FIELD: FRAGMENT``. ``reconcile --auto-approve`` on it (the CLI's own entry
point, in this process, against an emulator of every service) must exit 1 with one line
``error: FILE:LINE: FIELD: ...`` containing the fragment, having sent no request at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_infra import cli
from mlops_infra.emulator import Emulator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "names"
SERVICES = ("storage", "bigquery", "iam", "kms", "compute", "serviceusage", "resourcemanager")
_MARK = re.compile(r"#\s*expect:\s*([^:]+):\s*(.+?)\s*$")


@dataclass(frozen=True)
class Expected:
    line: int
    field: str
    fragment: str


def expected(path: Path) -> Expected:
    """The line marked ``# expect: FIELD: FRAGMENT`` (exactly one per fixture)."""
    marks = [(number, _MARK.search(text)) for number, text in
             enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)]
    found = [(number, m) for number, m in marks if m]
    assert len(found) == 1, f"{path.name}: mark exactly one line with '# expect:'"
    number, match = found[0]
    return Expected(number, match[1].strip(), match[2])


@pytest.fixture(scope="module")
def every_service() -> Iterator[Emulator]:
    emulator = Emulator.start(services=SERVICES)
    try:
        yield emulator
    finally:
        emulator.stop()


CASES = sorted(p.name for p in FIXTURES.glob("*.yaml"))


def test_there_is_a_fixture_per_rule() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES)
def test_rule_breach_is_one_located_line_exit_1_and_no_request(
        case: str, every_service: Emulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = FIXTURES / case
    want = expected(path)
    monkeypatch.setenv("MLOPS_INFRA_ENDPOINTS", json.dumps(every_service.endpoints))
    monkeypatch.chdir(tmp_path)
    every_service.clear_journal()

    code = cli.run(["reconcile", str(path), "--auto-approve"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1, err
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {path}:{want.line}: {want.field}: "), err[0]
    assert want.fragment in err[0], err[0]
    assert every_service.journal == []


def test_the_same_spec_with_the_breach_fixed_plans(every_service: Emulator,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    """The fixtures fail for their marked value only: fixed, the spec plans (reads only)."""
    spec = tmp_path / "fixed.yaml"
    text = (FIXTURES / "bucket_name_chars.yaml").read_text(encoding="utf-8")
    spec.write_text(text.replace("name: Raw_Data", "name: raw_data").replace(
        "    kind: storage.Bucket\n",
        "    kind: storage.Bucket\n    uniformBucketLevelAccess: true\n"
        "    publicAccessPrevention: enforced\n"), encoding="utf-8")
    monkeypatch.setenv("MLOPS_INFRA_ENDPOINTS", json.dumps(every_service.endpoints))
    every_service.clear_journal()
    assert cli.run(["reconcile", str(spec), "--dry-run"]) == 0, capsys.readouterr().err
    assert every_service.journal and every_service.mutating_requests() == []
