"""JSON rendering of a ``Plan``: the stable, documented shape a saved plan has.

``render_json(plan)`` is ``plan.to_json()``; ``Plan.from_json`` reads it back
unchanged (CI plans on a pull request and applies the same file on merge), and refuses a
file whose ``digest`` does not match its contents (damaged or edited by hand).

Shape (format_version 2)::

    {
      "format_version": 2,              # bumped on any incompatible change; readers refuse others
      "stack": "ml-platform",           # stack name from the spec
      "project": "my-project",          # GCP project id
      "env": "dev" | null,              # environment overlay, if any
      "spec_path": "specs/dev.yaml",
      "ledger_location": "gs://bucket/prefix/ml-platform.json",   # or a local file (--local):
                                        # `apply` finds the ledger from this alone
      "ledger_generation": 17,          # the ledger object generation planned against;
                                        # apply refuses the plan if the ledger has moved since
      "created_at": "2024-05-01T12:00:00Z",
      "has_changes": true,              # derived: any resource whose action is not "noop"
      "summary": {"create": 2, "update": 1, "replace": 0, "delete": 0, "noop": 3},  # derived
      "resources": [                    # dependency order; deletes last, in reverse order
        {
          "address": "raw-data",        # the key under `resources:` in the spec
          "kind": "storage.Bucket",
          "id": "projects/my-project/buckets/raw-data",   # API name ("" until the server names it)
          "action": "create" | "update" | "replace" | "delete" | "abandon" | "noop",
          "changes": [                  # leaf differences, only paths the user wrote
            {"path": "labels.env", "op": "add" | "change" | "remove",
             "old": <json or null>, "new": <json or null>, "forces_replace": false}
          ],
          "desired": {...} | null,      # REST-shaped body to apply (null for deletes)
          "depends_on": ["<address>", ...],
          "reason": "..." | null,       # why this action (e.g. "immutable field(s) location")
          "blocked": "..." | null,      # why it cannot be applied; apply refuses the plan
          "parts": {"project": "...", ...},   # identity pieces the kind needs for API calls
          "scope": "projects/my-project",     # list scope
          "outputs": {"url": "gs://raw-data"},
          "adopt": false,               # exists live, provably ours, not yet in the ledger
          "adopt_reason": "..." | null, # how it was proven ours (labels, an intent, adopt: true)
          "previous_id": "..." | null,  # a replace deletes this API name first (a rename)
          "moved_from": "..." | null,   # ledger key of the same resource at its old address
          "preexisting": ["<path>"],    # parts of a shared thing that were there before us
          "notes": ["..."],             # e.g. removals left in place
          "restart": "..." | null       # an update that stops and restarts it: why
        }
      ],
      "outputs": {...},                 # stack outputs known at plan time
      "ledger_sync": false,             # ledger must be written even without API changes
      "notes": ["..."],                 # plan-wide notes (e.g. the ledger was migrated)
      "digest": "<sha256>"              # of everything above, in canonical JSON
    }

``has_changes`` and ``summary`` are written for readers (CI scripts, jq) and
ignored when the plan is read back.
"""

from __future__ import annotations

from mlops_infra.engine.plan import Plan


def render_json(plan: Plan) -> str:
    """The plan as indented JSON (see the module docstring for the shape)."""
    return plan.to_json()
