"""Google Cloud identifiers the spec itself carries: project ids, the shape of a region, and
bucket names (the ledger's bucket; ``storage.Bucket`` checks its names with the same rule).

A project id is not per kind (the top-level ``project`` and every resource's ``project``
name one), so its rule lives here rather than in a kind; the default ``region`` is checked
here too, and the kinds' location rules (``kinds/_names.py``) build on ``REGION``.

Each ``*_problem(value)`` says why Google would reject ``value`` as one line (the rule,
and a "did you mean" when an obvious fix fits), or returns ``None``. Values holding
``${...}`` are the caller's to skip: they are checked once resolved, if at all.
"""

from __future__ import annotations

import re

from mlops_infra.spec.hints import clipped_repr

_SHOWN = 80

# Project ids: https://cloud.google.com/resource-manager/docs/creating-managing-projects
# ("6 to 30 characters", "lowercase letters, numbers, and hyphens", "must start with a letter",
# "cannot end with a hyphen"); the same words in the ``projectId`` field of
# https://cloud.google.com/resource-manager/reference/rest/v1/projects
PROJECT_ID = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]")
PROJECT_ID_RULE = ("6-30 lowercase letters, digits or '-', starting with a letter and not "
                   "ending with '-'")

# A region by its shape, never by a list of today's regions (a list goes stale each time
# Google opens one): https://cloud.google.com/compute/docs/regions-zones names them
# geography-direction-number ("us-central1", "europe-west4", "northamerica-northeast1").
REGION = re.compile(r"[a-z]+(?:-[a-z]+)+[0-9]+")
REGION_RULE = "a region looks like 'us-central1': lowercase words joined by '-', then a number"
_ZONE = re.compile(r"([a-z]+(?:-[a-z]+)+[0-9]+)-[a-z]")
_AWS_STYLE = re.compile(r"([a-z]+(?:-[a-z]+)+)-([0-9]+)")


def project_id_problem(value: str) -> str | None:
    """Why ``value`` is not a project id, or ``None``."""
    if PROJECT_ID.fullmatch(value):
        return None
    shown = clipped_repr(value, _SHOWN)
    if value.isdigit():
        return f"{shown} is a project number: write the project id ({PROJECT_ID_RULE})"
    if ":" in value:
        return (f"{shown} is a domain-scoped project id, which is not supported: every name "
                "built from it (service account emails, the ledger bucket) would be invalid")
    return f"{shown} is not a valid project id: {PROJECT_ID_RULE}{_hint(project_fix(value))}"


def project_fix(value: str) -> str | None:
    """The project id ``value`` most likely meant (case and '_' fixed), if that one is valid."""
    fixed = value.strip().lower().replace("_", "-").rstrip("-")
    return fixed if fixed != value and PROJECT_ID.fullmatch(fixed) else None


def region_problem(value: str) -> str | None:
    """Why ``value`` is not shaped like a region, or ``None``."""
    if REGION.fullmatch(value):
        return None
    zone = _ZONE.fullmatch(value)
    if zone:
        return f"{clipped_repr(value, _SHOWN)} is a zone, not a region (its region is '{zone[1]}')"
    return f"{clipped_repr(value, _SHOWN)} is not a region: {REGION_RULE}{_hint(region_fix(value))}"


def region_fix(value: str) -> str | None:
    """The region ``value`` most likely meant (``US-Central1``, AWS-style ``us-east-1``)."""
    fixed = value.strip().lower().replace("_", "-")
    fixed = _AWS_STYLE.sub(r"\1\2", fixed) if _AWS_STYLE.fullmatch(fixed) else fixed
    return fixed if fixed != value and REGION.fullmatch(fixed) else None


def _hint(fix: str | None) -> str:
    return f" (did you mean '{fix}'?)" if fix else ""


# Bucket names: https://cloud.google.com/storage/docs/buckets#naming -- lowercase letters,
# digits, '-', '_' and '.'; start and end with a letter or digit; 3-63 characters, or up to
# 222 when dotted with at most 63 per dot-separated component; not an IP address in
# dotted-decimal notation; not beginning with "goog"; not containing "google" or close
# misspellings such as "g00gle". Which misspellings Google refuses is not published: the
# look-alike digits below are the ones its example uses and their siblings.
_BUCKET_CHARS = re.compile(r"[a-z0-9_.-]+")
_DOTTED_DECIMAL = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
_LOOKALIKES = str.maketrans("01369", "olegg")


def bucket_name_problem(name: str) -> str | None:
    """Why Cloud Storage would refuse ``name`` for a bucket, or ``None``."""
    rule = _bucket_rule(name)
    if rule is None:
        return None
    fix = name.lower()
    hint = _hint(fix) if fix != name and "${" not in fix and _bucket_rule(fix) is None else ""
    return f"bucket name {clipped_repr(name, _SHOWN)}: {rule}{hint}"


def _bucket_rule(name: str) -> str | None:
    if not _BUCKET_CHARS.fullmatch(name):
        return "use only lowercase letters, digits, '-', '_' and '.'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "start and end with a letter or a digit"
    return _bucket_length(name) or _bucket_reserved(name)


def _bucket_length(name: str) -> str | None:
    if "." not in name:
        return None if 3 <= len(name) <= 63 else f"use 3-63 characters (not {len(name)})"
    if not 3 <= len(name) <= 222:
        return f"use 3-222 characters when the name has dots (not {len(name)})"
    long = [part for part in name.split(".") if len(part) > 63]
    return f"keep each dot-separated part to 63 characters ({len(long[0])})" if long else None


def _bucket_reserved(name: str) -> str | None:
    ip = _DOTTED_DECIMAL.fullmatch(name)
    if ip and all(int(octet) <= 255 for octet in ip.groups()):
        return "must not be an IP address in dotted-decimal notation"
    if name.startswith("goog"):
        return "must not begin with 'goog'"
    if "google" in name.translate(_LOOKALIKES):
        return "must not contain 'google' or a close misspelling of it"
    return None
