"""What `terraform apply` would have left live, made in the emulator from a fixture state.

Terraform cannot run here, so each fixture's resources are created the way the google
provider creates them: its REST calls (the provider uses the REST APIs; IAM admin through the
gRPC client, as the emulator serves it) with the request bodies the provider builds from the
resource's attributes (field names from the provider's resource schemas in
GoogleCloudPlatform/magic-modules ``mmv1/products/*/*.yaml`` and the handwritten
``resource_storage_bucket.go`` / ``resource_google_service_account.go`` /
``iam_*.go``). This deliberately shares no code with the importer: the importer reads the
same attributes the other way (attributes -> spec fields), so a no-op first plan shows both
agree with what the API keeps.

IAM types (``*_iam_member``/``_binding``/``_audit_config``) are applied like the provider:
read the policy, add the member/binding, write it back. BigQuery dataset IAM resources are
already in their dataset's ``access`` attribute (the provider refreshes it), so they need
no call of their own.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mlops_infra.api import registered_kinds
from mlops_infra.clients import insecure_channel
from mlops_infra.engine.registry import terraform_types

FIXTURES = Path(__file__).parent / "fixtures"


def _http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:   # noqa: S310 (loopback)
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {url}: {exc.code} {exc.read().decode()}") from None
    return json.loads(raw) if raw else {}


class TerraformApply:
    """Applies fixture states' managed instances against an emulator's endpoints."""

    def __init__(self, endpoints: dict[str, str]) -> None:
        self.endpoints = endpoints
        self._iam: Any = None

    def apply(self, state_path: Path) -> dict[str, Any]:
        """Create every managed instance; the state as Terraform writes it afterwards (the
        attributes the server computes, such as a Tensorboard's id, filled in)."""
        doc = json.loads(state_path.read_text())
        todo = [(r["type"], i["attributes"]) for r in doc["resources"]
                if r.get("mode", "managed") == "managed" for i in r["instances"]]
        registered_kinds()
        mapped = terraform_types()
        for tf_type, attrs in sorted(todo, key=lambda t: _ORDER.get(t[0], 50)):
            step = getattr(self, f"_{tf_type.removeprefix('google_')}", None)
            if step is not None:
                attrs.update(step(attrs) or {})
            elif tf_type in mapped:     # a round trip over something never applied proves nothing
                raise AssertionError(f"{state_path.name}: {tf_type} has a kind but no apply step")
        return doc

    def applied(self, state_path: Path, where: Path) -> Path:
        """``apply``, and the resulting state written under ``where``."""
        out = where / state_path.name
        out.write_text(json.dumps(self.apply(state_path), indent=2))
        return out

    # --- helpers --------------------------------------------------------------------------
    def _url(self, endpoint: str, path: str) -> str:
        return self.endpoints[endpoint] + path

    def _compute(self, path: str, body: dict[str, Any]) -> None:
        op = _http("POST", self._url("compute", path), body)
        op_path = op["selfLink"].split("/compute/v1", 1)[1]
        for _ in range(200):
            if _http("GET", self._url("compute", "/compute/v1" + op_path))["status"] == "DONE":
                return
            time.sleep(0.02)
        raise TimeoutError(op_path)

    def iam_client(self) -> Any:
        if self._iam is None:
            from google.cloud import iam_admin_v1
            from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport

            channel = insecure_channel(self.endpoints["iam"])
            self._iam = iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))
        return self._iam

    def _add_to_policy(self, get: tuple[str, str, Any], put: tuple[str, str], role: str,
                       members: list[str], condition: list[dict[str, Any]] | None = None,
                       authoritative: bool = False, wrap: bool = True) -> None:
        policy = _http(get[0], get[1], get[2])
        binding: dict[str, Any] = {"role": role, "members": sorted(set(members))}
        if condition:
            binding["condition"] = {k: v for k, v in condition[0].items() if v}
        bindings = policy.setdefault("bindings", [])
        same = [b for b in bindings if b["role"] == role and b.get("condition") == binding.get("condition")]
        if same and not authoritative:
            same[0]["members"] = sorted(set(same[0]["members"]) | set(members))
        else:
            for b in same:
                bindings.remove(b)
            bindings.append(binding)
        if condition:
            policy["version"] = 3
        _http(put[0], put[1], {"policy": policy} if wrap else policy)

    # --- storage --------------------------------------------------------------------------
    def _storage_bucket(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": a["name"], "location": a["location"],
                                "storageClass": a["storage_class"], "labels": a.get("labels") or {},
                                "iamConfiguration": {
                                    "uniformBucketLevelAccess": {"enabled": a["uniform_bucket_level_access"]},
                                    "publicAccessPrevention": a["public_access_prevention"]}}
        if a.get("versioning"):
            body["versioning"] = {"enabled": a["versioning"][0]["enabled"]}
        if a.get("retention_policy"):
            body["retentionPolicy"] = {"retentionPeriod": a["retention_policy"][0]["retention_period"]}
        if a.get("soft_delete_policy"):
            seconds = a["soft_delete_policy"][0]["retention_duration_seconds"]
            body["softDeletePolicy"] = {"retentionDurationSeconds": str(seconds)}
        if a.get("cors"):
            body["cors"] = [{"maxAgeSeconds": c["max_age_seconds"], "method": c["method"],
                             "origin": c["origin"], "responseHeader": c.get("response_header") or []}
                            for c in a["cors"]]
        if a.get("lifecycle_rule"):
            body["lifecycle"] = {"rule": [_lifecycle_rule(r) for r in a["lifecycle_rule"]]}
        if a.get("encryption"):
            body["encryption"] = {"defaultKmsKeyName": a["encryption"][0]["default_kms_key_name"]}
        _http("POST", self._url("storage", f"/storage/v1/b?project={a['project']}"), body)

    def _bucket_policy(self, a: dict[str, Any], members: list[str], authoritative: bool) -> None:
        bucket = a["bucket"].removeprefix("b/")
        url = self._url("storage", f"/storage/v1/b/{bucket}/iam")
        self._add_to_policy(("GET", url, None), ("PUT", url), a["role"], members,
                            a.get("condition"), authoritative, wrap=False)

    def _storage_bucket_iam_member(self, a: dict[str, Any]) -> None:
        a["member"] = getattr(self, "_names", {}).get(a["member"], a["member"])  # a sink's writer
        self._bucket_policy(a, [a["member"]], authoritative=False)

    def _storage_bucket_iam_binding(self, a: dict[str, Any]) -> None:
        self._bucket_policy(a, a["members"], authoritative=True)

    # --- bigquery -------------------------------------------------------------------------
    def _bigquery_dataset(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {
            "datasetReference": {"projectId": a["project"], "datasetId": a["dataset_id"]},
            "location": a["location"], "labels": a.get("labels") or {},
            "access": [_camel_keys(e) for e in a.get("access") or []]}
        for attr, key in (("friendly_name", "friendlyName"), ("description", "description"),
                          ("default_table_expiration_ms", "defaultTableExpirationMs"),
                          ("default_partition_expiration_ms", "defaultPartitionExpirationMs"),
                          ("max_time_travel_hours", "maxTimeTravelHours")):
            if a.get(attr):
                body[key] = str(a[attr]) if key.endswith(("Ms", "Hours")) else a[attr]
        if a.get("default_encryption_configuration"):
            body["defaultEncryptionConfiguration"] = {
                "kmsKeyName": a["default_encryption_configuration"][0]["kms_key_name"]}
        _http("POST", self._url("bigquery", f"/bigquery/v2/projects/{a['project']}/datasets"), body)

    # A dataset's access entries, from the dataset resource or from the access and IAM
    # resources, are one list that the provider reads back into the dataset's ``access``:
    # the dataset step wrote it. These steps check that the grant is in it live.
    def _bigquery_dataset_access(self, a: dict[str, Any]) -> None:
        self._dataset_grants([str(a[k]) for k in ("user_by_email", "group_by_email",
                                                  "special_group", "domain", "iam_member")
                              if a.get(k)], a)

    def _bigquery_dataset_iam_member(self, a: dict[str, Any]) -> None:
        self._dataset_grants([str(a["member"])], a)

    def _bigquery_dataset_iam_binding(self, a: dict[str, Any]) -> None:
        self._dataset_grants([str(m) for m in a["members"]], a)

    def _dataset_grants(self, members: list[str], a: dict[str, Any]) -> None:
        path = f"/bigquery/v2/projects/{a['project']}/datasets/{a['dataset_id']}"
        held = {str(v) for entry in _http("GET", self._url("bigquery", path)).get("access", [])
                for v in entry.values()}
        missing = [m for m in members if m.split(":", 1)[-1] not in held]
        assert not missing, f"dataset {a['dataset_id']}: the state's access lacks {missing}"

    def _bigquery_table(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {
            "tableReference": {"projectId": a["project"], "datasetId": a["dataset_id"],
                               "tableId": a["table_id"]},
            "labels": a.get("labels") or {}, "requirePartitionFilter": a["require_partition_filter"]}
        if a.get("description"):
            body["description"] = a["description"]
        if a.get("schema"):
            body["schema"] = {"fields": json.loads(a["schema"])}
        if a.get("view"):
            body["view"] = {"query": a["view"][0]["query"],
                            "useLegacySql": a["view"][0]["use_legacy_sql"]}
        if a.get("time_partitioning"):
            tp = a["time_partitioning"][0]
            body["timePartitioning"] = {k: v for k, v in (("type", tp["type"]), ("field", tp.get("field")),
                                                          ("expirationMs", str(tp["expiration_ms"])
                                                           if tp.get("expiration_ms") else None)) if v}
        if a.get("clustering"):
            body["clustering"] = {"fields": a["clustering"]}
        path = f"/bigquery/v2/projects/{a['project']}/datasets/{a['dataset_id']}/tables"
        _http("POST", self._url("bigquery", path), body)

    # --- iam ------------------------------------------------------------------------------
    def _service_account(self, a: dict[str, Any]) -> None:
        client = self.iam_client()
        account = {"display_name": a.get("display_name") or "",
                   "description": a.get("description") or ""}
        client.create_service_account(request={"name": f"projects/{a['project']}",
                                               "account_id": a["account_id"],
                                               "service_account": account})
        _visible(lambda: client.get_service_account(request={"name": a["name"]}))
        if a.get("disabled"):
            client.disable_service_account(request={"name": a["name"]})

    def _account_policy(self, a: dict[str, Any], members: list[str], authoritative: bool) -> None:
        from google.iam.v1 import policy_pb2
        from google.protobuf import json_format

        client = self.iam_client()
        name = a["service_account_id"]
        policy = json_format.MessageToDict(client.get_iam_policy(request={"resource": name}))
        bindings = [b for b in policy.get("bindings", []) if b["role"] != a["role"]]
        same = [b for b in policy.get("bindings", []) if b["role"] == a["role"]]
        kept = set() if authoritative or not same else set(same[0]["members"])
        bindings.append({"role": a["role"], "members": sorted(kept | set(members))})
        policy["bindings"] = bindings
        client.set_iam_policy(request={"resource": name,
                                       "policy": json_format.ParseDict(policy, policy_pb2.Policy())})

    def _service_account_iam_member(self, a: dict[str, Any]) -> None:
        self._account_policy(a, [a["member"]], authoritative=False)

    def _service_account_iam_binding(self, a: dict[str, Any]) -> None:
        self._account_policy(a, a["members"], authoritative=True)

    def _project_iam_custom_role(self, a: dict[str, Any]) -> None:
        self.iam_client().create_role(request={
            "parent": f"projects/{a['project']}", "role_id": a["role_id"],
            "role": {"title": a["title"], "description": a.get("description") or "",
                     "included_permissions": a["permissions"], "stage": a["stage"]}})

    def _project_policy(self, project: str) -> tuple[tuple[str, str, Any], tuple[str, str]]:
        base = self._url("resourcemanager", f"/v3/projects/{project}")
        return (("POST", base + ":getIamPolicy", {"options": {"requestedPolicyVersion": 3}}),
                ("POST", base + ":setIamPolicy"))

    def _project_iam_member(self, a: dict[str, Any]) -> None:
        get, put = self._project_policy(a["project"])
        self._add_to_policy(get, put, a["role"], [a["member"]], a.get("condition"))

    def _project_iam_binding(self, a: dict[str, Any]) -> None:
        get, put = self._project_policy(a["project"])
        self._add_to_policy(get, put, a["role"], a["members"], a.get("condition"), True)

    def _project_iam_audit_config(self, a: dict[str, Any]) -> None:
        get, put = self._project_policy(a["project"])
        policy = _http(*get)
        configs = [c for c in policy.get("auditConfigs", []) if c["service"] != a["service"]]
        configs.append({"service": a["service"], "auditLogConfigs": [
            {"logType": c["log_type"], **({"exemptedMembers": c["exempted_members"]}
                                          if c.get("exempted_members") else {})}
            for c in a["audit_log_config"]]})
        policy["auditConfigs"] = configs
        _http(put[0], put[1], {"policy": policy, "updateMask": "bindings,etag,auditConfigs"})

    # --- serviceusage, kms ----------------------------------------------------------------
    def _project_service(self, a: dict[str, Any]) -> None:
        path = f"/v1/projects/{a['project']}/services/{a['service']}:enable"
        _http("POST", self._url("serviceusage", path), {})

    def _kms_key_ring(self, a: dict[str, Any]) -> None:
        path = f"/v1/projects/{a['project']}/locations/{a['location']}/keyRings?keyRingId={a['name']}"
        _http("POST", self._url("kms", path), {})

    def _kms_crypto_key(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {"purpose": a["purpose"], "labels": a.get("labels") or {},
                                "destroyScheduledDuration": a["destroy_scheduled_duration"]}
        if a.get("rotation_period"):
            body["rotationPeriod"] = a["rotation_period"]
            body["nextRotationTime"] = "2030-01-01T00:00:00Z"
        if a.get("version_template"):
            t = a["version_template"][0]
            body["versionTemplate"] = {"algorithm": t["algorithm"],
                                       "protectionLevel": t.get("protection_level") or "SOFTWARE"}
        path = f"/v1/{a['key_ring']}/cryptoKeys?cryptoKeyId={a['name']}"
        _http("POST", self._url("kms", path), body)

    def _key_policy(self, a: dict[str, Any], members: list[str], authoritative: bool) -> None:
        base = self._url("kms", f"/v1/{a['crypto_key_id']}")
        self._add_to_policy(("GET", base + ":getIamPolicy", None), ("POST", base + ":setIamPolicy"),
                            a["role"], members, a.get("condition"), authoritative)

    def _kms_crypto_key_iam_member(self, a: dict[str, Any]) -> None:
        self._key_policy(a, [a["member"]], authoritative=False)

    def _kms_crypto_key_iam_binding(self, a: dict[str, Any]) -> None:
        self._key_policy(a, a["members"], authoritative=True)

    # --- vertex ai ------------------------------------------------------------------------
    def _vertex(self, region: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the region's endpoint and wait for the operation: its ``response``."""
        base = f"{self.endpoints['aiplatform']}/{region}-aiplatform"
        op = _http("POST", base + path, body)
        for _ in range(500):
            if op.get("done"):
                if "error" in op:
                    raise AssertionError(f"{path}: {op['error']}")
                return dict(op.get("response") or {})
            time.sleep(0.02)
            op = _http("GET", f"{base}/v1/{op['name']}")
        raise TimeoutError(path)

    @staticmethod
    def _loc(a: dict[str, Any]) -> tuple[str, str]:
        region = a.get("region") or a["location"]
        return region, f"/v1/projects/{a['project']}/locations/{region}"

    def _vertex_ai_metadata_store(self, a: dict[str, Any]) -> None:
        region, loc = self._loc(a)
        self._vertex(region, f"{loc}/metadataStores?metadataStoreId={a['name']}",
                     {"description": a.get("description") or ""})

    def _vertex_ai_tensorboard(self, a: dict[str, Any]) -> dict[str, Any]:
        region, loc = self._loc(a)
        made = self._vertex(region, f"{loc}/tensorboards", {
            "displayName": a["display_name"], "description": a.get("description") or "",
            "labels": a.get("labels") or {}})
        number_name = made["name"]
        tb_id = number_name.rsplit("/", 1)[1]
        return {"name": number_name, "id": f"projects/{a['project']}/locations/{region}/tensorboards/{tb_id}"}

    def _vertex_ai_endpoint(self, a: dict[str, Any]) -> None:
        region, loc = self._loc(a)
        body: dict[str, Any] = {"displayName": a["display_name"], "labels": a.get("labels") or {}}
        if a.get("description"):
            body["description"] = a["description"]
        self._vertex(region, f"{loc}/endpoints?endpointId={a['name']}", body)

    def _vertex_ai_feature_online_store(self, a: dict[str, Any]) -> None:
        region, loc = self._loc(a)
        body: dict[str, Any] = {"labels": a.get("labels") or {}}
        if a.get("bigtable"):
            s = a["bigtable"][0]["auto_scaling"][0]
            body["bigtable"] = {"autoScaling": {"minNodeCount": s["min_node_count"],
                                                "maxNodeCount": s["max_node_count"],
                                                "cpuUtilizationTarget": s["cpu_utilization_target"]}}
        else:
            body["optimized"] = {}
        self._vertex(region, f"{loc}/featureOnlineStores?featureOnlineStoreId={a['name']}", body)

    def _vertex_ai_feature_online_store_featureview(self, a: dict[str, Any]) -> None:
        region, loc = self._loc(a)
        source = a["big_query_source"][0]
        body: dict[str, Any] = {"labels": a.get("labels") or {}, "bigQuerySource": {
            "uri": source["uri"], "entityIdColumns": source["entity_id_columns"]}}
        if a.get("sync_config"):
            body["syncConfig"] = {"cron": a["sync_config"][0]["cron"]}
        path = f"{loc}/featureOnlineStores/{a['feature_online_store']}/featureViews?featureViewId={a['name']}"
        self._vertex(region, path, body)

    # --- compute --------------------------------------------------------------------------
    def _compute_network(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": a["name"], "autoCreateSubnetworks": a["auto_create_subnetworks"],
                                "routingConfig": {"routingMode": a["routing_mode"]}, "mtu": a["mtu"]}
        if a.get("description"):
            body["description"] = a["description"]
        self._compute(f"/compute/v1/projects/{a['project']}/global/networks", body)

    def _compute_subnetwork(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": a["name"], "network": a["network"],
                                "ipCidrRange": a["ip_cidr_range"],
                                "privateIpGoogleAccess": a["private_ip_google_access"],
                                "secondaryIpRanges": [{"rangeName": r["range_name"],
                                                       "ipCidrRange": r["ip_cidr_range"]}
                                                      for r in a.get("secondary_ip_range") or []]}
        if a.get("log_config"):
            c = a["log_config"][0]
            body["logConfig"] = {"enable": True, "aggregationInterval": c["aggregation_interval"],
                                 "flowSampling": c["flow_sampling"], "metadata": c["metadata"],
                                 "filterExpr": c.get("filter_expr") or "true"}
        path = f"/compute/v1/projects/{a['project']}/regions/{a['region']}/subnetworks"
        self._compute(path, body)

    def _compute_firewall(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": a["name"], "network": a["network"],
                                "direction": a["direction"], "priority": a["priority"],
                                "disabled": a.get("disabled", False)}
        for attr, key in (("allow", "allowed"), ("deny", "denied")):
            if a.get(attr):
                body[key] = [{"IPProtocol": r["protocol"], **({"ports": r["ports"]} if r.get("ports") else {})}
                             for r in a[attr]]
        for attr, key in (("source_ranges", "sourceRanges"), ("destination_ranges", "destinationRanges"),
                          ("source_tags", "sourceTags"), ("target_tags", "targetTags"),
                          ("target_service_accounts", "targetServiceAccounts"),
                          ("source_service_accounts", "sourceServiceAccounts"),
                          ("description", "description")):
            if a.get(attr):
                body[key] = a[attr]
        if a.get("log_config"):
            body["logConfig"] = {"enable": True, "metadata": a["log_config"][0]["metadata"]}
        self._compute(f"/compute/v1/projects/{a['project']}/global/firewalls", body)

    # --- operations: cloud monitoring and logging (gRPC clients, as the emulator serves them;
    # the provider's REST bodies are the same messages in their JSON form) -------------------
    def _gapic(self, endpoint: str, module: str, client: str) -> Any:
        import importlib

        service = importlib.import_module(f"{module}.services.{_snake(client)}")
        transport = getattr(service.transports, client.replace("Client", "GrpcTransport"))
        channel = insecure_channel(self.endpoints[endpoint])
        return getattr(service, client)(transport=transport(channel=channel))

    def _server_named(self, a: dict[str, Any], made: Any) -> dict[str, Any]:
        """The name the server chose, in place of the fixture's ``COMPUTED-...`` placeholder
        (kept so later instances referring to it get the real name)."""
        self._names = {**getattr(self, "_names", {}), a["name"]: made.name}
        return {"name": made.name, "id": made.name}

    def _real(self, value: Any) -> Any:
        return getattr(self, "_names", {}).get(value, value)

    def _monitoring_notification_channel(self, a: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import monitoring_v3

        labels = dict(a.get("labels") or {})
        for block in a.get("sensitive_labels") or []:     # the provider merges them in
            labels.update({k: v for k, v in block.items() if v})
        body = {"type": a["type"], "displayName": a.get("display_name") or "",
                "description": a.get("description") or "", "labels": labels,
                "userLabels": a.get("user_labels") or {}, "enabled": a["enabled"]}
        client = self._gapic("monitoring", "google.cloud.monitoring_v3",
                             "NotificationChannelServiceClient")
        made = client.create_notification_channel(request={
            "name": f"projects/{a['project']}",
            "notification_channel": monitoring_v3.NotificationChannel.from_json(json.dumps(body))})
        return self._server_named(a, made)

    def _monitoring_alert_policy(self, a: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import monitoring_v3

        body = _rest({k: a[k] for k in ("display_name", "combiner", "enabled", "severity",
                                        "conditions", "documentation", "alert_strategy",
                                        "user_labels")})
        for condition in body["conditions"]:
            condition.pop("name", None)             # output only
        body["notificationChannels"] = [self._real(c) for c in a["notification_channels"]]
        a["notification_channels"] = body["notificationChannels"]
        client = self._gapic("monitoring", "google.cloud.monitoring_v3", "AlertPolicyServiceClient")
        made = client.create_alert_policy(request={
            "name": f"projects/{a['project']}",
            "alert_policy": monitoring_v3.AlertPolicy.from_json(json.dumps(body))})
        return self._server_named(a, made)

    def _monitoring_uptime_check_config(self, a: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import monitoring_v3

        body = _rest({k: a[k] for k in ("display_name", "period", "timeout", "content_matchers",
                                        "selected_regions", "checker_type", "http_check",
                                        "tcp_check", "monitored_resource", "user_labels")})
        client = self._gapic("monitoring", "google.cloud.monitoring_v3", "UptimeCheckServiceClient")
        made = client.create_uptime_check_config(request={
            "parent": f"projects/{a['project']}",
            "uptime_check_config": monitoring_v3.UptimeCheckConfig.from_json(json.dumps(body))})
        return {**self._server_named(a, made), "uptime_check_id": made.name.rsplit("/", 1)[1]}

    def _monitoring_metric_descriptor(self, a: dict[str, Any]) -> None:
        from google.api import metric_pb2
        from google.protobuf import json_format

        body = _rest({k: a[k] for k in ("type", "metric_kind", "value_type", "labels", "unit",
                                        "description", "display_name", "launch_stage")})
        client = self._gapic("monitoring", "google.cloud.monitoring_v3", "MetricServiceClient")
        client.create_metric_descriptor(request={
            "name": f"projects/{a['project']}",
            "metric_descriptor": json_format.ParseDict(body, metric_pb2.MetricDescriptor())})

    def _monitoring_dashboard(self, a: dict[str, Any]) -> dict[str, Any]:
        """A configuration without ``name`` gets one the server chooses (the provider's
        ``id`` is the response's name)."""
        path = f"/v1/projects/{a['project']}/dashboards"
        made = _http("POST", self._url("dashboards", path), json.loads(a["dashboard_json"]))
        return {"id": made["name"]}

    def _logging_project_bucket_config(self, a: dict[str, Any]) -> None:
        if a["bucket_id"].startswith("_"):
            return      # Google's own buckets: the provider updates them, nothing to create
        body = _rest({"retention_days": a["retention_days"], "locked": a["locked"],
                      "description": a["description"], "analytics_enabled": a["enable_analytics"]})
        client = self._gapic("logging", "google.cloud.logging_v2", "ConfigServiceV2Client")
        from google.cloud.logging_v2.types import LogBucket

        parent = f"projects/{a['project']}/locations/{a['location']}"
        client.create_bucket(request={"parent": parent, "bucket_id": a["bucket_id"],
                                      "bucket": LogBucket.from_json(json.dumps(body))})

    def _logging_metric(self, a: dict[str, Any]) -> None:
        from google.cloud.logging_v2.types import LogMetric

        body = _rest({k: a[k] for k in ("name", "filter", "description", "disabled",
                                        "metric_descriptor", "label_extractors",
                                        "value_extractor", "bucket_options", "bucket_name")})
        client = self._gapic("logging", "google.cloud.logging_v2", "MetricsServiceV2Client")
        client.create_log_metric(request={"parent": f"projects/{a['project']}",
                                          "metric": LogMetric.from_json(json.dumps(body))})

    def _logging_project_sink(self, a: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.logging_v2.types import LogSink

        body = _rest({k: a[k] for k in ("name", "destination", "filter", "description",
                                        "disabled", "exclusions", "bigquery_options")})
        client = self._gapic("logging", "google.cloud.logging_v2", "ConfigServiceV2Client")
        made = client.create_sink(request={"parent": f"projects/{a['project']}",
                                           "sink": LogSink.from_json(json.dumps(body)),
                                           "unique_writer_identity": a["unique_writer_identity"]})
        self._names = {**getattr(self, "_names", {}), a["writer_identity"]: made.writer_identity}
        return {"writer_identity": made.writer_identity}


    # --- compute: routers and Cloud NAT (``Router.yaml``, ``RouterNat.yaml``) -------------------
    def _compute_router(self, a: dict[str, Any]) -> None:
        body: dict[str, Any] = {"name": a["name"], "network": a["network"]}
        if a.get("description"):
            body["description"] = a["description"]
        if a.get("bgp"):
            b = a["bgp"][0]
            body["bgp"] = {"asn": b["asn"], "advertiseMode": b["advertise_mode"],
                           "advertisedGroups": b.get("advertised_groups") or [],
                           "keepaliveInterval": b["keepalive_interval"]}
        self._compute(f"/compute/v1/projects/{a['project']}/regions/{a['region']}/routers", body)

    def _compute_router_nat(self, a: dict[str, Any]) -> None:
        """The provider's RouterNat is a PATCH of its router's ``nats`` (read, append, write:
        magic-modules RouterNat.yaml ``nested_query`` / ``update_verb: PATCH``)."""
        path = f"/compute/v1/projects/{a['project']}/regions/{a['region']}/routers/{a['router']}"
        router = _http("GET", self._url("compute", path))
        nat: dict[str, Any] = {"name": a["name"], "natIpAllocateOption": a["nat_ip_allocate_option"],
                               "sourceSubnetworkIpRangesToNat": a["source_subnetwork_ip_ranges_to_nat"],
                               "minPortsPerVm": a["min_ports_per_vm"],
                               "enableDynamicPortAllocation": a["enable_dynamic_port_allocation"],
                               "enableEndpointIndependentMapping": a["enable_endpoint_independent_mapping"],
                               "natIps": a.get("nat_ips") or [],
                               "subnetworks": [{"name": s["name"],
                                                "sourceIpRangesToNat": s["source_ip_ranges_to_nat"],
                                                "secondaryIpRangeNames": s.get("secondary_ip_range_names") or []}
                                               for s in a.get("subnetwork") or []]}
        for attr in ("udp_idle_timeout_sec", "icmp_idle_timeout_sec", "tcp_established_idle_timeout_sec",
                     "tcp_transitory_idle_timeout_sec", "tcp_time_wait_timeout_sec"):
            nat[_camel(attr)] = a[attr]
        if a.get("log_config"):
            nat["logConfig"] = {"enable": a["log_config"][0]["enable"],
                                "filter": a["log_config"][0]["filter"]}
        op = _http("PATCH", self._url("compute", path), {"nats": [*router.get("nats", []), nat]})
        self._wait_compute(op)

    def _wait_compute(self, op: dict[str, Any]) -> None:
        op_path = op["selfLink"].split("/compute/v1", 1)[1]
        for _ in range(500):
            if _http("GET", self._url("compute", "/compute/v1" + op_path))["status"] == "DONE":
                return
            time.sleep(0.02)
        raise TimeoutError(op_path)

    # --- compute: instances (resource_compute_instance.go: expandBootDisk, expandScheduling,
    # resolveImage in image.go) ---------------------------------------------------------------
    def _compute_instance(self, a: dict[str, Any]) -> None:
        zone, project = a["zone"], a["project"]
        boot, params = a["boot_disk"][0], a["boot_disk"][0]["initialize_params"][0]
        disk: dict[str, Any] = {"boot": True, "autoDelete": boot.get("auto_delete", True),
                                "initializeParams": {"sourceImage": self._resolve_image(params["image"], project),
                                                     "diskSizeGb": str(params["size"]),
                                                     "diskType": f"zones/{zone}/diskTypes/{params['type']}"}}
        if boot.get("kms_key_self_link"):
            disk["diskEncryptionKey"] = {"kmsKeyName": boot["kms_key_self_link"]}
        s = a["scheduling"][0]
        body: dict[str, Any] = {
            "name": a["name"], "machineType": f"zones/{zone}/machineTypes/{a['machine_type']}",
            "disks": [disk], "labels": a.get("labels") or {},
            "scheduling": {"automaticRestart": s["automatic_restart"],
                           "onHostMaintenance": s["on_host_maintenance"],
                           "preemptible": s["preemptible"], "provisioningModel": s["provisioning_model"],
                           **({"instanceTerminationAction": s["instance_termination_action"]}
                              if s.get("instance_termination_action") else {})},
            "networkInterfaces": [{"network": n["network"], "subnetwork": n["subnetwork"],
                                   "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}
                                                     for _ in n.get("access_config") or []]}
                                  for n in a["network_interface"]],
            "deletionProtection": a["deletion_protection"]}
        metadata = dict(a.get("metadata") or {})
        if a.get("metadata_startup_script"):
            metadata["startup-script"] = a["metadata_startup_script"]
        if metadata:
            body["metadata"] = {"items": [{"key": k, "value": v} for k, v in sorted(metadata.items())]}
        if a.get("tags"):
            body["tags"] = {"items": a["tags"]}
        if a.get("service_account"):
            body["serviceAccounts"] = [{"email": a["service_account"][0]["email"],
                                        "scopes": a["service_account"][0]["scopes"]}]
        if a.get("guest_accelerator"):
            body["guestAccelerators"] = [{"acceleratorType": f"zones/{zone}/acceleratorTypes/{g['type']}",
                                          "acceleratorCount": g["count"]} for g in a["guest_accelerator"]]
        if a.get("shielded_instance_config"):
            body["shieldedInstanceConfig"] = {_camel(k): v for k, v in a["shielded_instance_config"][0].items()}
        for attr in ("min_cpu_platform", "description"):
            if a.get(attr):
                body[_camel(attr)] = a[attr]
        base = f"/compute/v1/projects/{project}/zones/{zone}/instances"
        self._compute(base, body)
        if a.get("desired_status") == "TERMINATED":
            self._wait_compute(_http("POST", self._url("compute", f"{base}/{a['name']}/stop")))

    def _resolve_image(self, value: str, project: str) -> str:
        """``P/X`` or ``X``: the image if one is so named, else the family (image.go)."""
        if value.count("/") > 1:
            return value
        where, name = value.split("/") if "/" in value else (project, value)
        try:
            _http("GET", self._url("compute", f"/compute/v1/projects/{where}/global/images/{name}"))
            return f"projects/{where}/global/images/{name}"
        except AssertionError:
            return f"projects/{where}/global/images/family/{name}"

    # --- Workbench (magic-modules workbench Instance.yaml: gce_setup, post_create stops the
    # instance when desired_state is STOPPED) ------------------------------------------------
    def _workbench_instance(self, a: dict[str, Any]) -> None:
        g = a["gce_setup"][0]
        setup: dict[str, Any] = {"machineType": g["machine_type"],
                                 "disablePublicIp": g["disable_public_ip"], "tags": g.get("tags") or [],
                                 "metadata": g.get("metadata") or {}}
        for attr in ("vm_image", "container_image", "shielded_instance_config", "boot_disk"):
            if g.get(attr):
                setup[_camel(attr)] = _camel_keys(g[attr][0])
        for attr in ("accelerator_configs", "data_disks", "service_accounts"):
            if g.get(attr):
                setup[_camel(attr)] = [_camel_keys(i) for i in g[attr]]
        for account in setup.get("serviceAccounts", []):
            account.pop("scopes", None)          # output only
        if g.get("network_interfaces"):
            setup["networkInterfaces"] = [{k: v for k, v in _camel_keys(i).items() if k != "accessConfigs"}
                                          for i in g["network_interfaces"]]
        body: dict[str, Any] = {"gceSetup": setup, "labels": a.get("labels") or {}}
        if a.get("instance_owners"):
            body["instanceOwners"] = a["instance_owners"]
        loc = f"/v2/projects/{a['project']}/locations/{a['location']}"
        self._notebooks(_http("POST", self._url("notebooks", f"{loc}/instances?instanceId={a['name']}"), body))
        if a.get("desired_state") == "STOPPED":
            self._notebooks(_http("POST", self._url("notebooks", f"{loc}/instances/{a['name']}:stop"), {}))

    def _notebooks(self, op: dict[str, Any]) -> None:
        for _ in range(500):
            if op.get("done"):
                if op.get("error"):
                    raise AssertionError(op["error"])
                return
            time.sleep(0.02)
            op = _http("GET", self._url("notebooks", f"/v2/{op['name']}"))
        raise TimeoutError(op["name"])

    # --- GKE (resource_container_cluster.go / _node_pool.go, node_config.go: expandNodeConfig;
    # remove_default_node_pool deletes "default-pool" once the cluster runs) --------------------
    def _container_cluster(self, a: dict[str, Any]) -> None:
        loc = f"/v1/projects/{a['project']}/locations/{a['location']}"
        body: dict[str, Any] = {"name": a["name"], "network": a["network"], "subnetwork": a["subnetwork"],
                                "resourceLabels": a.get("resource_labels") or {},
                                "nodePools": [{"name": "default-pool",
                                               "initialNodeCount": a.get("initial_node_count") or 1}],
                                "shieldedNodes": {"enabled": a["enable_shielded_nodes"]},
                                "releaseChannel": {"channel": a["release_channel"][0]["channel"]}}
        if a.get("description"):
            body["description"] = a["description"]
        if a.get("ip_allocation_policy"):
            p = a["ip_allocation_policy"][0]
            body["ipAllocationPolicy"] = {"useIpAliases": True,
                                          "clusterSecondaryRangeName": p["cluster_secondary_range_name"],
                                          "servicesSecondaryRangeName": p["services_secondary_range_name"]}
        if a.get("private_cluster_config"):
            p = a["private_cluster_config"][0]
            body["privateClusterConfig"] = {"enablePrivateNodes": p["enable_private_nodes"],
                                            "enablePrivateEndpoint": p["enable_private_endpoint"],
                                            "masterIpv4CidrBlock": p["master_ipv4_cidr_block"]}
        if a.get("master_authorized_networks_config"):
            m = a["master_authorized_networks_config"][0]
            body["masterAuthorizedNetworksConfig"] = {
                "enabled": True, "cidrBlocks": [{"cidrBlock": c["cidr_block"], "displayName": c["display_name"]}
                                                for c in m.get("cidr_blocks") or []]}
        if a.get("workload_identity_config"):
            body["workloadIdentityConfig"] = {"workloadPool": a["workload_identity_config"][0]["workload_pool"]}
        if a.get("logging_config"):
            body["loggingConfig"] = {"componentConfig": {"enableComponents": a["logging_config"][0]["enable_components"]}}
        if a.get("monitoring_config"):
            m = a["monitoring_config"][0]
            body["monitoringConfig"] = {"componentConfig": {"enableComponents": m["enable_components"]},
                                        "managedPrometheusConfig": {"enabled": bool(m.get("managed_prometheus")
                                                                                    and m["managed_prometheus"][0]["enabled"])}}
        if a.get("vertical_pod_autoscaling"):
            body["verticalPodAutoscaling"] = {"enabled": a["vertical_pod_autoscaling"][0]["enabled"]}
        window = (a.get("maintenance_policy") or [{}])[0]
        if window.get("daily_maintenance_window"):
            body["maintenancePolicy"] = {"window": {"dailyMaintenanceWindow": {
                "startTime": window["daily_maintenance_window"][0]["start_time"]}}}
        elif window.get("recurring_window"):
            r = window["recurring_window"][0]
            body["maintenancePolicy"] = {"window": {"recurringWindow": {
                "window": {"startTime": r["start_time"], "endTime": r["end_time"]}, "recurrence": r["recurrence"]}}}
        self._gke(loc, _http("POST", self._url("container", f"{loc}/clusters"), {"cluster": body}))
        if a.get("remove_default_node_pool"):
            pool = f"{loc}/clusters/{a['name']}/nodePools/default-pool"
            self._gke(loc, _http("DELETE", self._url("container", pool)))

    def _container_node_pool(self, a: dict[str, Any]) -> None:
        loc = f"/v1/projects/{a['project']}/locations/{a['location']}"
        cluster = a["cluster"].rsplit("/", 1)[-1]
        c = a["node_config"][0]
        config: dict[str, Any] = {"machineType": c["machine_type"], "diskSizeGb": c["disk_size_gb"],
                                  "diskType": c["disk_type"], "imageType": c["image_type"],
                                  "serviceAccount": c["service_account"], "oauthScopes": c["oauth_scopes"],
                                  "labels": c.get("labels") or {}, "resourceLabels": c.get("resource_labels") or {},
                                  "tags": c.get("tags") or [], "metadata": c.get("metadata") or {},
                                  "spot": c.get("spot", False), "preemptible": c.get("preemptible", False),
                                  "taints": [{"key": t["key"], "value": t["value"], "effect": t["effect"]}
                                             for t in c.get("taint") or []]}
        if c.get("guest_accelerator"):
            config["accelerators"] = [
                {"acceleratorType": g["type"], "acceleratorCount": g["count"],
                 **({"gpuDriverInstallationConfig": {"gpuDriverVersion": g["gpu_driver_installation_config"][0]["gpu_driver_version"]}}
                    if g.get("gpu_driver_installation_config") else {})} for g in c["guest_accelerator"]]
        if c.get("workload_metadata_config"):
            config["workloadMetadataConfig"] = {"mode": c["workload_metadata_config"][0]["mode"]}
        if c.get("shielded_instance_config"):
            s = c["shielded_instance_config"][0]
            config["shieldedInstanceConfig"] = {"enableSecureBoot": s["enable_secure_boot"],
                                                "enableIntegrityMonitoring": s["enable_integrity_monitoring"]}
        body: dict[str, Any] = {"name": a["name"], "config": config,
                                "initialNodeCount": a["initial_node_count"],
                                "maxPodsConstraint": {"maxPodsPerNode": str(a["max_pods_per_node"])}}
        if a.get("node_locations"):
            body["locations"] = a["node_locations"]
        if a.get("autoscaling"):
            s = a["autoscaling"][0]
            body["autoscaling"] = {"enabled": True, "locationPolicy": s["location_policy"],
                                   **{_camel(k): s[k] for k in ("min_node_count", "max_node_count",
                                                                "total_min_node_count", "total_max_node_count")
                                      if s.get(k)}}
        if a.get("management"):
            m = a["management"][0]
            body["management"] = {"autoRepair": m["auto_repair"], "autoUpgrade": m["auto_upgrade"]}
        if a.get("upgrade_settings"):
            u = a["upgrade_settings"][0]
            body["upgradeSettings"] = {"maxSurge": u["max_surge"], "maxUnavailable": u["max_unavailable"],
                                       "strategy": u["strategy"]}
        self._gke(loc, _http("POST", self._url("container", f"{loc}/clusters/{cluster}/nodePools"),
                             {"nodePool": body}))

    def _gke(self, loc: str, op: dict[str, Any]) -> None:
        for _ in range(3000):
            if op.get("status") == "DONE":
                if op.get("error"):
                    raise AssertionError(op["error"])
                return
            time.sleep(0.02)
            op = _http("GET", self._url("container", f"{loc}/operations/{op['name']}"))
        raise TimeoutError(op["name"])


def _snake(client: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", client.removesuffix("Client")).lower()


# Blocks of the monitoring and logging schemas that hold one message (MaxItems: 1, a one-item
# list in state; magic-modules AlertPolicy.yaml, UptimeCheckConfig.yaml, logging/Metric.yaml):
_SINGLE = frozenset({"condition_threshold", "condition_absent", "condition_matched_log",
                     "condition_prometheus_query_language", "trigger", "documentation",
                     "alert_strategy", "notification_rate_limit", "http_check", "tcp_check",
                     "monitored_resource", "metric_descriptor", "bucket_options",
                     "linear_buckets", "exponential_buckets", "explicit_buckets",
                     "bigquery_options", "auth_info", "ping_config", "json_path_matcher"})


def _rest(value: Any, key: str = "") -> Any:
    """Provider attributes as the REST body its expanders send: camelCase, one-message blocks
    unwrapped, unset values left out (``user_labels``/``labels`` maps keep their keys)."""
    if isinstance(value, list) and key in _SINGLE:
        return _rest(value[0]) if value else None
    if isinstance(value, list):
        return [_rest(v) for v in value]
    if isinstance(value, dict) and key in ("user_labels", "labels", "label_extractors", "headers"):
        return dict(value)
    if isinstance(value, dict):
        out = {_camel(k): _rest(v, k) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _empty(v)}
    return value


def _empty(value: Any) -> bool:
    """What the expanders leave out of a body: unset values and numeric zeros (``false`` is
    sent: ``enabled: false`` has ``send_empty_value``)."""
    if isinstance(value, bool):
        return False
    return value is None or value == "" or value == [] or value == {} or value == 0


def _visible(read: Any) -> None:
    """Wait out IAM's eventual consistency as the provider does (it retries reads after a
    create, ``resource_google_service_account.go``), for the account to be seen."""
    from google.api_core.exceptions import NotFound

    for _ in range(500):
        try:
            read()
            return
        except NotFound:
            time.sleep(0.01)
    raise TimeoutError("never became visible")


# the order Terraform's graph walks them in (dependencies first)
_ORDER = {"google_project_service": 0, "google_service_account": 1,
          "google_project_iam_custom_role": 1, "google_kms_key_ring": 1,
          "google_compute_network": 1, "google_storage_bucket": 2, "google_bigquery_dataset": 2,
          "google_kms_crypto_key": 2, "google_compute_subnetwork": 2, "google_compute_firewall": 2,
          "google_monitoring_notification_channel": 1,
          "google_logging_project_bucket_config": 1, "google_monitoring_alert_policy": 2,
          "google_logging_project_sink": 3, "google_storage_bucket_iam_member": 4,
          "google_bigquery_table": 3, "google_vertex_ai_feature_online_store": 3,
          "google_vertex_ai_feature_online_store_featureview": 4}
_ORDER.update({"google_compute_router": 3, "google_compute_router_nat": 4,
               "google_compute_instance": 3, "google_workbench_instance": 3,
               "google_container_cluster": 3, "google_container_node_pool": 4})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _camel_keys(entry: dict[str, Any]) -> dict[str, Any]:
    return {_camel(k): v for k, v in entry.items() if v not in (None, "", [], {})}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """The provider's ``flattenBucketLifecycleRuleCondition`` inverse (``send_*_if_zero``)."""
    action = {"type": rule["action"][0]["type"]}
    if rule["action"][0].get("storage_class"):
        action["storageClass"] = rule["action"][0]["storage_class"]
    c = rule["condition"][0]
    cond: dict[str, Any] = {}
    if c.get("age") or c.get("send_age_if_zero"):
        cond["age"] = c["age"]
    if c.get("num_newer_versions"):
        cond["numNewerVersions"] = c["num_newer_versions"]
    if c.get("matches_prefix"):
        cond["matchesPrefix"] = c["matches_prefix"]
    if c.get("matches_storage_class"):
        cond["matchesStorageClass"] = c["matches_storage_class"]
    state = c.get("with_state")
    if state in ("LIVE", "ARCHIVED"):
        cond["isLive"] = state == "LIVE"
    return {"action": action, "condition": cond}
