from __future__ import annotations

from shared.buckets import DERIVATIVES_BUCKET, derivative_key


def test_the_pyramid_of_an_asset_lives_where_the_media_service_writes_it() -> None:
    assert DERIVATIVES_BUCKET == "derivatives"
    assert derivative_key("0b9c4a52-1d1e-4c55-9d0e-2f4f5e0a1b2c") == (
        "assets/0b9c4a52-1d1e-4c55-9d0e-2f4f5e0a1b2c/pyramid.tif"
    )
