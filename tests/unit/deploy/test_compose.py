"""docker-compose.yml and what it mounts: valid, complete, healthy ordering, no secrets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from disan.registry import SERVICES
from shared.buckets import DERIVATIVES_BUCKET, derivative_key
from tests.unit.deploy.conftest import CHART, COMPOSE, DUMMY_ENV, ROOT, config_defaults

BIN = Path(sys.executable).parent
INFRA = ("postgres", "rabbitmq", "redis", "minio")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|_KEY_ID$|REDISCLI_AUTH")


def _tool(name: str) -> str | None:
    candidate = BIN / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    tool = _tool("check-jsonschema")
    if tool is None:
        pytest.skip("check-jsonschema is not installed (pip install -e .[dev])")
    done = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("profiles", ["", "cantaloupe"])
def test_docker_compose_config_accepts_the_file(profiles: str, tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("Debian package docker-compose (v1) is not installed")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **DUMMY_ENV}
    if profiles:
        env["COMPOSE_PROFILES"] = profiles
    done = subprocess.run(
        [tool, "-f", str(COMPOSE), "--project-directory", str(ROOT), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("Debian package docker-compose (v1) is not installed")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    done = subprocess.run(
        [tool, "-f", str(COMPOSE), "--project-directory", str(tmp_path), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    assert "DISAN_" in done.stderr


def test_every_registered_service_runs_in_compose(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        assert name in services, f"{name} is in disan.registry.SERVICES but not in compose"
        svc = services[name]
        assert svc["environment"]["DISAN_SERVICE"] == name
        assert svc["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert svc["healthcheck"]["test"][-1].endswith("healthcheck.py")
        deps = svc["depends_on"]
        assert deps["bootstrap"]["condition"] == "service_completed_successfully"
        for infra in INFRA:
            assert deps[infra]["condition"] == "service_healthy"


def test_front_waits_for_healthy_gateway_and_image_server(compose: dict[str, Any]) -> None:
    deps = compose["services"]["front"]["depends_on"]
    assert deps["gateway"]["condition"] == "service_healthy"
    assert deps["imageserver"]["condition"] == "service_healthy"


def test_every_long_running_container_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if name == "bootstrap":
            assert svc["command"] == ["bootstrap"]
            continue
        assert "healthcheck" in svc, f"{name} has no healthcheck"
        for dep, how in (svc.get("depends_on") or {}).items():
            assert isinstance(how, dict) and "condition" in how, f"{name} -> {dep}: no condition"


def test_images_are_pinned_never_latest(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        image = svc["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest" and not tag.endswith("latest}"), f"{name}: {image}"


def test_secrets_come_from_the_environment_and_are_required(compose: dict[str, Any]) -> None:
    env_sources = [compose["x-disan-env"]] + [
        svc.get("environment") or {} for svc in compose["services"].values()
    ]
    for env in env_sources:
        for key, value in env.items():
            if SECRET_NAME.search(key) and key != "DISAN_TOKEN_PREVIOUS_KEYS":
                text = str(value)
                assert "${" in text, f"{key} has a literal value"
                # optional only for the Cantaloupe profile's API secret (checked at start)
                if key not in ("DISAN_CANTALOUPE_API_SECRET", "CANTALOUPE_ENDPOINT_API_SECRET"):
                    assert ":?" in text, f"{key} must be required (${{VAR:?}})"
    for url in ("DISAN_DATABASE_URL", "DISAN_AMQP_URI", "DISAN_REDIS_URL"):
        assert ":?" in compose["x-disan-env"][url]


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    mounts = {
        "postgres": "/var/lib/postgresql/data",
        "rabbitmq": "/var/lib/rabbitmq",
        "redis": "/data",
        "minio": "/data",
        "prometheus": "/prometheus",
        "grafana": "/var/lib/grafana",
    }
    for name, path in mounts.items():
        volumes = compose["services"][name]["volumes"]
        named = [v for v in volumes if v.split(":")[0] in compose["volumes"]]
        assert any(v.split(":")[1] == path for v in named), f"{name}: no volume at {path}"


def test_bootstrap_creates_the_buckets_and_runs_the_migrations() -> None:
    entrypoint = (ROOT / "deploy" / "docker" / "entrypoint.sh").read_text()
    assert 'exec python "$here/bootstrap.py"' in entrypoint
    script = (ROOT / "deploy" / "docker" / "bootstrap.py").read_text()
    for step in (
        "ensure_extensions(settings)",
        "migrate_all(settings)",
        "ensure_buckets(settings)",
    ):
        assert step in script
    from disan.cli.provision import BUCKETS

    assert set(BUCKETS) == {"masters", "derivatives"}


def test_bootstrap_creates_the_extensions_the_local_stack_creates() -> None:
    infra = (ROOT / "disan" / "cli" / "infra.py").read_text()
    # the statement is split over two string literals there: `... NOT EXISTS "` / `f"pg_trgm`
    created = set(re.findall(r'CREATE EXTENSION IF NOT EXISTS (?:"\s*f?")?(\w+)', infra))
    script = (ROOT / "deploy" / "docker" / "bootstrap.py").read_text()
    listed = re.search(r"^EXTENSIONS = \((.*)\)$", script, re.M)
    assert listed is not None
    assert set(re.findall(r'"(\w+)"', listed.group(1))) == created


def test_front_routes_images_to_the_image_server_and_the_rest_to_the_gateway(
    compose: dict[str, Any],
) -> None:
    conf = (ROOT / "deploy" / "compose" / "nginx" / "default.conf.template").read_text()
    http = config_defaults("http")
    assert "server ${DISAN_GATEWAY_UPSTREAM};" in conf
    front_env = compose["services"]["front"]["environment"]
    assert front_env["DISAN_GATEWAY_UPSTREAM"] == f"gateway:{http['gateway']}"
    assert "server ${DISAN_IMAGE_UPSTREAM};" in conf
    assert re.search(r"location /iiif/image/ \{ proxy_pass http://disan_images; \}", conf)
    assert re.search(r"location / \{ proxy_pass http://disan_gateway; \}", conf)
    assert re.search(r"location @gateway \{ proxy_pass http://disan_gateway; \}", conf)


MANIFEST_RULE = ROOT / "deploy" / "compose" / "nginx" / "iiif-manifest-files.conf.template"


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """target -> (source, mode) of a service's short-syntax volumes."""
    out = {}
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        out[target] = (source, mode[0] if mode else "rw")
    return out


def test_iiif_writes_public_manifest_files_the_front_serves_read_only(
    compose: dict[str, Any],
) -> None:
    """ADR 0061 in compose: a named volume the iiif service mirrors public manifests to (its
    ``extra.iiif.static_dir``), mounted read-only in the front, which includes the manifest rule
    rendered from the one template `disan up` uses too."""
    services = compose["services"]
    static_dir = services["iiif"]["environment"]["DISAN_IIIF_STATIC_DIR"]
    source, mode = _mounts(services["iiif"])[static_dir]
    assert source in compose["volumes"] and mode == "rw"
    front = services["front"]
    root = front["environment"]["DISAN_IIIF_STATIC_ROOT"]
    assert _mounts(front)[root] == (source, "ro")
    rule_source, rule_mode = _mounts(front)["/etc/nginx/templates/iiif-manifest-files.inc.template"]
    assert (ROOT / rule_source).resolve() == MANIFEST_RULE and rule_mode == "ro"
    conf = (ROOT / "deploy" / "compose" / "nginx" / "default.conf.template").read_text()
    assert "include /etc/nginx/conf.d/iiif-manifest-files.inc;" in conf
    rule = MANIFEST_RULE.read_text()
    assert "root ${DISAN_IIIF_STATIC_ROOT};" in rule
    assert "try_files $uri @gateway;" in rule and "error_page 405 = @gateway;" in rule


def test_the_iiif_service_reads_the_files_directory_from_its_environment(
    compose: dict[str, Any],
) -> None:
    from services.iiif.static import static_dir_of
    from shared.config import load_settings

    raw = compose["services"]["iiif"]["environment"]
    env = {k: _interpolate(str(v), DUMMY_ENV) for k, v in raw.items()}
    settings = load_settings(env=env)
    assert str(static_dir_of(settings)) == env["DISAN_IIIF_STATIC_DIR"]


def test_disan_up_renders_the_same_manifest_rule() -> None:
    from disan.cli.nginx import iiif_static_location

    rendered = iiif_static_location("/srv/files", "@gateway")
    for line in MANIFEST_RULE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            expected = line.strip().replace("${DISAN_IIIF_STATIC_ROOT}", "/srv/files")
            assert expected in rendered


def test_the_image_prepares_the_files_directory_for_its_user(compose: dict[str, Any]) -> None:
    """A new named volume takes the owner of the image's directory: the service's user."""
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    static_dir = compose["services"]["iiif"]["environment"]["DISAN_IIIF_STATIC_DIR"]
    assert re.search(rf"mkdir -p [^&]*{re.escape(static_dir)}", dockerfile)
    assert re.search(rf"chown disan:disan [^&]*{re.escape(static_dir)}", dockerfile)


def test_docker_compose_resolves_the_manifest_files_volume(tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("Debian package docker-compose (v1) is not installed")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **DUMMY_ENV}
    done = subprocess.run(
        [tool, "-f", str(COMPOSE), "--project-directory", str(ROOT), "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert "iiif-manifests" in resolved["volumes"]
    front = _mounts(resolved["services"]["front"])
    iiif = _mounts(resolved["services"]["iiif"])
    static_dir = resolved["services"]["iiif"]["environment"]["DISAN_IIIF_STATIC_DIR"]
    assert iiif[static_dir] == ("iiif-manifests", "rw")
    assert front["/var/lib/disan/iiif-static"] == ("iiif-manifests", "ro")


def test_compose_image_upstream_defaults_to_our_image_server(compose: dict[str, Any]) -> None:
    http = config_defaults("http")
    upstream = compose["services"]["front"]["environment"]["DISAN_IMAGE_UPSTREAM"]
    assert upstream == f"${{DISAN_IMAGE_UPSTREAM:-imageserver:{http['imageserver']}}}"


def test_prometheus_scrapes_every_service_on_its_ops_port() -> None:
    conf = yaml.safe_load((ROOT / "deploy/compose/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in conf["scrape_configs"]}
    ops = config_defaults("ops")
    for name in SERVICES:
        targets = jobs[name]["static_configs"][0]["targets"]
        assert targets == [f"{name}:{ops[name]}"]
    rabbit = jobs["rabbitmq"]
    assert rabbit["metrics_path"] == "/metrics/detailed"
    assert "queue_coarse_metrics" in rabbit["params"]["family"]


def _metric_names_in_code() -> set[str]:
    names: set[str] = set()
    for folder in ("shared", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(re.findall(r'"(disan_[a-z_]+)"', path.read_text(encoding="utf-8")))
    return names


def test_dashboard_shows_what_the_issue_asks_with_metrics_that_exist() -> None:
    path = ROOT / "deploy/compose/grafana/dashboards/disan.json"
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    text = "\n".join(exprs)
    for wanted in (
        "entrypoint_seconds_count",  # request rates
        "histogram_quantile",  # latencies
        "rabbitmq_detailed_queue_messages_ready",  # queue depths
        'queue="disan.dead_letters"',  # dead letters
        "disan_imageserver_tile_cache_total",  # tile cache hit ratio
    ):
        assert wanted in text, wanted
    known = _metric_names_in_code()
    for service in SERVICES:  # shared.metrics builds these per service
        known.update(
            f"disan_{service}_entrypoint_{suffix}"
            for suffix in ("seconds", "errors_total", "in_flight")
        )
    for name in set(re.findall(r"\b(disan_[a-z_]*[a-z])\b(?![.*+])", text)):
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        assert base in known, f"dashboard uses {name}, which no code exports"
    # the entrypoint metrics are built per service: disan_<service>_entrypoint_seconds
    metrics = (ROOT / "shared" / "metrics.py").read_text()
    assert "{prefix}_entrypoint_seconds" in metrics and 'f"disan_{service}"' in metrics
    provider = yaml.safe_load(
        (ROOT / "deploy/compose/grafana/provisioning/dashboards/disan.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load(
        (ROOT / "deploy/compose/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = datasource["datasources"][0]["uid"]
    assert all(p["datasource"]["uid"] == uid for p in dashboard["panels"])


def test_cantaloupe_reads_our_derivatives_under_our_identifiers() -> None:
    env = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy/cantaloupe/cantaloupe.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env["CANTALOUPE_SOURCE_STATIC"] == "S3Source"
    assert env["CANTALOUPE_S3SOURCE_BASICLOOKUPSTRATEGY_BUCKET_NAME"] == DERIVATIVES_BUCKET
    asset = "0b8f3c1e-7c1a-4c55-9d55-2f3f5f1f9a10"
    key = (
        env["CANTALOUPE_S3SOURCE_BASICLOOKUPSTRATEGY_PATH_PREFIX"]
        + asset
        + env["CANTALOUPE_S3SOURCE_BASICLOOKUPSTRATEGY_PATH_SUFFIX"]
    )
    assert key == derivative_key(asset)
    assert env["CANTALOUPE_ENDPOINT_API_ENABLED"] == "true"
    assert not any(SECRET_NAME.search(k) for k in env), "secrets belong in the environment"


@pytest.mark.parametrize("name", ["cantaloupe.env", "iiif-paths.conf.template"])
def test_the_chart_ships_the_same_cantaloupe_files_as_compose(name: str) -> None:
    assert (CHART / "files" / name).read_bytes() == (ROOT / "deploy/cantaloupe" / name).read_bytes()


def test_cantaloupe_adapter_keeps_the_public_image_urls() -> None:
    conf = (ROOT / "deploy/cantaloupe/iiif-paths.conf.template").read_text()
    assert "listen 8002;" in conf
    assert "location /iiif/image/" in conf
    assert "proxy_pass http://${CANTALOUPE_UPSTREAM}/iiif/;" in conf
    assert 'sub_filter "/iiif/3/" "/iiif/image/3/";' in conf


def test_cantaloupe_ids_follow_the_public_url_only(compose: dict[str, Any]) -> None:
    """ADR 0093: base_uri and the adapter's forwarded headers from DISAN_PUBLIC_URL, and no
    header of the client's reaches Cantaloupe as a host."""
    public = compose["x-disan-env"]["DISAN_PUBLIC_URL"]
    services = compose["services"]
    assert services["cantaloupe"]["environment"]["CANTALOUPE_BASE_URI"] == public
    assert services["cantaloupe-iiif"]["environment"]["DISAN_PUBLIC_URL"] == public
    conf = (ROOT / "deploy/cantaloupe/iiif-paths.conf.template").read_text()
    assert "$http_host" not in conf and "$http_x_forwarded" not in conf


def test_every_required_secret_is_documented_and_in_the_example_env() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text(encoding="utf-8")))
    assert required
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    example = (ROOT / "deploy" / "compose" / "example.env").read_text(encoding="utf-8")
    for name in sorted(required):
        assert f"`{name}`" in operations, f"{name} is not in docs/operations.md"
        assert re.search(rf"^{name}=", example, re.M), f"{name} is not in example.env"


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR:?msg}`` / ``${VAR:-default}`` substitution, enough for these files."""

    def repl(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"{name} is required: {arg}")
        return arg

    return re.sub(r"\$\{(\w+)(:\?|:-)([^}]*)\}", repl, value)


def test_the_services_environment_loads_as_valid_disan_settings(compose: dict[str, Any]) -> None:
    from shared.config import load_settings

    for name in SERVICES:
        raw = compose["services"][name]["environment"]
        env = {k: _interpolate(str(v), DUMMY_ENV) for k, v in raw.items()}
        settings = load_settings(env=env)
        assert settings.production and settings.bind_host == "0.0.0.0"
        assert settings.s3.endpoint == "minio:9000"
        assert settings.database_url.endswith("@postgres:5432/disan")


def test_the_chart_ships_the_same_dashboard_as_compose() -> None:
    chart = (CHART / "files" / "disan-dashboard.json").read_bytes()
    assert chart == (ROOT / "deploy/compose/grafana/dashboards/disan.json").read_bytes()
