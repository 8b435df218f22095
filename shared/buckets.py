"""Where files live in S3: the bucket names and the object keys more than one service reads.

The media service owns both buckets and writes them; the image server reads the pyramids, and
the gateway names a master or a pyramid in a manifest. A contract, like the events: the names
live here so no service imports another's module to find a file (issue #16).
"""

from __future__ import annotations

#: Bucket of immutable masters, owned by the media service.
MASTERS_BUCKET = "masters"

#: Bucket of derivatives, owned by the media service.
DERIVATIVES_BUCKET = "derivatives"


def derivative_key(asset_id: str) -> str:
    """S3 key of the pyramidal, tiled, JPEG-compressed TIFF of ``asset_id``."""
    return f"assets/{asset_id}/pyramid.tif"
