"""helm/disan: linted, rendered (default, production-like, Cantaloupe + dev instances) and every
rendered manifest validated against the Kubernetes schemas; assertions on what it renders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from disan.registry import SERVICES
from tests.unit.deploy.conftest import CHART, config_defaults, load_all

PRODUCTION = yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text())
CANTALOUPE_DEV = {"imageServer": {"kind": "cantaloupe"}, "dev": {"enabled": True}}
VARIANTS = {"default": {}, "production": PRODUCTION, "cantaloupe-dev": CANTALOUPE_DEV}
CRD_KINDS = {"ServiceMonitor", "ScaledObject", "TriggerAuthentication"}
KUBE_VERSIONS = ("1.25.0", "1.37.0")  # the chart's kubeVersion floor and the newest schemas
SECRET_WORD = re.compile(r"password|secret|token|credential|_key$", re.I)
ALLOWED_SECRET_KEYS = {"existingSecret", "urlSecretKey", "secretName", "tokenKid", "apiUser"}


def render(
    helm: Any, values: dict[str, Any], api_versions: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Every rendered object (hooks included), like ``helm template``."""
    from helm_python import _native

    opts: dict[str, Any] = {"name": "disan", "namespace": "heritage", "is_install": True}
    if api_versions:
        opts["api_versions"] = list(api_versions)
    with helm.Chart.load(CHART) as chart:
        # the SDK's render() has no api_versions argument; its native call takes them
        out = json.loads(
            _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts))
        )
    docs: list[dict[str, Any]] = []
    for name, text in sorted(out.items()):
        if name.endswith(".yaml"):
            docs.extend(load_all(text))
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request: pytest.FixtureRequest, helm: Any) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(helm, VARIANTS[request.param])


@pytest.fixture(scope="module")
def default_docs(helm: Any) -> list[dict[str, Any]]:
    return render(helm, {})


@pytest.fixture(scope="module")
def production_docs(helm: Any) -> list[dict[str, Any]]:
    return render(helm, PRODUCTION, api_versions=("monitoring.coreos.com/v1", "keda.sh/v1alpha1"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chart_lints_clean_in_strict_mode(helm: Any, variant: str) -> None:
    report = helm.lint(CHART, VARIANTS[variant], strict=True, namespace="heritage")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


def test_every_rendered_manifest_is_valid_kubernetes(rendered: Any) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    variant, docs = rendered
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        for version in KUBE_VERSIONS:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as exc:  # pragma: no cover - the message is the point
                pytest.fail(f"{variant}: {doc['kind']} {doc['metadata']['name']}: {exc}")


def test_kubernetes_validate_cli_accepts_the_production_manifests(
    production_docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    if not tool.exists():
        pytest.skip("kubernetes-validate is not installed")
    builtin = [d for d in production_docs if d["kind"] not in CRD_KINDS]
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(builtin), encoding="utf-8")
    done = subprocess.run(
        [str(tool), "--strict", "--quiet", "-k", "1.30.0", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_chart_services_are_exactly_the_registered_services(helm: Any) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values["services"]) == set(SERVICES)
    ops = config_defaults("ops")
    http = config_defaults("http")
    for name, svc in values["services"].items():
        assert svc["opsPort"] == ops[name], name
        if "httpPort" in svc:
            assert svc["httpPort"] == http[name], name
    assert {n for n, s in values["services"].items() if s.get("public")} == {
        "gateway",
        "imageserver",
    }


def _container(deployment: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    if name is None:
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def test_each_service_has_probes_limits_hpa_pdb_service_and_checksum(rendered: Any) -> None:
    variant, docs = rendered
    deployments = by_kind(docs, "Deployment")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    services = by_kind(docs, "Service")
    for name in SERVICES:
        full = f"disan-{name}"
        dep = deployments[full]
        assert full in services and full in pdbs, f"{variant}: {name}"
        hpa = hpas[full]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == full
        template = dep["spec"]["template"]
        assert "checksum/config" in template["metadata"]["annotations"]
        if variant == "cantaloupe-dev" and name == "imageserver":
            container = _container(dep, "iiif-adapter")
        else:
            container = _container(dep)
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["port"] == "ops"
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["DISAN_SERVICE"] == name
        for c in template["spec"]["containers"]:
            assert c["resources"]["requests"] and c["resources"]["limits"], (variant, c["name"])
            assert c.get("livenessProbe") and c.get("readinessProbe"), (variant, c["name"])


def test_ops_ports_match_the_config_file(default_docs: list[dict[str, Any]]) -> None:
    ops = config_defaults("ops")
    deployments = by_kind(default_docs, "Deployment")
    for name in SERVICES:
        container = _container(deployments[f"disan-{name}"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["ops"] == ops[name]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"DISAN_OPS_PORT_{name.upper()}"] == str(ops[name])


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in _walk(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in _walk(v, f"{path}[{i}]")]
    return [(path, node)]


@pytest.mark.parametrize("source", ["values.yaml", "ci/production-values.yaml"])
def test_no_secret_in_plain_values(source: str) -> None:
    values = yaml.safe_load((CHART / source).read_text())
    for path, value in _walk(values):
        key = path.rsplit(".", 1)[-1]
        if SECRET_WORD.search(key) and key not in ALLOWED_SECRET_KEYS:
            assert value in ("", None, False), f"{source}: {path} holds a value"


def test_rendered_secrets_come_only_from_secret_refs(rendered: Any) -> None:
    variant, docs = rendered
    assert not by_kind(docs, "Secret"), "the chart must not write Secrets from values"
    for doc in docs:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            for env in container.get("env", []):
                name = env["name"]
                if SECRET_WORD.search(name) and name not in ("DISAN_TOKEN_KID",):
                    assert "valueFrom" in env, f"{variant}: {name} is a plain value"
                    assert "secretKeyRef" in env["valueFrom"]
                value = str(env.get("value", ""))
                assert not re.search(r"://[^:/@]+:[^$@/][^@/]*@", value), (
                    f"{variant}: {name} holds credentials in a URL"
                )


def test_no_image_is_latest_or_untagged(rendered: Any) -> None:
    variant, docs = rendered
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            image = container["image"]
            last = image.rsplit("/", 1)[-1]
            assert ":" in last and not last.endswith(":latest"), f"{variant}: {image}"


def test_pods_run_as_non_root(rendered: Any) -> None:
    variant, docs = rendered
    for name in SERVICES:
        pod = by_kind(docs, "Deployment")[f"disan-{name}"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False


def test_service_monitors_only_where_the_prometheus_crds_exist(
    helm: Any, default_docs: list[dict[str, Any]], production_docs: list[dict[str, Any]]
) -> None:
    assert not by_kind(default_docs, "ServiceMonitor")
    monitors = by_kind(production_docs, "ServiceMonitor")
    assert set(monitors) == {f"disan-{name}" for name in SERVICES}
    for monitor in monitors.values():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"]["endpoints"][0]["port"] == "ops"
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_keda_scales_the_chosen_consumers_on_queue_depth_instead_of_an_hpa(
    production_docs: list[dict[str, Any]],
) -> None:
    scaled = by_kind(production_docs, "ScaledObject")
    assert set(scaled) == {"disan-catalogue"}
    trigger = scaled["disan-catalogue"]["spec"]["triggers"][0]
    assert trigger["type"] == "rabbitmq" and trigger["metadata"]["mode"] == "QueueLength"
    assert "disan-catalogue" not in by_kind(production_docs, "HorizontalPodAutoscaler")
    assert by_kind(production_docs, "TriggerAuthentication")


def test_migration_job_is_a_pre_install_and_pre_upgrade_hook(
    default_docs: list[dict[str, Any]], helm: Any
) -> None:
    job = by_kind(default_docs, "Job")["disan-migrate"]
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert _container(job)["args"] == ["bootstrap"]
    dev_job = by_kind(render(helm, CANTALOUPE_DEV), "Job")["disan-migrate"]
    # the in-chart databases exist only once the release is installed
    assert dev_job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"


def test_only_gateway_and_image_server_take_outside_traffic(rendered: Any) -> None:
    variant, docs = rendered
    policies = by_kind(docs, "NetworkPolicy")
    deny = policies["disan-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    public = policies["disan-public-http"]["spec"]
    assert public["podSelector"]["matchLabels"]["disan.io/public"] == "true"
    assert public["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    labelled = {
        name
        for name, dep in by_kind(docs, "Deployment").items()
        if dep["spec"]["template"]["metadata"]["labels"].get("disan.io/public") == "true"
    }
    # and the front of the manifest files where they are on (production): ADR 0061
    front = {"disan-front"} if VARIANTS[variant].get("manifestFiles", {}).get("enabled") else set()
    assert labelled == {"disan-gateway", "disan-imageserver"} | front, variant


def test_ingress_keeps_the_public_urls(default_docs: list[dict[str, Any]]) -> None:
    ingress = by_kind(default_docs, "Ingress")["disan"]
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert paths == {"/iiif/image/": "disan-imageserver", "/": "disan-gateway"}


def test_cantaloupe_replaces_the_image_server_behind_the_same_service(helm: Any) -> None:
    docs = render(helm, CANTALOUPE_DEV)
    dep = by_kind(docs, "Deployment")["disan-imageserver"]
    names = [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]]
    assert names == ["cantaloupe", "iiif-adapter", "purger"]
    config = by_kind(docs, "ConfigMap")["disan-cantaloupe"]["data"]
    assert config["CANTALOUPE_S3SOURCE_BASICLOOKUPSTRATEGY_PATH_SUFFIX"] == "/pyramid.tif"
    assert "listen 8002;" in config["default.conf.template"]
    service = by_kind(docs, "Service")["disan-imageserver"]
    assert {"name": "http", "port": 8002, "targetPort": "http", "protocol": "TCP"} in service[
        "spec"
    ]["ports"]
    purger = _container(dep, "purger")
    assert purger["command"] == ["python", "-m", "services.cantaloupe_purger"]


def test_cantaloupe_ids_follow_the_public_url_only(helm: Any) -> None:
    """Cantaloupe's base_uri and the adapter's forwarded headers come from config.publicUrl."""
    public = "https://heritage.example.vn"
    docs = render(helm, {**CANTALOUPE_DEV, "config": {"publicUrl": public}})
    dep = by_kind(docs, "Deployment")["disan-imageserver"]
    cantaloupe = {e["name"]: e.get("value") for e in _container(dep, "cantaloupe")["env"]}
    adapter = {e["name"]: e.get("value") for e in _container(dep, "iiif-adapter")["env"]}
    assert cantaloupe["CANTALOUPE_BASE_URI"] == public
    assert adapter["DISAN_PUBLIC_URL"] == public
    conf = by_kind(docs, "ConfigMap")["disan-cantaloupe"]["data"]["default.conf.template"]
    assert "$http_host" not in conf and "$http_x_forwarded" not in conf


def test_dev_instances_only_when_asked(helm: Any, default_docs: list[dict[str, Any]]) -> None:
    assert "disan-postgresql" not in by_kind(default_docs, "Deployment")
    docs = render(helm, CANTALOUPE_DEV)
    deployments = by_kind(docs, "Deployment")
    for infra in ("postgresql", "rabbitmq", "redis", "minio"):
        assert f"disan-{infra}" in deployments
    env = {e["name"]: e for e in _container(deployments["disan-access"])["env"]}
    assert "@disan-postgresql:5432/" in env["DISAN_DATABASE_URL"]["value"]


def test_production_takes_whole_urls_from_the_secret_when_told(
    production_docs: list[dict[str, Any]],
) -> None:
    env = {
        e["name"]: e
        for e in _container(by_kind(production_docs, "Deployment")["disan-catalogue"])["env"]
    }
    assert env["DISAN_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DISAN_DATABASE_URL"
    assert env["DISAN_AMQP_URI"]["value"].startswith("amqps://disan:$(DISAN_RABBITMQ_PASSWORD)@")
    assert env["DISAN_S3_SECURE"]["value"] == "true"


@pytest.mark.parametrize(
    "values",
    [
        {"image": {"repository": "disan/disan", "tag": "latest"}},
        {"services": {"access": {"opsPort": 9105, "env": {"DISAN_TOKEN_SECRET": "x"}}}},
        {"config": {"extraEnv": {"DISAN_ADMIN_PASSWORD": "hunter2"}}},
        {"dev": {"images": {"postgresql": "postgres:latest"}}},
        {"imageServer": {"kind": "iipimage"}},
    ],
)
def test_schema_refuses_latest_tags_secrets_in_values_and_unknown_kinds(
    helm: Any, values: dict[str, Any]
) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError):
        chart.validate_schema(values)


def test_media_has_disk_for_the_masters_it_processes(default_docs: list[dict[str, Any]]) -> None:
    pod = by_kind(default_docs, "Deployment")["disan-media"]["spec"]["template"]["spec"]
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"]["sizeLimit"] == "20Gi"


def _resolve_pod_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet builds it, with dummy secret values."""
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "valueFrom" in entry:
            key = entry["valueFrom"]["secretKeyRef"]["key"]
            value = "s" * 40 if "TOKEN_SECRET" in key else "pw"
            if key == "DISAN_DATABASE_URL":
                value = "postgresql://disan:pw@pg:5432/disan"
            if key == "DISAN_TOKEN_PREVIOUS_KEYS":
                value = ""
        else:
            value = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), entry["value"]
            )
        env[entry["name"]] = value
    return env


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_pod_environment_loads_as_valid_disan_settings(helm: Any, variant: str) -> None:
    from shared.config import load_settings

    docs = render(helm, VARIANTS[variant])
    deployments = by_kind(docs, "Deployment")
    for name in SERVICES:
        dep = deployments[f"disan-{name}"]
        container = _container(dep, "purger" if "purger" in str(dep) else None)
        settings = load_settings(env=_resolve_pod_env(container))
        assert settings.bind_host == "0.0.0.0"
        assert "$(" not in settings.database_url + settings.amqp_uri + settings.redis_url
    job = by_kind(docs, "Job")["disan-migrate"]
    load_settings(env=_resolve_pod_env(_container(job)))


def test_the_dashboard_is_offered_to_grafanas_sidecar(default_docs: list[dict[str, Any]]) -> None:
    config = by_kind(default_docs, "ConfigMap")["disan-dashboard"]
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config["data"]["disan.json"])["uid"] == "disan-overview"


# public manifests as files (ADR 0061, manifestFiles) -------------------------------------------

STATIC_DIR = "/var/lib/disan/iiif-static"


def _mount(pod: dict[str, Any], container: dict[str, Any], path: str) -> tuple[dict, dict]:
    """The volume mounted at ``path`` in ``container`` and the mount itself."""
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == path)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return volume, mount


def test_manifest_files_are_off_unless_asked(default_docs: list[dict[str, Any]]) -> None:
    assert not by_kind(default_docs, "PersistentVolumeClaim")
    assert "disan-front" not in by_kind(default_docs, "Deployment")
    iiif = _container(by_kind(default_docs, "Deployment")["disan-iiif"])
    assert "DISAN_IIIF_STATIC_DIR" not in {e["name"] for e in iiif["env"]}


def test_iiif_pods_write_manifest_files_to_one_read_write_many_volume(
    production_docs: list[dict[str, Any]],
) -> None:
    from services.iiif.static import static_dir_of
    from shared.config import load_settings

    claim = by_kind(production_docs, "PersistentVolumeClaim")["disan-manifest-files"]["spec"]
    assert claim["accessModes"] == ["ReadWriteMany"]  # every iiif replica, every front pod
    assert claim["storageClassName"] == PRODUCTION["manifestFiles"]["storageClass"]
    assert claim["resources"]["requests"]["storage"] == PRODUCTION["manifestFiles"]["size"]
    dep = by_kind(production_docs, "Deployment")["disan-iiif"]
    pod, container = dep["spec"]["template"]["spec"], _container(dep)
    env = {e["name"]: e.get("value") for e in container["env"]}
    volume, mount = _mount(pod, container, env["DISAN_IIIF_STATIC_DIR"])
    assert volume["persistentVolumeClaim"]["claimName"] == "disan-manifest-files"
    assert not mount.get("readOnly")
    settings = load_settings(env=_resolve_pod_env(container))
    assert str(static_dir_of(settings)) == STATIC_DIR


def test_the_front_serves_the_files_read_only_with_the_compose_rules(
    production_docs: list[dict[str, Any]],
) -> None:
    dep = by_kind(production_docs, "Deployment")["disan-front"]
    pod, nginx = dep["spec"]["template"]["spec"], _container(dep, "nginx")
    env = {e["name"]: e["value"] for e in nginx["env"]}
    volume, mount = _mount(pod, nginx, env["DISAN_IIIF_STATIC_ROOT"])
    assert volume["persistentVolumeClaim"] == {
        "claimName": "disan-manifest-files",
        "readOnly": True,
    }
    assert mount["readOnly"] is True
    assert env["DISAN_GATEWAY_UPSTREAM"] == "disan-gateway:8001"
    templates, _ = _mount(pod, nginx, "/etc/nginx/templates")
    config = by_kind(production_docs, "ConfigMap")[templates["configMap"]["name"]]["data"]
    nginx_dir = CHART.parents[1] / "deploy" / "compose" / "nginx"
    # the very files compose runs (the chart links to them), not copies
    assert config["default.conf.template"] == (nginx_dir / "default.conf.template").read_text()
    assert (
        config["iiif-manifest-files.inc.template"]
        == (nginx_dir / "iiif-manifest-files.conf.template").read_text()
    )
    assert "include /etc/nginx/conf.d/iiif-manifest-files.inc;" in config["default.conf.template"]
    assert "set_real_ip_from 10.42.0.0/16;" in config["realip.conf.template"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert nginx["livenessProbe"] and nginx["readinessProbe"]
    service = by_kind(production_docs, "Service")["disan-front"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_front_configuration_renders_to_valid_nginx(
    production_docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    from tests.unit.deploy import test_nginx

    if test_nginx.NGINX is None:
        pytest.skip("Debian package nginx is not installed")
    config = by_kind(production_docs, "ConfigMap")["disan-front"]["data"]
    nginx = _container(by_kind(production_docs, "Deployment")["disan-front"], "nginx")
    env = {e["name"]: e["value"] for e in nginx["env"]}
    env |= {"DISAN_GATEWAY_UPSTREAM": "127.0.0.1:8001", "DISAN_IMAGE_UPSTREAM": "127.0.0.1:8002"}
    rule = test_nginx._envsubst(config["iiif-manifest-files.inc.template"], env)
    (tmp_path / "iiif-manifest-files.inc").write_text(rule)
    server = test_nginx._envsubst(config["default.conf.template"], env).replace(
        "/etc/nginx/conf.d/", f"{tmp_path}/"
    )
    server = server.replace("listen 8000;", "listen 127.0.0.1:18003;")
    conf = config["realip.conf.template"] + server
    assert f"root {STATIC_DIR};" in rule
    done = test_nginx._check(conf, tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_ingress_sends_manifests_to_the_front_and_it_reaches_the_gateway(
    production_docs: list[dict[str, Any]],
) -> None:
    ingress = by_kind(production_docs, "Ingress")["disan"]
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert paths == {
        "/iiif/image/": "disan-imageserver",
        "/iiif/presentation/3/records/": "disan-front",
        "/": "disan-gateway",
    }
    policy = by_kind(production_docs, "NetworkPolicy")["disan-front-to-gateway"]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
    source = policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert source["app.kubernetes.io/component"] == "front"
