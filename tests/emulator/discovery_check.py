"""Validate recorded REST traffic against Google's discovery documents.

For each journal entry with bodies (``Emulator.record_bodies``), find the discovery method of
its service, HTTP method and path, and check the request body against the method's
``request`` schema and a 2xx response body against its ``response`` schema: unknown fields,
JSON types, enum values, int64/uint64 as strings (the JSON mapping of 64-bit integers), and
the fields a schema marks required for that method (``annotations.required``). Error bodies
must have Google's error shape. Clients that send ``$alt=json;enum-encoding=int`` may send
enums as numbers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient

from mlops_infra.emulator import JournalEntry

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
DISCOVERY = {"storage": "storage.v1.json", "bigquery": "bigquery.v2.json",
             "kms": "cloudkms.v1.json", "compute": "compute.v1.json",
             "serviceusage": "serviceusage.v1.json",
             "resourcemanager": "cloudresourcemanager.v3.json",
             "aiplatform": "aiplatform.v1.json", "notebooks": "notebooks.v2.json",
             "container": "container.v1.json",
             "dashboards": "monitoring.v1.json", "secretmanager": "secretmanager.v1.json"}
# The aiplatform_v1 REST clients poll operations at /ui/{name}, the same GET as the documented
# /v1/{name} (measured: research/clients.md section c); the emulator serves both.
ALIASES = {"aiplatform": ("/ui/", "/v1/")}
_INT64 = ("int64", "uint64")
_ERROR_KEYS = {"code", "message", "status", "errors", "details"}


@dataclass(frozen=True)
class Method:
    id: str
    http: str
    pattern: re.Pattern[str]
    literal: int                       # literal characters: the most specific match wins
    request: str | None
    response: str | None
    media_upload: bool
    media_download: bool = False


@cache
def document(service: str) -> dict[str, Any]:
    return dict(json.loads((DOCUMENTS / DISCOVERY[service]).read_text()))


def _walk(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(resource.get("methods", {}).values())
    for child in resource.get("resources", {}).values():
        found += _walk(child)
    return found


def _pattern(template: str) -> tuple[re.Pattern[str], int]:
    parts = re.split(r"(\{\+?[^}]+\})", template)
    regex = "".join(("(.+)" if p.startswith("{+") else "([^/]+)") if p.startswith("{")
                    else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$"), sum(len(p) for p in parts if not p.startswith("{"))


@cache
def methods(service: str) -> tuple[Method, ...]:
    doc = document(service)
    base = "/" + doc["servicePath"]
    out = []
    for m in _walk(doc):
        templates = [base + m.get("flatPath", m["path"])]
        for protocol in m.get("mediaUpload", {}).get("protocols", {}).values():
            templates.append(protocol["path"])
        if m.get("supportsMediaDownload"):
            templates.append("/download" + base + m["path"])
        for template in templates:
            pattern, literal = _pattern(template)
            out.append(Method(id=m["id"], http=m["httpMethod"], pattern=pattern, literal=literal,
                              request=(m.get("request") or {}).get("$ref"),
                              response=(m.get("response") or {}).get("$ref"),
                              media_upload=template.startswith("/upload"),
                              media_download=template.startswith("/download")))
    return tuple(out)


def method_of(service: str, http: str, path: str) -> Method | None:
    """The method serving ``path`` (still percent-encoded: an object name's ``/`` is ``%2F``)."""
    alias = ALIASES.get(service)
    if alias and path.startswith(alias[0]):
        path = alias[1] + path[len(alias[0]):]
    matches = [m for m in methods(service) if m.http == http and m.pattern.match(path)]
    return max(matches, key=lambda m: m.literal) if matches else None


def check_entry(entry: JournalEntry) -> list[str]:
    """Every way ``entry``'s bodies break the discovery document (``[]`` when they fit)."""
    if entry.service not in DISCOVERY or entry.method == "RPC" or entry.fault:
        return []
    method = method_of(entry.service, entry.method, entry.path)
    where = f"{entry.service} {entry.method} {entry.path}"
    if method is None:
        return [f"{where}: no such method in the discovery document"]
    ints = "enum-encoding=int" in entry.query.get("$alt", "")
    problems = []
    if entry.request is not None and method.request and not method.media_upload:
        problems += check(entry.request, method.request, service=entry.service,
                          method=method.id, path=f"{where} request", int_enums=ints)
    media = method.media_download or entry.query.get("alt") == "media"   # the object's bytes
    if entry.response is not None and 200 <= entry.status < 300 and method.response and not media:
        problems += check(entry.response, method.response, service=entry.service,
                          method=None, path=f"{where} response", int_enums=False)
    if entry.status >= 400 and entry.response is not None:
        problems += _error_shape(entry.response, f"{where} error")
    return problems


def check(value: Any, schema_name: str, *, service: str, method: str | None, path: str,
          int_enums: bool) -> list[str]:
    doc = document(service)
    return _value(value, {"$ref": schema_name}, doc, path, method, int_enums)


def _value(value: Any, schema: dict[str, Any], doc: dict[str, Any], path: str,
           method: str | None, int_enums: bool) -> list[str]:
    if "$ref" in schema:
        schema = doc["schemas"][schema["$ref"]]
    kind = schema.get("type", "any")
    if kind == "object":
        return _object(value, schema, doc, path, method, int_enums)
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, item in enumerate(value)
                for p in _value(item, schema.get("items", {}), doc, f"{path}[{i}]", method,
                                int_enums)]
    return _scalar(value, schema, path, int_enums)


def _object(value: Any, schema: dict[str, Any], doc: dict[str, Any], path: str,
            method: str | None, int_enums: bool) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {type(value).__name__}"]
    properties = schema.get("properties")
    if properties is None:
        extra = schema.get("additionalProperties")
        return [p for k, v in value.items()
                for p in _value(v, extra, doc, f"{path}.{k}", method, int_enums)] if extra else []
    problems = [f"{path}.{k}: not in the schema" for k in value
                if k not in properties and not k.startswith("@")]
    for key, sub in properties.items():
        if key in value and value[key] is not None:
            problems += _value(value[key], sub, doc, f"{path}.{key}", method, int_enums)
        elif method and method in (sub.get("annotations") or {}).get("required", []):
            problems.append(f"{path}.{key}: required by {method}")
    return problems


def _scalar(value: Any, schema: dict[str, Any], path: str, int_enums: bool) -> list[str]:
    kind, fmt = schema.get("type", "any"), schema.get("format")
    if kind == "any" or value is None:
        return []
    if kind == "string":
        if "enum" in schema:
            if int_enums and isinstance(value, int) and not isinstance(value, bool):
                return [] if 0 <= value < len(schema["enum"]) + 64 else [f"{path}: enum {value}"]
            if value not in schema["enum"]:
                return [f"{path}: {value!r} is not one of its enum values"]
        if not isinstance(value, str):
            what = "int64 must be a JSON string" if fmt in _INT64 else "expected a string"
            return [f"{path}: {what}, got {value!r}"]
        if fmt in _INT64 and not re.fullmatch(r"-?\d+", value):
            return [f"{path}: {value!r} is not an int64"]
        return []
    if kind == "integer":
        return [] if isinstance(value, int) and not isinstance(value, bool) else \
            [f"{path}: expected an integer, got {value!r}"]
    if kind == "number":
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else \
            [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    return []


def _error_shape(body: Any, path: str) -> list[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return [f"{path}: not Google's {{'error': {{...}}}} shape"]
    problems = [f"{path}.{k}: not in Google's error shape" for k in error if k not in _ERROR_KEYS]
    if not isinstance(error.get("code"), int) or not isinstance(error.get("message"), str):
        problems.append(f"{path}: code (int) and message (str) are required")
    details = error.get("details", [])
    if not isinstance(details, list) or not all(isinstance(d, dict) and "@type" in d
                                                for d in details):
        problems.append(f"{path}.details: each detail needs an @type")
    return problems
