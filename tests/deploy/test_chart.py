"""The Helm chart under deploy/helm/cdshooks: rendered (tests/support/minihelm.py, no helm binary
here), validated against the Kubernetes OpenAPI schemas shipped offline by kubernetes-validate
(strict: an unknown or misspelt field fails), and read for the invariants a reviewer would check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import requests

from cdshooks.config import settings_from_env
from support.minihelm import TemplateError, render_chart

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "cdshooks"
README = Path(__file__).resolve().parents[2] / "README.md"
KUBE_VERSIONS = ("1.27.0", "1.37.0")  # Chart.yaml kubeVersion floor, and the newest schemas shipped
SECRETS = {
    "databaseUrl": "postgresql+psycopg://cds:pw@postgres.db.svc:5432/cds",
    "auditKey": "f" * 64,
    "trustedIssuers": json.dumps([{"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks"}]),
}


def _render(**values: Any) -> list[dict[str, Any]]:
    merged = {"secret": SECRETS, **values}
    return [doc for docs in render_chart(CHART, merged).values() for doc in docs]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


@pytest.mark.parametrize("values", [{}, {"autoscaling": {"enabled": False}, "serviceMonitor": {"enabled": True}}],
                         ids=["defaults", "fixed-replicas-servicemonitor"])
def test_every_rendered_object_is_valid_for_kubernetes(values: dict[str, Any]) -> None:
    docs = _render(**values)
    kinds = sorted(d["kind"] for d in docs)
    expected = {"ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Secret", "Service"}
    expected |= {"HorizontalPodAutoscaler"} if not values else {"ServiceMonitor"}
    assert set(kinds) == expected and len(kinds) == len(expected)
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD: no schema ships for it, checked by hand below
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            assert doc["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
            continue
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    deployment = _one(docs, "Deployment")
    autoscaled = values.get("autoscaling", {}).get("enabled", True)
    assert ("replicas" in deployment["spec"]) == (not autoscaled), "the HPA alone owns the replica count"


def test_schema_validation_catches_a_misspelt_field() -> None:
    deployment = _one(_render(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)


def test_pods_are_non_root_read_only_probed_and_drain_before_the_kill() -> None:
    docs = _render()
    deployment = _one(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    env = {e["name"]: e for e in container["env"]}
    assert "emptyDir" in volumes[mounts[env["CDSHOOKS_DATA_DIR"]["value"]]]  # metrics multiprocess dir
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep" and int(sleep[1]) > 0
    graceful = int(_one(docs, "ConfigMap")["data"]["CDSHOOKS_GRACEFUL_TIMEOUT"])
    assert int(sleep[1]) + graceful < pod["terminationGracePeriodSeconds"], "the kubelet would kill mid-drain"
    assert env["CDSHOOKS_MIGRATE"]["value"] == "never", "pods must not race on migrations"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_selectors_names_and_secret_keys_fit_together() -> None:
    docs = _render()
    deployment = _one(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert spread["labelSelector"]["matchLabels"] == labels and spread["topologyKey"] == "kubernetes.io/hostname"
    for kind in ("Service", "PodDisruptionBudget"):
        spec = _one(docs, kind)["spec"]
        selector = spec["selector"].get("matchLabels", spec["selector"])
        assert selector.items() <= labels.items(), kind
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert _one(docs, "Service")["spec"]["ports"][0]["targetPort"] in {p["name"] for p in container["ports"]}
    assert _one(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert container["envFrom"][0]["configMapRef"]["name"] == _one(docs, "ConfigMap")["metadata"]["name"]
    secret = _one(docs, "Secret")
    secret_volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v)
    assert secret_volume["secret"]["secretName"] == secret["metadata"]["name"]
    referenced = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
    referenced += [e["valueFrom"]["secretKeyRef"] for e in _one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert referenced and all(r["name"] == secret["metadata"]["name"] and r["key"] in secret["stringData"] for r in referenced)
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == secret_volume["name"])
    files = {e["value"] for e in container["env"] if e.get("value", "").startswith(mount + "/")}
    assert {f.rsplit("/", 1)[1] for f in files} <= set(secret["stringData"]) and len(files) == 2


def test_migration_job_runs_db_upgrade_once_per_release_before_the_pods() -> None:
    docs = _render()
    job = _one(docs, "Job")
    hooks = job["metadata"]["annotations"]
    assert hooks["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["cdshooks", "db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    secret_hook = _one(docs, "Secret")["metadata"]["annotations"]
    assert int(secret_hook["helm.sh/hook-weight"]) < int(hooks["helm.sh/hook-weight"]), "the Job needs the Secret first"


def test_the_chart_settings_are_accepted_by_the_service(tmp_path: Path) -> None:
    """The env a pod gets (ConfigMap + literal env + secret files) passes settings_from_env."""
    docs = _render()
    container = _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    secret = _one(docs, "Secret")["stringData"]
    for key, value in secret.items():
        (tmp_path / key).write_text(value)
    env = dict(_one(docs, "ConfigMap")["data"])
    for item in container["env"]:
        if "valueFrom" in item:
            env[item["name"]] = secret[item["valueFrom"]["secretKeyRef"]["key"]]
        else:
            env[item["name"]] = item["value"].replace("/etc/cdshooks/secret", str(tmp_path))
    settings = settings_from_env(env)
    assert settings.migrate == "never" and settings.audit_key == SECRETS["auditKey"]
    assert settings.trusted_issuers[0].iss == "https://ehr.example.org"
    documented = set(re.findall(r"`(CDSHOOKS_[A-Z_]+)`", README.read_text()))
    assert set(env) - documented == set(), "every setting the chart sets is documented in README"


def test_missing_secret_values_refuse_to_render() -> None:
    with pytest.raises(TemplateError, match="secret.auditKey is required"):
        render_chart(CHART, {"secret": {**SECRETS, "auditKey": ""}})
    assert not any(d["kind"] == "Secret" for d in _render(secret={**SECRETS, "create": False}))


@pytest.mark.parametrize("template", ['{{ include "x" . }}', "{{ range .Values.a }}{{ end }}", "{{ .Values.a | b64enc }}",
                                      "{{ .Values.missing }}", "{{ if .Values.a }}open"])
def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path, template: str) -> None:
    """So a chart change beyond the subset fails here rather than rendering unlike `helm template`."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("name: t\nversion: 0.0.1\n")
    (tmp_path / "values.yaml").write_text("a: [1]\n")
    (tmp_path / "templates" / "t.yaml").write_text(template)
    with pytest.raises(TemplateError):
        render_chart(tmp_path)


def test_the_probe_paths_answer(live_service: Any) -> None:
    """/health (readiness) and /health/live (liveness) as the Deployment probes them."""
    with live_service() as base:
        assert requests.get(base + "/health", timeout=5).json()["status"] == "ok"
        live = requests.get(base + "/health/live", timeout=5)
        assert live.status_code == 200 and live.json() == {"status": "alive"}
