"""examples/github-workflow.yml, its shell steps run with bash against the emulator.

The workflow is parsed as GitHub parses it; each step under test runs its own ``run:``
script with its own ``env:``, the ``${{ ... }}`` expressions replaced by the values GitHub
would give (an expression the test does not know fails the test), in a checkout-like directory
holding ``specs/platform.yaml``. The GitHub API steps (finding the PR's plan run, downloading
its artifact) are replaced by what they leave behind: the artifact's files where the next step
reads them. Covered: plan on a PR -> artifact -> apply on merge; a stale reviewed plan refused
and planned again for approval; the approved new plan applied (and refused in turn if stale);
a blocked plan and a bad spec are red checks; a fork PR is validated only.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-workflow.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

SPEC = """\
apiVersion: mlops-infra/v1
stack: gitops
project: test-project
resources:
  raw:
    kind: storage.Bucket
    name: gitops-raw-${env}
    location: US
    labels: {team: ml}
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  features:
    kind: bigquery.Dataset
    name: features_${env}
    location: US
environments:
  dev: {}
  prod: {}
"""


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _step(job: str, name: str) -> dict[str, Any]:
    steps = _workflow()["jobs"][job]["steps"]
    found = [s for s in steps if s.get("name") == name]
    assert len(found) == 1, f"job {job} has no single step named {name!r}"
    return found[0]


def _substitute(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        assert expr in values, f"the test gives no value for ${{{{ {expr} }}}}"
        return values[expr]
    return EXPRESSION.sub(value, text)


class Checkout:
    """A directory laid out like the runner's checkout, and the steps run in it."""

    def __init__(self, root: Path, endpoints: dict[str, str]) -> None:
        self.root = root
        self.endpoints = endpoints
        (root / "specs").mkdir(parents=True)
        self.spec = root / "specs" / "platform.yaml"
        self.spec.write_text(SPEC)

    def run(self, job: str, name: str, **values: str) -> tuple[subprocess.CompletedProcess[str],
                                                               dict[str, str], str]:
        """Run step ``name`` of ``job``: its process, its outputs and what it added to the
        job summary."""
        step = _step(job, name)
        values = {"matrix.env": "dev", **{k.replace("__", "."): v for k, v in values.items()}}
        script = self.root / ".step.sh"
        script.write_text(_substitute(step["run"], values))
        outputs, summary = self.root / ".outputs", self.root / ".summary"
        for path in (outputs, summary):
            path.write_text("")
        env = {k: v for k, v in os.environ.items() if k != "MLOPS_INFRA_ENDPOINTS"}
        env.update({k: str(v) for k, v in _workflow()["env"].items()})
        env.update({k: _substitute(str(v), values) for k, v in step.get("env", {}).items()})
        env.update(GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary),
                   MLOPS_INFRA_ENDPOINTS=json.dumps(self.endpoints),
                   MLOPS_INFRA_RETRY_SCALE="0.02",
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        proc = subprocess.run(["bash", "-e", str(script)], cwd=self.root, env=env, text=True,
                              capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
        lines = outputs.read_text().splitlines()
        return proc, dict(line.split("=", 1) for line in lines if "=" in line), summary.read_text()

    def upload_and_download(self, pattern: str, into: str = ".") -> list[str]:
        """What actions/upload-artifact keeps (``path`` glob) and download-artifact restores."""
        kept = sorted(glob.glob(str(self.root / pattern)))
        target = self.root / into
        target.mkdir(exist_ok=True)
        for path in kept:
            (target / Path(path).name).write_bytes(Path(path).read_bytes())
        return [Path(p).name for p in kept]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MLOPS_INFRA_ENDPOINTS": json.dumps(self.endpoints),
               "MLOPS_INFRA_RETRY_SCALE": "0.02"}
        return subprocess.run([sys.executable, "-m", "mlops_infra", *args], cwd=self.root,
                              env=env, text=True, capture_output=True, timeout=300,
                              stdin=subprocess.DEVNULL)


@pytest.fixture
def checkout(emulator, tmp_path: Path) -> Checkout:
    return Checkout(tmp_path / "repo", emulator.endpoints)


def _upload_path(job: str) -> str:
    step = next(s for s in _workflow()["jobs"][job]["steps"]
                if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    return _substitute(step["with"]["path"], {"matrix.env": "dev"})


def _mutated_outside_ledger(emulator) -> list[str]:
    ledger = f"{PROJECT}-mlops-infra-state"
    return [f"{e.method} {e.path}" for e in emulator.mutating_requests() if ledger not in e.path]


def test_plan_artifact_apply_then_a_stale_plan_is_planned_again_and_applied_once_approved(
        checkout: Checkout, emulator) -> None:
    # The pull request: plan, comment, artifact.
    proc, outputs, summary = checkout.run("plan", "Plan")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"changes": "true"}
    assert "### mlops-infra plan: stack gitops-dev" in summary and "```mermaid" in summary
    assert checkout.upload_and_download(_upload_path("plan"), into="reviewed") == [
        "plan-dev.json", "plan-dev.md"]

    # The merge: the reviewed plan is applied as it is.
    emulator.clear_journal()
    proc, outputs, _ = checkout.run("apply", "Apply the reviewed plan")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {} and "2 created" in proc.stdout + proc.stderr
    assert _mutated_outside_ledger(emulator)
    proc, outputs, _ = checkout.run("apply", "Say whether to plan again",
                                    steps__reviewed__outputs__found="true",
                                    steps__apply__outputs__stale="",
                                    steps__reviewed__outputs__why="")
    assert proc.returncode == 0 and outputs == {}

    # A second PR is planned; before it merges, another change moves the ledger.
    checkout.spec.write_text(SPEC.replace("labels: {team: ml}", "labels: {team: ml, tier: raw}"))
    proc, _, _ = checkout.run("plan", "Plan")
    assert proc.returncode == 0, proc.stderr
    checkout.upload_and_download(_upload_path("plan"), into="reviewed")
    other = SPEC.replace("labels: {team: ml}", "labels: {team: ml, owner: data}")
    (checkout.root / "other.yaml").write_text(other)
    assert checkout.cli("reconcile", "other.yaml", "--env", "dev",
                        "--auto-approve").returncode == 0

    # The merge of the second PR: its plan is refused as stale, nothing is applied blind.
    emulator.clear_journal()
    proc, outputs, _ = checkout.run("apply", "Apply the reviewed plan")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"stale": "true"} and "changed since the plan was made" in proc.stderr
    assert "::warning title=apply dev::the reviewed plan is stale" in proc.stdout
    assert _mutated_outside_ledger(emulator) == []
    proc, outputs, summary = checkout.run("apply", "Say whether to plan again",
                                          steps__reviewed__outputs__found="true",
                                          steps__apply__outputs__stale="true",
                                          steps__reviewed__outputs__why="")
    assert outputs == {"replan_dev": "true"} and "Planning again for approval" in summary

    # Planned again (read-only) and shown; applied only after approval, that very plan.
    emulator.clear_journal()
    proc, outputs, summary = checkout.run("replan", "Plan again")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"approve_dev": "true"} and "labels.tier" in summary
    assert "labels.owner" in summary                  # the other change is taken back, visibly
    assert emulator.mutating_requests() == []
    assert checkout.upload_and_download("replan-dev.json", into="approved") == ["replan-dev.json"]
    (checkout.root / "replan-dev.json").unlink()
    checkout.upload_and_download("approved/replan-dev.json")
    proc, _, _ = checkout.run("apply-replanned", "Apply the approved plan")
    assert proc.returncode == 0, proc.stderr
    assert checkout.cli("plan", "specs/platform.yaml", "--env", "dev",
                        "--detailed-exitcode").returncode == 0      # converged

    # An approved plan that went stale while it waited is refused too, and says what to do.
    checkout.spec.write_text(SPEC)
    proc, _, _ = checkout.run("replan", "Plan again")
    assert proc.returncode == 0, proc.stderr
    assert checkout.cli("reconcile", "other.yaml", "--env", "dev",
                        "--auto-approve").returncode == 0
    proc, _, _ = checkout.run("apply-replanned", "Apply the approved plan")
    assert proc.returncode == 1
    assert "re-run all jobs of this run to plan again" in proc.stdout


def test_replan_with_nothing_to_change_asks_no_approval(checkout: Checkout) -> None:
    assert checkout.cli("reconcile", "specs/platform.yaml", "--env", "dev",
                        "--auto-approve").returncode == 0
    proc, outputs, summary = checkout.run("replan", "Plan again")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {} and "Nothing to apply" in summary


def test_a_blocked_plan_is_a_red_check_with_the_plan_shown_and_nothing_to_apply(
        checkout: Checkout, emulator) -> None:
    from mlops_infra.clients import Clients

    Clients(project=PROJECT, endpoints=emulator.endpoints).storage(PROJECT).create_bucket(
        "gitops-raw-dev")                        # exists, not ours: a conflict blocks the plan
    proc, outputs, summary = checkout.run("plan", "Plan")
    assert proc.returncode == 1
    assert "::error title=plan dev::" in proc.stdout and "the plan is blocked" in proc.stderr
    assert "blocked" in summary and outputs == {}
    assert checkout.upload_and_download(_upload_path("plan"), into="reviewed") == ["plan-dev.md"]
    proc, _, _ = checkout.run("replan", "Plan again")
    assert proc.returncode == 1 and "::error title=replan dev::" in proc.stdout


def test_a_fork_pull_request_is_validated_without_any_identity(checkout: Checkout,
                                                               emulator) -> None:
    emulator.clear_journal()
    proc, _, summary = checkout.run("plan", "Validate only (a fork gets no identity token)")
    assert proc.returncode == 0, proc.stderr
    assert "not planned" in summary and "no\nidentity token" in summary
    assert emulator.journal == []
    checkout.spec.write_text(SPEC.replace("location: US\n    labels", "locaton: US\n    labels"))
    proc, _, _ = checkout.run("plan", "Validate only (a fork gets no identity token)")
    assert proc.returncode == 1 and "did you mean 'location'" in proc.stderr


def test_the_jobs_are_wired_as_the_header_says() -> None:
    jobs = _workflow()["jobs"]
    envs = jobs["plan"]["strategy"]["matrix"]["env"]
    assert envs == jobs["apply"]["strategy"]["matrix"]["env"] == jobs["replan"]["strategy"]["matrix"]["env"]
    for job in ("apply", "apply-replanned"):        # one run at a time per environment
        assert jobs[job]["concurrency"] == {"group": "mlops-infra-${{ matrix.env }}",
                                            "cancel-in-progress": False}
    for job, outputs in (("apply", "replan"), ("replan", "approve")):
        assert set(jobs[job]["outputs"]) == {f"{outputs}_{env}" for env in envs}
        ids = {s.get("id") for s in jobs[job]["steps"]}
        for value in jobs[job]["outputs"].values():
            assert EXPRESSION.fullmatch(value)[1].split(".")[1] in ids
    identities = {job: {s["with"]["service_account"] for s in spec["steps"]
                        if str(s.get("uses", "")).startswith("google-github-actions/auth")}
                  for job, spec in jobs.items()}
    assert identities == {"plan": {"${{ vars.PLAN_SA }}"}, "comment": set(),
                          "apply": {"${{ vars.DEPLOY_SA }}"}, "replan": {"${{ vars.PLAN_SA }}"},
                          "to-approve": set(), "apply-replanned": {"${{ vars.DEPLOY_SA }}"}}
    assert _workflow()["permissions"] == {}
    for job in ("plan", "replan"):                   # the PR's code runs with no write right
        assert jobs[job]["permissions"].get("contents") == "read"
        assert "environment" not in jobs[job]
    assert jobs["apply-replanned"]["environment"] == "${{ matrix.env }}-replan"
