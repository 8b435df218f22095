"""Where the image server finds an image: the one place that names the derivative's S3 key.

The media service writes the pyramid here and imports these names; the image server reads it.
"""

from __future__ import annotations

#: Bucket of derivatives, owned by the media service.
DERIVATIVES_BUCKET = "derivatives"


def derivative_key(asset_id: str) -> str:
    """S3 key of the pyramidal, tiled, JPEG-compressed TIFF of ``asset_id``."""
    return f"assets/{asset_id}/pyramid.tif"
