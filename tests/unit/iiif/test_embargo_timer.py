"""The embargo timer's interval comes from ``extra.iiif.embargo_check_seconds``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.iiif.service import EMBARGO_INTERVAL, EmbargoTimer, IiifService, embargo_interval


def settings(**iiif: object) -> SimpleNamespace:
    return SimpleNamespace(extra={"iiif": iiif})


def test_the_interval_defaults_to_a_minute_and_follows_the_settings() -> None:
    assert embargo_interval(None) == EMBARGO_INTERVAL == 60.0
    assert embargo_interval(settings()) == 60.0
    assert embargo_interval(settings(embargo_check_seconds="")) == 60.0
    assert embargo_interval(settings(embargo_check_seconds="5")) == 5.0  # from the environment
    assert embargo_interval(settings(embargo_check_seconds=0.5)) == 0.5


@pytest.mark.parametrize("value", ["soon", 0, -1, 100_000, [1]])
def test_a_bad_interval_is_refused_at_start(value: object) -> None:
    with pytest.raises(ValueError, match="embargo_check_seconds"):
        embargo_interval(settings(embargo_check_seconds=value))


def test_the_service_runs_the_timer() -> None:
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    found = getattr(IiifService.release_embargoes, ENTRYPOINT_EXTENSIONS_ATTR)
    assert any(isinstance(e, EmbargoTimer) for e in found)
