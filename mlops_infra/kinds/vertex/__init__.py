"""Vertex AI kinds (the ``aiplatform_v1`` GAPIC clients over REST, one client per region):
``vertex.Endpoint`` (``endpoint.py``), ``vertex.Tensorboard`` (``tensorboard.py``),
``vertex.FeatureOnlineStore`` and ``vertex.FeatureView`` (``feature_store.py``) and
``vertex.MetadataStore`` (``metadata_store.py``); importing this package registers them.
What they share is in ``_common.py``."""

from mlops_infra.kinds.vertex import (  # noqa: F401  (registers the kinds)
    endpoint,
    feature_store,
    metadata_store,
    tensorboard,
)
