"""The nginx front of the local stack (``disan up``)."""

from __future__ import annotations

from disan.cli.env import Paths
from disan.registry import ROOT, SERVICES
from shared.config import Settings

NGINX = "/usr/sbin/nginx"


def write_nginx_conf(settings: Settings, p: Paths) -> None:
    for sub in ("logs", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (p.nginx / sub).mkdir(parents=True, exist_ok=True)
        (p.nginx / sub).chmod(0o777)
    host = settings.bind_host
    http = settings.ports.http
    image_location = (
        f"location /iiif/image/ {{ proxy_pass http://imageserver; {_PROXY} }}"
        if "imageserver" in SERVICES
        else "location /iiif/image/ { default_type application/json; return 503 "
        '\'{"error": {"code": "unavailable", "message": "no image server yet"}}\'; }'
    )
    static_dir = ((settings.extra or {}).get("iiif") or {}).get("static_dir") or ""
    manifests = iiif_static_location(str(static_dir), "@gateway") if static_dir else ""
    conf = f"""
worker_processes 2;
error_log {p.nginx / "logs" / "error.log"} warn;
pid {p.nginx / "nginx.pid"};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_max_body_size 0;
    client_body_temp_path {p.nginx / "tmp/body"};
    proxy_temp_path {p.nginx / "tmp/proxy"};
    fastcgi_temp_path {p.nginx / "tmp/fastcgi"};
    uwsgi_temp_path {p.nginx / "tmp/uwsgi"};
    scgi_temp_path {p.nginx / "tmp/scgi"};
    proxy_request_buffering off;
    proxy_read_timeout 300s;
    upstream gateway {{ server {host}:{http.get("gateway", 8001)}; keepalive 32; }}
    upstream imageserver {{ server {host}:{http.get("imageserver", 8002)}; keepalive 64; }}
    server {{
        listen {host}:{http.get("front", 8000)};
        {FRONT_LIMITS}
        {image_location}
        {manifests}
        location / {{ proxy_pass http://gateway; {_PROXY} }}
        location @gateway {{ proxy_pass http://gateway; {_PROXY} }}
    }}
}}
"""
    (p.nginx / "nginx.conf").write_text(conf, encoding="utf-8")


# The front's rule for public manifest files: one file for `disan up`, compose and Helm (ADR 061)
IIIF_STATIC_TEMPLATE = ROOT / "deploy" / "compose" / "nginx" / "iiif-manifest-files.conf.template"


def iiif_static_location(static_dir: str, fallback: str) -> str:
    """nginx: public manifests from the iiif service's mirror (ADR 061), else ``fallback``.

    Only GET/HEAD of an existing file are answered here; other methods (405) and missing files
    (restricted, withdrawn, not yet mirrored) go to the gateway, which decides. The rule is
    ``IIIF_STATIC_TEMPLATE``, the file the compose front and the Helm chart render too.
    """
    text = IIIF_STATIC_TEMPLATE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    rule = " ".join(line for line in lines if line)
    return rule.replace("${DISAN_IIIF_STATIC_ROOT}", static_dir).replace("@gateway", fallback)


# Long URLs and headers (ADR 066): request lines and header lines up to 32 KB go through (the
# gateway answers a query string over 8 KB with its 400 query_too_long); longer ones are refused
# here, in the API's error format. deploy/compose/nginx/default.conf.template has the same lines.
FRONT_LIMITS = (
    "large_client_header_buffers 4 32k; "
    "error_page 414 /.disan/uri_too_long; "
    "error_page 494 =431 /.disan/header_too_large; "
    "location = /.disan/uri_too_long { internal; default_type application/json; "
    "add_header Access-Control-Allow-Origin * always; "
    """return 414 '{"error": {"code": "uri_too_long", "message": "the URL is longer than 32 KB: """
    """send a shorter query", "details": null}}'; } """
    "location = /.disan/header_too_large { internal; default_type application/json; "
    "add_header Access-Control-Allow-Origin * always; "
    """return 431 '{"error": {"code": "header_too_large", "message": "a request header is """
    """longer than 32 KB", "details": null}}'; }"""
)

_PROXY = (
    'proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $http_host; '
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; "
    "proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Real-IP $remote_addr;"
)
