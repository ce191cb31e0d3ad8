"""The Cloud KMS v1 service: key rings, crypto keys, key versions and key IAM policies.

Semantics kept: key rings and keys cannot be deleted (no DELETE routes); creating an
existing one is 409; a key's ``purpose`` and protection level are immutable (a PATCH naming
them is 400); a symmetric key gets version 1 as its ``primary`` unless
``skipInitialVersionCreation``; destroying a version schedules it (``DESTROY_SCHEDULED``,
``destroyTime`` 30 days on); key IAM policies have etags, conditions and versions (see
``policy.py``); members are validated with ``emulator.member_error`` when the emulator has it.
``key_use_error`` tells other services (Cloud Storage, BigQuery) whether a service agent may
use a key for CMEK yet: it needs ``roles/cloudkms.cryptoKeyEncrypterDecrypter``, granted at
least ``Delays.iam_policy`` seconds ago (IAM propagation,
https://cloud.google.com/iam/docs/access-change-propagation).

State (JSON): ``keyRings`` name -> ring; ``cryptoKeys`` name -> key (``primary`` kept by
version name); ``versions`` key name -> [version]; ``policies`` key name -> policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.core import HttpError, Request, Route, Service
from mlops_infra.emulator.kms import policy, resources
from mlops_infra.emulator.util import int_param, page, rfc3339

ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
KR = "/v1/projects/{project}/locations/{location}/keyRings"
CK = KR + "/{keyRing}/cryptoKeys"
CKV = CK + "/{cryptoKey}/cryptoKeyVersions"


class KmsService(Service):
    """Key rings, crypto keys, versions and crypto-key IAM of the Cloud KMS API v1."""

    name = "kms"
    api = "cloudkms.googleapis.com"
    api_title = "Cloud Key Management Service (KMS) API"

    def initial_state(self) -> dict[str, Any]:
        return {"keyRings": {}, "cryptoKeys": {}, "versions": {}, "policies": {}}

    def routes(self) -> list[Route]:
        # Custom-method routes (``{x}:verb``) come before the plain ``{x}`` ones they resemble.
        return [
            Route("GET", CK + "/{cryptoKey}:getIamPolicy", self.get_iam_policy),
            Route("POST", CK + "/{cryptoKey}:setIamPolicy", self.set_iam_policy),
            Route("POST", CKV + "/{version}:destroy", self.destroy_version),
            Route("GET", KR, self.list_key_rings),
            Route("POST", KR, self.create_key_ring),
            Route("GET", KR + "/{keyRing}", self.get_key_ring),
            Route("GET", CK, self.list_crypto_keys),
            Route("POST", CK, self.create_crypto_key),
            Route("GET", CK + "/{cryptoKey}", self.get_crypto_key),
            Route("PATCH", CK + "/{cryptoKey}", self.patch_crypto_key),
            Route("GET", CKV, self.list_versions),
            Route("GET", CKV + "/{version}", self.get_version),
        ]

    def project_of(self, request: Request) -> str | None:
        return request.params.get("project")

    def key_use_error(self, key_name: str, member: str) -> str | None:
        """Why ``member`` cannot encrypt with ``key_name`` yet (``None``: it can)."""
        if key_name not in self.state["cryptoKeys"]:
            return "missing"
        since = policy.granted_since(self.state["policies"], key_name, ENCRYPTER_DECRYPTER, member)
        if since is None:
            return "not granted"
        delay = self.emulator.delays.iam_policy if self.emulator is not None else 0.0
        return None if time.time() >= since + delay else "propagating"

    # -- key rings ------------------------------------------------------------------------
    def create_key_ring(self, request: Request) -> dict[str, Any]:
        ring_id = resources.check_id(request.query.get("keyRingId"), "keyRingId")
        name = f"{_location(request)}/keyRings/{ring_id}"
        if name in self.state["keyRings"]:
            raise HttpError(409, f"KeyRing {name} already exists.")
        ring = self.state["keyRings"][name] = resources.new_key_ring(name)
        return dict(ring)

    def get_key_ring(self, request: Request) -> dict[str, Any]:
        return dict(self._ring(request))

    def list_key_rings(self, request: Request) -> dict[str, Any]:
        prefix = _location(request) + "/keyRings/"
        found = [r for n, r in self.state["keyRings"].items() if n.startswith(prefix)]
        return _listing(request, "keyRings", found)

    # -- crypto keys ----------------------------------------------------------------------
    def create_crypto_key(self, request: Request) -> dict[str, Any]:
        ring = self._ring(request)
        key_id = resources.check_id(request.query.get("cryptoKeyId"), "cryptoKeyId")
        name = f"{ring['name']}/cryptoKeys/{key_id}"
        if name in self.state["cryptoKeys"]:
            raise HttpError(409, f"CryptoKey {name} already exists.")
        key = resources.new_crypto_key(name, _object(request))
        self.state["cryptoKeys"][name] = key
        self.state["versions"][name] = []
        skip = request.query.get("skipInitialVersionCreation", "").lower() == "true"
        if not skip and not key.get("importOnly"):
            version = self._add_version(key)
            if key["purpose"] == "ENCRYPT_DECRYPT":
                key["primary"] = version["name"]
        return self._render_key(key)

    def get_crypto_key(self, request: Request) -> dict[str, Any]:
        return self._render_key(self._key(request))

    def list_crypto_keys(self, request: Request) -> dict[str, Any]:
        prefix = self._ring(request)["name"] + "/cryptoKeys/"
        found = [self._render_key(k) for n, k in self.state["cryptoKeys"].items()
                 if n.startswith(prefix)]
        return _listing(request, "cryptoKeys", found)

    def patch_crypto_key(self, request: Request) -> dict[str, Any]:
        key = self._key(request)
        if "updateMask" not in request.query:
            raise HttpError(400, "updateMask is required")
        updated = resources.apply_mask(key, _object(request), request.query["updateMask"])
        self.state["cryptoKeys"][key["name"]] = updated
        return self._render_key(updated)

    # -- versions -------------------------------------------------------------------------
    def list_versions(self, request: Request) -> dict[str, Any]:
        key = self._key(request)
        return _listing(request, "cryptoKeyVersions", self.state["versions"][key["name"]])

    def get_version(self, request: Request) -> dict[str, Any]:
        return dict(self._version(request))

    def destroy_version(self, request: Request) -> dict[str, Any]:
        version = self._version(request)
        if version["state"] not in ("ENABLED", "DISABLED"):
            raise HttpError(400, f"The request cannot be fulfilled. CryptoKeyVersion "
                                 f"{version['name']} is not in state ENABLED or DISABLED.",
                            status="FAILED_PRECONDITION", reason="failedPrecondition")
        key = self.state["cryptoKeys"][version["name"].split("/cryptoKeyVersions/")[0]]
        delay = resources.seconds(key["destroyScheduledDuration"], "destroyScheduledDuration")
        version["state"] = "DESTROY_SCHEDULED"
        version["destroyTime"] = rfc3339(time.time() + delay)
        return dict(version)

    # -- IAM ------------------------------------------------------------------------------
    def get_iam_policy(self, request: Request) -> dict[str, Any]:
        version = int_param(request.query, "options.requestedPolicyVersion") or 0
        return policy.get(self.state["policies"], self._key(request)["name"],
                          requested_version=version)

    def set_iam_policy(self, request: Request) -> dict[str, Any]:
        key = self._key(request)
        return policy.put(self.state["policies"], key["name"], _object(request).get("policy"),
                          member_error=self._member_check())

    # -- helpers --------------------------------------------------------------------------
    def _member_check(self) -> Callable[[str], str | None] | None:
        return getattr(self.emulator, "member_error", None)

    def _add_version(self, key: dict[str, Any]) -> dict[str, Any]:
        versions = self.state["versions"][key["name"]]
        version = resources.new_version(key, len(versions) + 1)
        versions.append(version)
        return version

    def _render_key(self, key: dict[str, Any]) -> dict[str, Any]:
        out = dict(key)
        if "primary" in key:
            out["primary"] = next(v for v in self.state["versions"][key["name"]]
                                  if v["name"] == key["primary"])
        return out

    def _ring(self, request: Request) -> dict[str, Any]:
        name = f"{_location(request)}/keyRings/{request.params['keyRing']}"
        ring = self.state["keyRings"].get(name)
        if ring is None:
            raise HttpError(404, f"KeyRing {name} not found.")
        return ring

    def _key(self, request: Request) -> dict[str, Any]:
        name = f"{self._ring(request)['name']}/cryptoKeys/{request.params['cryptoKey']}"
        key = self.state["cryptoKeys"].get(name)
        if key is None:
            raise HttpError(404, f"CryptoKey {name} not found.")
        return key

    def _version(self, request: Request) -> dict[str, Any]:
        key = self._key(request)
        name = f"{key['name']}/cryptoKeyVersions/{request.params['version']}"
        found = next((v for v in self.state["versions"][key["name"]] if v["name"] == name), None)
        if found is None:
            raise HttpError(404, f"CryptoKeyVersion {name} not found.")
        return found


def _location(request: Request) -> str:
    return f"projects/{request.params['project']}/locations/{request.params['location']}"


def _object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object")
    return body


def _listing(request: Request, field: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    size = int_param(request.query, "pageSize")
    chosen, token = page(items, key=lambda item: item["name"], max_results=size,
                         token=request.query.get("pageToken"), default_size=1000)
    result: dict[str, Any] = {"totalSize": len(items)}
    if chosen:
        result[field] = [dict(item) for item in chosen]
    if token:
        result["nextPageToken"] = token
    return result
