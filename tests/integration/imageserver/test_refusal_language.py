"""The image server's refusals answer in the caller's language: vi by default, en on request."""

from __future__ import annotations

import pytest
import requests

from tests.integration.imageserver.conftest import ASSET
from tests.integration.imageserver.support import ServerProcess

pytestmark = pytest.mark.integration


def test_refusals_are_vietnamese_by_default_and_english_on_request(
    imageserver: ServerProcess,
) -> None:
    url = f"{imageserver.url}/iiif/image/3/{ASSET}/nowhere/max/0/default.jpg"
    vi = requests.get(url, timeout=10)
    en = requests.get(url, headers={"Accept-Language": "en-US,en;q=0.9"}, timeout=10)
    assert vi.status_code == en.status_code == 400
    assert vi.json()["error"]["code"] == en.json()["error"]["code"] == "bad_request"
    assert vi.json()["error"]["message"].startswith("Yêu cầu không hợp lệ: "), vi.text
    assert en.json()["error"]["message"].startswith("Bad request: "), en.text
    assert vi.json()["error"]["details"] == en.json()["error"]["details"]
