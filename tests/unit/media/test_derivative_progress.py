"""The pyramid reports progress while libvips computes it, so readiness sees a long one move."""

from __future__ import annotations

from pathlib import Path

import pyvips

from services.media import derivatives


def test_a_pyramid_reports_progress_as_libvips_computes_it(tmp_path: Path) -> None:
    source = tmp_path / "master.jpg"
    pyvips.Image.xyz(2000, 1500)[0].cast("uchar").jpegsave(str(source))
    beats: list[int] = []
    outputs = derivatives.image(
        source, "jpeg", tmp_path, "asset", "pyramid.tif", beat=lambda: beats.append(1)
    )
    assert outputs.technical["width"] == 2000
    assert len(beats) > 1, "libvips's eval signal never reached the worker's progress mark"
    assert outputs.notes == []
