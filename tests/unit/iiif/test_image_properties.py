"""Property checks over many random requests (seeded, so every run is the same).

For every random request either a typed error names the parameter at fault, or the
resolved output keeps every promise: the region lies inside the image, the output is at
least one pixel and within the limits, upscaling happens only where allowed, and the
canonical path resolves back to the very same operations.
"""

import random

import pytest

from iiif.image import (
    ImageRequest,
    ImageRequestError,
    Limits,
    ResolvedRequest,
    canonical,
    parse_path,
    resolve,
)

CASES_PER_SEED = 400
SEEDS = range(8)


def random_limits(rng: random.Random) -> Limits:
    max_width = rng.choice([None, rng.randint(1, 5000)])
    max_height = rng.choice([None, rng.randint(1, 5000)]) if max_width is not None else None
    max_area = rng.choice([None, rng.randint(1, 25_000_000)])
    return Limits(max_width, max_height, max_area, allow_upscaling=rng.random() < 0.7)


def random_number(rng: random.Random, top: float) -> str:
    value = rng.uniform(0, top)
    return rng.choice([str(int(value)), f"{value:.{rng.randint(1, 6)}f}"])


def random_region(rng: random.Random, width: int, height: int) -> str:
    form = rng.randrange(4)
    if form == 0:
        return "full"
    if form == 1:
        return "square"
    if form == 2:
        x, y = rng.randint(0, width + 10), rng.randint(0, height + 10)
        return f"{x},{y},{rng.randint(1, width + 50)},{rng.randint(1, height + 50)}"
    values = [random_number(rng, 100) for _ in range(4)]
    values[2] = values[2] if float(values[2]) > 0 else "1"
    values[3] = values[3] if float(values[3]) > 0 else "1"
    return "pct:" + ",".join(values)


def random_size(rng: random.Random, version: int) -> str:
    caret = "^" if version >= 3 and rng.random() < 0.4 else ""
    w, h = rng.randint(1, 6000), rng.randint(1, 6000)
    forms = [
        "max",
        f"{w},",
        f",{h}",
        f"{w},{h}",
        f"!{w},{h}",
        f"pct:{random_number(rng, 100 if not caret else 400) or '1'}",
    ]
    if version < 3:
        forms.append("full")
    size = rng.choice(forms)
    if size.startswith("pct:") and float(size[4:]) == 0:
        size = "pct:1"
    return size if size == "full" else caret + size


def random_rotation(rng: random.Random) -> str:
    mirror = "!" if rng.random() < 0.3 else ""
    return mirror + rng.choice(["0", "90", "180", "270", "360", random_number(rng, 360)])


def random_request(
    rng: random.Random, version: int, width: int, height: int
) -> tuple[str, ImageRequest]:
    quality = rng.choice(["default", "color", "gray", "bitonal"])
    fmt = rng.choice(["jpg", "png", "webp", "tif", "gif"])
    path = (
        f"img-{rng.randint(0, 99)}/{random_region(rng, width, height)}/"
        f"{random_size(rng, version)}/{random_rotation(rng)}/{quality}.{fmt}"
    )
    parsed = parse_path(path, version)
    assert isinstance(parsed, ImageRequest), path
    return path, parsed


def assert_promises_kept(result: ResolvedRequest, parsed: ImageRequest, limits: Limits) -> None:
    region = result.region
    assert 0 <= region.x < result.image_width
    assert 0 <= region.y < result.image_height
    assert 1 <= region.width <= result.image_width - region.x
    assert 1 <= region.height <= result.image_height - region.y
    assert 1 <= result.width <= limits.effective_max_width
    assert 1 <= result.height <= limits.effective_max_height
    if limits.max_area is not None:
        assert result.width * result.height <= limits.max_area
    assert result.upscaled == (result.width > region.width or result.height > region.height)
    if result.upscaled:
        assert parsed.size.upscale
        assert limits.allow_upscaling
    assert 0 <= result.rotation < 360
    assert result.mirror is parsed.rotation.mirror


def same_operations(a: ResolvedRequest, b: ResolvedRequest) -> bool:
    return (a.region, a.width, a.height, a.mirror, a.rotation, a.quality, a.format) == (
        b.region,
        b.width,
        b.height,
        b.mirror,
        b.rotation,
        b.quality,
        b.format,
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("version", [3, 2])
def test_random_requests_keep_every_promise_or_fail_with_a_typed_error(
    seed: int, version: int
) -> None:
    rng = random.Random(seed * 10 + version)
    outcomes = {"resolved": 0, "refused": 0}
    for _ in range(CASES_PER_SEED):
        width, height = rng.randint(1, 20_000), rng.randint(1, 20_000)
        limits = random_limits(rng)
        path, parsed = random_request(rng, version, width, height)
        try:
            result = resolve(parsed, width, height, limits)
        except ImageRequestError as error:
            assert error.parameter in ("region", "size"), path
            assert error.status in (400, 501), path
            assert error.reason
            outcomes["refused"] += 1
            continue
        outcomes["resolved"] += 1
        assert_promises_kept(result, parsed, limits)
        for canonical_version in (3, 2):
            text = str(canonical(result, canonical_version))
            again = parse_path(f"id/{text}", canonical_version)
            assert isinstance(again, ImageRequest)
            again_result = resolve(again, width, height, limits)
            assert same_operations(result, again_result), (path, text)
            assert str(canonical(again_result, canonical_version)) == text
    # The generator must exercise both outcomes, or the checks above prove little.
    assert outcomes["resolved"] > CASES_PER_SEED // 4
    assert outcomes["refused"] > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_max_sizes_always_fit_the_limits(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(CASES_PER_SEED):
        width, height = rng.randint(1, 100_000), rng.randint(1, 100_000)
        limits = random_limits(rng)
        parsed = parse_path(f"id/full/{rng.choice(['max', '^max'])}/0/default.jpg")
        assert isinstance(parsed, ImageRequest)
        try:
            result = resolve(parsed, width, height, limits)
        except ImageRequestError as error:
            # Only ^max may fail, and only because this server does not upscale.
            assert parsed.size.upscale and not limits.allow_upscaling
            assert error.status == 501
            continue
        assert_promises_kept(result, parsed, limits)
        if not parsed.size.upscale:
            assert not result.upscaled


FUZZ_ALPHABET = "0123456789,.:!^%/-+eE pctmaxfulsqr\x00\t\u0301\u00e9\uff11\u202e"


@pytest.mark.parametrize("seed", SEEDS)
def test_garbage_paths_raise_only_typed_errors(seed: int) -> None:
    rng = random.Random(2000 + seed)
    parsed_ok = 0
    for _ in range(CASES_PER_SEED * 2):
        segments = [
            "".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(1, 6))
        ]
        if rng.random() < 0.5 and len(segments) == 5:
            segments[4] += rng.choice([".jpg", ".png", ""])
        path = "/".join(segments)
        for version in (2, 3):
            try:
                parse_path(path, version)
                parsed_ok += 1
            except ImageRequestError as error:
                assert error.status in (400, 404)
                assert error.parameter in (
                    "path",
                    "identifier",
                    "region",
                    "size",
                    "rotation",
                    "quality",
                    "format",
                )
    assert parsed_ok > 0  # base URI requests of random identifiers, at least
