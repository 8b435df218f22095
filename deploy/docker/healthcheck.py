"""Container health: GET /healthz on the ops port of the service this container runs.

Standard library only, so it costs a few milliseconds. The port is ``DISAN_OPS_PORT_<SERVICE>``
when set, else the default written in the config file (``ports.ops`` of disan.yaml). A container
running a one-off command (no ``DISAN_SERVICE``) is healthy by definition.
"""

from __future__ import annotations

import os
import re
import sys
import urllib.request
from pathlib import Path

CONFIG = Path(os.environ.get("DISAN_CONFIG", "/app/deploy/config/disan.yaml"))


def ops_port(service: str, config_text: str, env: dict[str, str]) -> int | None:
    """The ops port of ``service``: environment first, then the config file's default."""
    match = re.search(
        rf"^\s+{re.escape(service)}: \$\{{(DISAN_OPS_PORT_\w+):(\d+)\}}", config_text, re.M
    )
    if match is None:  # a helper process outside the config file (e.g. cantaloupe_purger)
        value = env.get(f"DISAN_OPS_PORT_{service.upper()}")
        return int(value) if value else None
    return int(env.get(match.group(1)) or match.group(2))


def main() -> int:
    service = os.environ.get("DISAN_SERVICE", "")
    if not service:
        return 0
    port = ops_port(service, CONFIG.read_text(encoding="utf-8"), dict(os.environ))
    if port is None:
        print(f"no ops port for {service!r} in {CONFIG}", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(f"{service} ops port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
