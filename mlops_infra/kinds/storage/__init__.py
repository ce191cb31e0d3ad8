"""Cloud Storage kinds: ``storage.Bucket`` (``bucket.py``) and ``storage.BucketBindings``
(``bindings.py``); importing this package registers them."""

from mlops_infra.kinds.storage import bindings, bucket  # noqa: F401  (registers the kinds)
