"""Where the mirror writes (services.iiif.static): only record ids, never a path of the caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.iiif.static import manifest_file, static_dir_of, write_atomically


class _Settings:
    def __init__(self, extra):
        self.extra = extra


def test_files_live_under_the_manifest_url_path():
    record_id = "8c1b0a4e-5a2b-5f7e-9a51-1f0f3c9e2d11"
    assert manifest_file(Path("/srv/m"), record_id.upper()) == Path(
        f"/srv/m/iiif/presentation/3/records/{record_id}/manifest"
    )


@pytest.mark.parametrize("bad", ["../../etc/passwd", "", "x" * 36, "8c1b0a4e/../../x"])
def test_anything_but_a_record_id_is_refused(bad):
    with pytest.raises(ValueError):
        manifest_file(Path("/srv/m"), bad)


def test_the_directory_comes_from_extra_iiif_and_blank_is_off():
    assert static_dir_of(_Settings({})) is None
    assert static_dir_of(_Settings({"iiif": {"static_dir": "  "}})) is None
    assert static_dir_of(_Settings({"iiif": {"static_dir": "/srv/m"}})) == Path("/srv/m")


def test_writes_replace_the_file_whole_and_readable_by_the_front(tmp_path):
    target = tmp_path / "a" / "manifest"
    write_atomically(target, '{"v": 1}')
    write_atomically(target, '{"v": "đình"}')
    assert target.read_text(encoding="utf-8") == '{"v": "đình"}'
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["manifest"]  # no temporary left
