"""Unit tests of kinds/_base.py: error translation, merge-patch bodies, int64 and labels."""

from __future__ import annotations

import pytest
import requests
import urllib3
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

from mlops_infra.engine import errors
from mlops_infra.engine.kind import FieldChange
from mlops_infra.kinds._base import (
    check_labels,
    int64,
    merge_patch,
    patch_body,
    translate,
    translate_errors,
)


@pytest.mark.parametrize("status, expected", [
    (404, errors.NotFound), (409, errors.Conflict), (412, errors.PreconditionFailed),
    (429, errors.TransientError), (500, errors.TransientError), (502, errors.TransientError),
    (503, errors.TransientError), (504, errors.TransientError), (400, errors.PermanentError),
    (403, errors.PermanentError),
])
def test_http_statuses_map_to_engine_errors(status: int, expected: type) -> None:
    exc = gexc.from_http_status(status, "boom")
    translated = translate(exc, "bucket b")
    assert type(translated) is expected
    assert translated.status == status
    assert str(translated).startswith(f"{status} ")
    assert "bucket b: boom" in str(translated)


def test_rate_limit_403_is_transient() -> None:
    exc = gexc.Forbidden("slow down", errors=[{"reason": "rateLimitExceeded"}])
    assert isinstance(translate(exc), errors.TransientError)


@pytest.mark.parametrize("exc", [
    requests.exceptions.ConnectionError("reset"), requests.exceptions.ReadTimeout("slow"),
    requests.exceptions.ChunkedEncodingError("cut"), urllib3.exceptions.ProtocolError("bad"),
    ConnectionResetError("reset by peer"), auth_exc.TransportError("no route"),
    gexc.DeadlineExceeded("late"), gexc.ServiceUnavailable("down"),
])
def test_transport_failures_are_transient(exc: BaseException) -> None:
    assert isinstance(translate(exc), errors.TransientError)


def test_context_manager_translates_and_chains() -> None:
    with pytest.raises(errors.Conflict) as info, translate_errors("bucket demo-raw"):
        raise gexc.Conflict("already exists")
    assert str(info.value) == "409 Conflict: bucket demo-raw: already exists"
    assert isinstance(info.value.__cause__, gexc.Conflict)


def test_decorator_form_and_passthrough() -> None:
    @translate_errors()
    def failing(exc: BaseException) -> None:
        raise exc

    with pytest.raises(errors.NotFound):
        failing(gexc.NotFound("gone"))
    with pytest.raises(KeyError):  # not Google's: untouched
        failing(KeyError("x"))
    with pytest.raises(errors.PermanentError, match="ours"):  # already ours: untouched
        failing(errors.PermanentError("ours"))


def test_long_messages_are_cut_to_one_short_line() -> None:
    translated = translate(gexc.BadRequest("x" * 1000 + "\nsecond line"))
    assert "\n" not in str(translated) and len(str(translated)) < 350


def test_merge_patch_sets_new_values_and_nulls_removed_leaves() -> None:
    changes = [
        FieldChange(path="labels.team", op="change", old="a", new="b"),
        FieldChange(path="labels.old", op="remove", old="x"),
        FieldChange(path="versioning.enabled", op="add", new=True),
        FieldChange(path="lifecycle.rule", op="change", old=[], new=[{"action": {"type": "Delete"}}]),
        FieldChange(path="description", op="remove", old="d"),
    ]
    assert merge_patch(changes) == {
        "labels": {"team": "b", "old": None},
        "versioning": {"enabled": True},
        "lifecycle": {"rule": [{"action": {"type": "Delete"}}]},
        "description": None,
    }


def test_merge_patch_parent_then_child_paths_combine() -> None:
    changes = [FieldChange(path="a.b", op="add", new=1), FieldChange(path="a", op="add", new={"c": 2})]
    assert merge_patch(changes) == {"a": {"c": 2, "b": 1}}


@pytest.mark.parametrize("value, expected", [
    (3600, "3600"), ("3600", "3600"), ("007", "7"), (None, None), (True, True), ("P1D", "P1D"),
])
def test_int64_is_the_rest_string(value: object, expected: object) -> None:
    assert int64(value) == expected


@pytest.mark.parametrize("labels", [{"Team": "a"}, {"team": "A"}, {"1team": "a"},
                                    {"team": "a b"}, {"t" * 64: "a"}])
def test_bad_labels_are_refused(labels: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        check_labels(labels)


def test_good_labels_pass() -> None:
    labels = {"team": "ml-platform", "cost_center": "", "env": "${vars.env}"}
    assert check_labels(labels) == labels


def test_patch_body_completes_touched_maps_with_the_desired_value() -> None:
    desired = {"iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True},
                                    "publicAccessPrevention": "enforced"},
               "labels": {"team": "b", "managed-by": "mlops-infra"}, "storageClass": "STANDARD"}
    changes = [FieldChange(path="iamConfiguration.publicAccessPrevention", op="add", new="enforced"),
               FieldChange(path="labels.team", op="change", old="a", new="b"),
               FieldChange(path="labels.old", op="remove", old="x"),
               FieldChange(path="retentionPolicy.retentionPeriod", op="remove", old="60")]
    assert patch_body(desired, changes) == {
        "iamConfiguration": desired["iamConfiguration"],
        "labels": {"team": "b", "managed-by": "mlops-infra", "old": None},
        "retentionPolicy": {"retentionPeriod": None},
    }
