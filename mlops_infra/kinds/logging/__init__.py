"""Cloud Logging kinds: ``logging.Sink``, ``logging.Bucket`` (logging_v2 ConfigServiceV2, gRPC)
and ``logging.Metric`` (MetricsServiceV2, gRPC); importing this package registers them."""

from mlops_infra.kinds.logging import bucket, metric, sink  # noqa: F401  (registers the kinds)
