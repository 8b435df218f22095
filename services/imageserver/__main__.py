"""``python -m services.imageserver``: the same as ``disan service run imageserver``."""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated")

# noqa: E402 below: the filter must be in place before nameko (via shared.logs) is imported

from services.imageserver.server import main  # noqa: E402
from shared.config import load_settings  # noqa: E402
from shared.logs import configure_logging  # noqa: E402

if __name__ == "__main__":
    configure_logging("imageserver")
    main(load_settings())
