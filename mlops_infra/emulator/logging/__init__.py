"""Cloud Logging v2's configuration API over gRPC: sinks, log buckets, exclusions and
log-based metrics (``service.LoggingService``)."""

from mlops_infra.emulator.logging.service import LoggingService

SERVICE = LoggingService
