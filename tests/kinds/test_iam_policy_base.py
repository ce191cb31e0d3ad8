"""The pure core of IAM binding kinds: desired shape, diff, and policy edits that keep others' bindings."""

from __future__ import annotations

from mlops_infra.engine.diff import diff
from mlops_infra.kinds._iam_policy import (
    apply_changes,
    binding_key,
    desired_bindings,
    normalized_policy,
)

LIVE = {"etag": "BwX=", "version": 1, "bindings": [
    {"role": "roles/viewer", "members": ["user:boss@acme.com"]},
    {"role": "roles/storage.objectViewer", "members": ["group:data@acme.com"]},
]}


def _desired(*bindings: dict) -> dict:
    return desired_bindings(list(bindings))


def test_additive_add_keeps_bindings_we_do_not_manage() -> None:
    want = _desired({"role": "roles/storage.objectViewer", "members": ["serviceAccount:t@p.iam.gserviceaccount.com"]})
    changes = diff(want, normalized_policy(LIVE))
    assert [(c.path, c.op) for c in changes] == [
        ('bindings["roles/storage.objectViewer"]["serviceAccount:t@p.iam.gserviceaccount.com"]', "add")]
    policy = apply_changes(LIVE, want, changes)
    assert policy["bindings"] == [
        {"role": "roles/viewer", "members": ["user:boss@acme.com"]},
        {"role": "roles/storage.objectViewer",
         "members": ["group:data@acme.com", "serviceAccount:t@p.iam.gserviceaccount.com"]}]
    assert policy["etag"] == "BwX="


def test_three_way_removal_takes_back_only_our_member() -> None:
    last = _desired({"role": "roles/storage.objectViewer", "members": ["group:data@acme.com", "user:x@acme.com"]})
    live = {**LIVE, "bindings": [*LIVE["bindings"][:1],
                                 {"role": "roles/storage.objectViewer",
                                  "members": ["group:data@acme.com", "user:x@acme.com", "user:other@acme.com"]}]}
    want = _desired({"role": "roles/storage.objectViewer", "members": ["group:data@acme.com"]})
    changes = diff(want, normalized_policy(live), last)
    assert [(c.path, c.op) for c in changes] == [('bindings["roles/storage.objectViewer"]["user:x@acme.com"]', "remove")]
    policy = apply_changes(live, want, changes)
    assert policy["bindings"][1]["members"] == ["group:data@acme.com", "user:other@acme.com"]


def test_authoritative_role_removes_unlisted_members() -> None:
    want = _desired({"role": "roles/storage.objectViewer", "members": ["user:only@acme.com"]})
    exact = ('bindings["roles/storage.objectViewer"]',)
    changes = diff(want, normalized_policy(LIVE), None, exact=exact)
    assert sorted((c.path, c.op) for c in changes) == [
        ('bindings["roles/storage.objectViewer"]["group:data@acme.com"]', "remove"),
        ('bindings["roles/storage.objectViewer"]["user:only@acme.com"]', "add")]
    policy = apply_changes(LIVE, want, changes)
    assert policy["bindings"][1] == {"role": "roles/storage.objectViewer", "members": ["user:only@acme.com"]}
    assert policy["bindings"][0]["role"] == "roles/viewer"


def test_conditional_binding_is_its_own_entry_with_policy_version_3() -> None:
    cond = {"title": "until-2027", "expression": 'request.time < timestamp("2027-01-01T00:00:00Z")'}
    want = _desired({"role": "roles/storage.objectViewer", "members": ["user:t@acme.com"], "condition": cond})
    key = binding_key("roles/storage.objectViewer", cond)
    assert key.startswith("roles/storage.objectViewer if until-2027#")
    policy = apply_changes(LIVE, want, diff(want, normalized_policy(LIVE)))
    assert policy["version"] == 3
    assert {"role": "roles/storage.objectViewer", "members": ["user:t@acme.com"], "condition": cond} in policy["bindings"]
    assert not diff(want, normalized_policy(policy))
    changed = _desired({"role": "roles/storage.objectViewer", "members": ["user:t@acme.com"],
                        "condition": {**cond, "expression": "true"}})
    assert diff(changed, normalized_policy(policy), want)   # a new expression is a new binding


def test_emptied_binding_is_dropped() -> None:
    last = _desired({"role": "roles/x", "members": ["user:a@acme.com"]})
    live = {"etag": "e", "bindings": [{"role": "roles/x", "members": ["user:a@acme.com"]}]}
    changes = diff(_desired({"role": "roles/y", "members": ["user:a@acme.com"]}), normalized_policy(live), last)
    policy = apply_changes(live, {}, changes)
    assert policy["bindings"] == [{"role": "roles/y", "members": ["user:a@acme.com"]}]
