"""Reading Terraform state (format version 4): a local file or an object in the GCS backend.

The format (hashicorp/terraform ``internal/states/statefile/version4.go``)::

    {"version": 4, "terraform_version": "1.9.5", "serial": 7, "lineage": "...",
     "outputs": {"NAME": {"value": ..., "type": ..., "sensitive": true?}},
     "resources": [{"module": "module.gcs[\\"raw\\"]",          # absent at the root
                    "mode": "managed" | "data", "type": "google_storage_bucket", "name": "this",
                    "each": "map" | "list",                      # with for_each / count
                    "provider": "provider[\\"registry.terraform.io/hashicorp/google\\"]",
                    "instances": [{"index_key": "raw" | 0,       # with for_each / count
                                   "status": "tainted", "deposed": "KEY",   # when so
                                   "schema_version": 0, "attributes": {...},
                                   "sensitive_attributes": [[{"type": "get_attr", "value": "x"},
                                                             {"type": "index", "value":
                                                              {"value": 0, "type": "number"}}]],
                                   "private": "...", "dependencies": ["module.x.google_y.z"]}]}]}

The GCS backend keeps one object per workspace: ``gs://BUCKET/PREFIX/WORKSPACE.tfstate``
(``default.tfstate`` for the default workspace; developer.hashicorp.com/terraform/language/
backend/gcs). A ``gs://`` prefix ending in ``/`` reads every ``*.tfstate`` object under it,
one environment each, named after the workspace. Deposed instances (a replacement Terraform
has not finished) are left out: their live object is about to go.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_infra.engine.errors import UserError
from mlops_infra.kinds._names import bucket_name_problem
from mlops_infra.spec.jsonload import JsonProblem, load_json

STATE_VERSION = 4
_SUFFIX = ".tfstate"


@dataclass(frozen=True)
class Instance:
    """One resource instance of a state: its address parts and attributes."""

    module: str                 # "" at the root, else "module.a.module.b[\\"k\\"]"
    mode: str                   # "managed" or "data"
    type: str
    name: str
    index: str | int | None     # count index or for_each key
    attributes: dict[str, Any]
    sensitive: tuple[tuple[str | int, ...], ...] = ()   # attribute paths Terraform hides
    tainted: bool = False
    dependencies: tuple[str, ...] = field(default=(), compare=False)
    path: tuple[str | int, ...] = field(default=(), compare=False)  # where it is in the state

    @property
    def address(self) -> str:
        """Terraform's own address, e.g. ``module.gcs["raw"].google_storage_bucket.this``."""
        prefix = "data." if self.mode == "data" else ""
        own = f"{prefix}{self.type}.{self.name}{_index(self.index)}"
        return f"{self.module}.{own}" if self.module else own


@dataclass(frozen=True)
class State:
    """A parsed state: where it came from, its instances and its root outputs."""

    source: str
    instances: tuple[Instance, ...]
    outputs: dict[str, Any]
    sensitive_outputs: frozenset[str] = frozenset()
    text: str = field(default="", repr=False, compare=False)

    def error(self, path: tuple[str | int, ...], message: str) -> UserError:
        """A one-line error naming this state, the line of ``path`` in it and the field."""
        return _Locator(self.source, self.text).error(path, message)

    def where(self, address: str) -> str:
        """``SOURCE:LINE`` of the instance at Terraform ``address`` (``SOURCE`` alone when it is
        not one of this state's), for messages about what was imported from it."""
        instance = next((i for i in self.instances if i.address == address), None)
        if instance is None:
            return self.source
        return f"{self.source}:{_Locator(self.source, self.text).line(instance.path)}"


def _index(key: str | int | None) -> str:
    if key is None:
        return ""
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


def environment_of(source: str) -> str:
    """The workspace a state's location names (``.../prod.tfstate`` -> ``prod``)."""
    return Path(source.rstrip("/")).name.removesuffix(_SUFFIX)


def read_states(source: str, *, storage: Callable[[str], Any]) -> list[tuple[str, bytes]]:
    """``(location, bytes)`` of each state ``source`` names: a path, ``gs://B/O.tfstate``, or
    ``gs://B/PREFIX/`` (every ``*.tfstate`` under it). ``storage(bucket)`` gives a client."""
    if not source.startswith("gs://"):
        try:
            return [(source, Path(source).read_bytes())]
        except OSError as exc:
            raise UserError(f"{source}: {exc.strerror}") from None
    bucket, _, name = source.removeprefix("gs://").partition("/")
    problem = bucket_name_problem(bucket) if bucket else "no bucket named"
    if problem:
        raise UserError(f"{source}: {problem} (write gs://BUCKET/PATH.tfstate, or "
                        "gs://BUCKET/PREFIX/ for every state under it)")
    return _read_gcs(storage(bucket), bucket, name)


def _read_gcs(client: Any, bucket: str, name: str) -> list[tuple[str, bytes]]:
    from google.api_core.exceptions import GoogleAPIError, NotFound

    try:
        if name and not name.endswith("/"):
            return [(f"gs://{bucket}/{name}", client.bucket(bucket).blob(name).download_as_bytes())]
        blobs = [b for b in client.list_blobs(bucket, prefix=name or None)
                 if b.name.endswith(_SUFFIX)]
        if not blobs:
            raise UserError(f"gs://{bucket}/{name}: no *{_SUFFIX} objects there")
        return [(f"gs://{bucket}/{b.name}", b.download_as_bytes()) for b in blobs]
    except NotFound:
        raise UserError(f"gs://{bucket}/{name}: no such object or bucket") from None
    except GoogleAPIError as exc:
        raise UserError(f"gs://{bucket}/{name}: {exc}") from None


def parse_state(data: bytes, *, source: str) -> State:
    """A state document, or a one-line ``UserError`` naming ``source``, the line and the field
    when it is not one we read (nothing is called before every state has been read)."""
    try:
        text = data.decode("utf-8")
        doc = load_json(text)
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}: not a Terraform state (not UTF-8 text: {exc.reason})") from None
    except JsonProblem as exc:
        line = f":{exc.line}" if exc.line else ""
        raise UserError(f"{source}{line}: not a Terraform state (not JSON: {exc.why})") from None
    where = _Locator(source, text)
    if not isinstance(doc, dict) or "version" not in doc:
        raise where.error((), "not a Terraform state (no 'version' field)")
    if doc["version"] != STATE_VERSION:
        raise where.error(("version",), f"Terraform state format version {doc['version']}; this "
                          f"reads version {STATE_VERSION} (Terraform 0.12 and later): run "
                          "`terraform state pull` with a current Terraform to upgrade it")
    resources = _list(doc.get("resources"), where, ("resources",))
    instances = tuple(i for n, r in enumerate(resources)
                      for i in _instances(r, where, ("resources", n)))
    outputs = doc.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise where.error(("outputs",), "field 'outputs' must be an object")
    return State(source=source, instances=instances, text=text,
                 outputs={k: v.get("value") for k, v in outputs.items() if isinstance(v, dict)},
                 sensitive_outputs=frozenset(k for k, v in outputs.items()
                                             if isinstance(v, dict) and v.get("sensitive")))


Path_ = tuple[str | int, ...]


class _Locator:
    """Names the line of a field of the state (only when there is an error to report)."""

    def __init__(self, source: str, text: str) -> None:
        self.source, self.text = source, text

    def error(self, path: Path_, message: str) -> UserError:
        line = self.line(path)
        shown = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                        for i, p in enumerate(path))
        field_ = f" field '{shown}':" if shown and "field '" not in message else ""
        return UserError(f"{self.source}:{line}:{field_} {message}")

    def line(self, path: Path_) -> int:
        import yaml  # JSON is YAML: its node marks give the line of any field

        try:
            node = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except (yaml.YAMLError, RecursionError):
            return 1
        for step in path:
            if isinstance(node, yaml.MappingNode):
                hit = next((v for k, v in node.value if k.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                hit = node.value[step] if step < len(node.value) else None
            else:
                hit = None
            if hit is None:
                break
            node = hit
        return int(node.start_mark.line) + 1 if node is not None else 1


def _list(value: Any, where: _Locator, path: Path_) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(path, "must be a list")
    return value


def _instances(resource: Any, where: _Locator, path: Path_) -> list[Instance]:
    if not isinstance(resource, dict):
        raise where.error(path, "a resource must be an object")
    for key in ("type", "name"):
        if not isinstance(resource.get(key), str) or not resource[key]:
            raise where.error(path, f"a resource without '{key}'")
    if resource.get("mode", "managed") not in ("managed", "data"):
        raise where.error((*path, "mode"), f"mode {resource['mode']!r}: must be 'managed' or 'data'")
    out = []
    raws = _list(resource.get("instances"), where, (*path, "instances"))
    for n, raw in enumerate(raws):
        if not isinstance(raw, dict):
            raise where.error((*path, "instances", n), "an instance must be an object")
        if raw.get("deposed"):
            continue
        attributes = raw.get("attributes")
        if not isinstance(attributes, dict):
            raise where.error((*path, "instances", n, "attributes"),
                              "must be an object (a state written by Terraform 0.12 or later "
                              "has one per instance)")
        out.append(Instance(module=str(resource.get("module") or ""),
                            mode=str(resource.get("mode") or "managed"),
                            type=str(resource["type"]), name=str(resource["name"]),
                            index=raw.get("index_key"), attributes=dict(attributes),
                            sensitive=_sensitive_paths(raw.get("sensitive_attributes")),
                            tainted=raw.get("status") == "tainted",
                            dependencies=tuple(raw.get("dependencies") or ()),
                            path=(*path, "instances", n)))
    return out


def _sensitive_paths(raw: Any) -> tuple[tuple[str | int, ...], ...]:
    """The attribute paths of ``sensitive_attributes`` (cty path steps)."""
    paths = []
    for steps in raw or []:
        path: list[str | int] = []
        for step in steps if isinstance(steps, list) else []:
            value = step.get("value") if isinstance(step, dict) else None
            if isinstance(value, dict):       # an index step: {"value": 0, "type": "number"}
                value = value.get("value")
            if isinstance(value, (str, int)):
                path.append(value)
        if path:
            paths.append(tuple(path))
    return tuple(paths)


def values_at(attributes: Any, path: tuple[str | int, ...]) -> list[Any]:
    """The value(s) at a sensitive ``path`` inside ``attributes`` (nothing when absent)."""
    node = attributes
    for step in path:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]  # noqa: SIM114 (a list index, not a key)
        elif isinstance(node, dict) and isinstance(step, int | str) and str(step) in node:
            node = node[str(step)]
        else:
            return []
    return [node]
