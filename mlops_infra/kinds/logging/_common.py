"""What the Cloud Logging kinds share: the API, name rules (with their sources), messages."""

from __future__ import annotations

import re

LOGGING_API = "logging.googleapis.com"
# logging_config.proto LogSink.name / CreateBucketRequest.bucket_id / LogExclusion.name:
# at most 100 characters, letters, digits, "_", "-" and "."; the first alphanumeric.
SINK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
BUCKET_ID = SINK_NAME
# logging_metrics.proto LogMetric.name: at most 100 of A-Z a-z 0-9 _-.,+!*',()%/, no leading /.
METRIC_NAME = re.compile(r"^[A-Za-z0-9_\-.,+!*'()%][A-Za-z0-9_\-.,+!*'()%/]{0,99}$")


def sink_name_problem(name: str) -> str | None:
    if SINK_NAME.match(name):
        return None
    return (f"invalid sink name {name!r}: at most 100 of letters, digits, '_', '-' and '.', "
            "starting with a letter or digit (logging_config.proto LogSink.name)")


def bucket_id_problem(name: str) -> str | None:
    if name.startswith("_"):
        return f"invalid log bucket id {name!r}: ids starting with '_' are Google's (_Default, _Required)"
    if BUCKET_ID.match(name):
        return None
    return (f"invalid log bucket id {name!r}: at most 100 of letters, digits, '_', '-' and '.', "
            "starting with a letter or digit (logging_config.proto CreateBucketRequest.bucket_id)")


def metric_name_problem(name: str) -> str | None:
    if METRIC_NAME.match(name):
        return None
    return (f"invalid log metric name {name!r}: at most 100 of A-Z, a-z, 0-9 and _-.,+!*',()%/, "
            "not starting with '/' (logging_metrics.proto LogMetric.name)")
