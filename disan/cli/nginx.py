"""The nginx front of the local stack (``disan up``), rendered from the front's one template.

``deploy/compose/nginx/default.conf.template`` is the front's routing for every deployment: the
compose front's nginx image renders it at start (envsubst), the Helm chart's front reads it
(``helm/disan/files/front.conf.template`` links to it) and ``disan up`` renders it here the same
way. Only what depends on where it runs differs: the address it listens on and where the
manifest rule comes from (ADR 0014).
"""

from __future__ import annotations

import re

from disan.cli.env import Paths
from disan.registry import ROOT
from shared.config import Settings

NGINX = "/usr/sbin/nginx"

NGINX_DIR = ROOT / "deploy" / "compose" / "nginx"
#: The front's routing (images, public manifest files, long-URL refusals, the gateway)
FRONT_TEMPLATE = NGINX_DIR / "default.conf.template"
#: The front's rule for public manifest files (ADR 0061)
IIIF_STATIC_TEMPLATE = NGINX_DIR / "iiif-manifest-files.conf.template"
#: The template's lines that depend on where it runs: the port the containers' front listens on
#: (``disan up`` listens on ``bind_host:ports.http.front``) and the include of the manifest rule
#: the nginx image renders into conf.d (``disan up`` puts the rule in place, or nothing when the
#: iiif service mirrors no files)
TEMPLATE_LISTEN = "listen 8000;"
TEMPLATE_INCLUDE = "include /etc/nginx/conf.d/iiif-manifest-files.inc;"

_VARIABLE = re.compile(r"\$\{(\w+)\}")


def envsubst(text: str, env: dict[str, str]) -> str:
    """``${VAR}`` replaced as the nginx image's envsubst step does: only defined variables (so
    nginx's own ``$variables`` are untouched)."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def render_front(settings: Settings) -> str:
    """The front's ``server`` (and upstreams) for this machine, from ``FRONT_TEMPLATE``."""
    host = settings.bind_host
    http = settings.ports.http
    text = FRONT_TEMPLATE.read_text(encoding="utf-8")
    for line in (TEMPLATE_LISTEN, TEMPLATE_INCLUDE):
        if line not in text:  # the template changed: say so rather than serve another routing
            raise ValueError(f"{FRONT_TEMPLATE} no longer has the line {line!r}")
    static_dir = ((settings.extra or {}).get("iiif") or {}).get("static_dir") or ""
    manifests = iiif_static_location(str(static_dir), "@gateway") if static_dir else ""
    text = text.replace(TEMPLATE_LISTEN, f"listen {host}:{http.get('front', 8000)};")
    text = text.replace(TEMPLATE_INCLUDE, manifests)
    return envsubst(
        text,
        {
            "DISAN_GATEWAY_UPSTREAM": f"{host}:{http.get('gateway', 8001)}",
            "DISAN_IMAGE_UPSTREAM": f"{host}:{http.get('imageserver', 8002)}",
        },
    )


def write_nginx_conf(settings: Settings, p: Paths) -> None:
    """``$DISAN_HOME/nginx/nginx.conf``: the process (pid, logs, temp folders under
    ``DISAN_HOME``, as nginx runs unprivileged here) around the rendered front."""
    for sub in ("logs", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (p.nginx / sub).mkdir(parents=True, exist_ok=True)
        (p.nginx / sub).chmod(0o777)
    conf = f"""
worker_processes 2;
error_log {p.nginx / "logs" / "error.log"} warn;
pid {p.nginx / "nginx.pid"};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {p.nginx / "tmp/body"};
    proxy_temp_path {p.nginx / "tmp/proxy"};
    fastcgi_temp_path {p.nginx / "tmp/fastcgi"};
    uwsgi_temp_path {p.nginx / "tmp/uwsgi"};
    scgi_temp_path {p.nginx / "tmp/scgi"};
{render_front(settings)}
}}
"""
    (p.nginx / "nginx.conf").write_text(conf, encoding="utf-8")


def iiif_static_location(static_dir: str, fallback: str) -> str:
    """nginx: public manifests from the iiif service's mirror (ADR 0061), else ``fallback``.

    Only GET/HEAD of an existing file are answered here; other methods (405) and missing files
    (restricted, withdrawn, not yet mirrored) go to the gateway, which decides. The rule is
    ``IIIF_STATIC_TEMPLATE``, the file the compose front and the Helm chart render too.
    """
    text = IIIF_STATIC_TEMPLATE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    rule = " ".join(line for line in lines if line)
    return rule.replace("${DISAN_IIIF_STATIC_ROOT}", static_dir).replace("@gateway", fallback)
