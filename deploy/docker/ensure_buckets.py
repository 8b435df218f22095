"""Create the buckets every deployment needs (``masters``, ``derivatives``) if they are missing.

Run by the image's ``bootstrap`` command after ``disan migrate`` (compose one-shot, Helm hook).
"""

from __future__ import annotations

import logging
import sys

from shared.cli.stack import BUCKETS, ensure_buckets
from shared.config import ConfigError, load_settings


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    ensure_buckets(settings)
    logging.getLogger(__name__).info("buckets ready: %s", ", ".join(BUCKETS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
