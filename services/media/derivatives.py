"""Derivatives from a master on local disk: pyramid TIFF and thumbnail, PDF pages, media probes.

Pure file-in, file-out work (pyvips, Pillow, ffprobe/ffmpeg); the worker downloads the master,
calls these in an OS thread, uploads the outputs under fixed keys (a re-run overwrites, never
adds) and records what they found. Nothing here logs: these run outside the eventlet hub's
thread, where logging could meet a green lock (ADR 0055); what is worth saying goes into
``Outputs.notes`` and the worker logs it back on the hub.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TILE = 512
JPEG_Q = 85


class DerivativeFailed(Exception):
    """The master cannot be turned into derivatives; the message is the reason shown."""


@dataclass
class Outputs:
    """Files made for an asset (S3 key → local path) and the technical metadata found."""

    files: dict[str, Path] = field(default_factory=dict)
    technical: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # warnings, for the worker to log


def _to_srgb(image: Any, notes: list[str]) -> Any:
    """8-bit sRGB (or grey) with the ICC profile applied and EXIF orientation baked in."""
    import pyvips

    image = image.autorot()
    if image.get_typeof("icc-profile-data") != 0:
        try:
            image = image.icc_transform("srgb", embedded=True, intent="perceptual")
        except pyvips.Error as exc:
            notes.append(f"ICC transform failed, converting without profile: {exc}")
            image = image.colourspace("srgb")
    elif image.interpretation in ("cmyk", "lab", "labs", "xyz", "rgb16", "grey16", "scrgb"):
        target = "b-w" if image.interpretation == "grey16" else "srgb"
        image = image.colourspace(target)
    if image.format != "uchar":
        if image.format == "ushort":
            image = (image >> 8).cast("uchar")
        else:
            image = image.cast("uchar")
    if image.hasalpha():
        image = image.flatten(background=[255])
    if image.bands == 2:
        image = image.extract_band(0)
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    return image


def tile_size(width: int, height: int) -> int:
    """512-px tiles; a smaller power of two for small images (libtiff refuses tiles far larger
    than the image)."""
    tile = 16
    while tile < TILE and tile < max(width, height):
        tile *= 2
    return tile


def _jp2_to_tiff(src: Path, workdir: Path) -> Path:
    """libvips here has no JPEG 2000: decode with Pillow (OpenJPEG) into a plain TIFF."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the header was checked against our own limit at ingest
    out = workdir / "jp2.tif"
    with Image.open(src) as im:
        im.load()
        if im.mode not in ("RGB", "L", "RGBA", "CMYK"):
            im = im.convert("RGB")
        im.save(out, format="TIFF")
    return out


# formats libvips decodes front to back from a pipe (the master streams in while it is
# decoded); the others need to seek and are read from a local copy
STREAMED_FORMATS = frozenset({"jpeg", "png"})


def image(
    src: Path | int,
    fmt: str,
    workdir: Path,
    asset_id: str,
    pyramid_key: str,
    beat: Callable[[], None] | None = None,
) -> Outputs:
    """A tiled pyramidal JPEG TIFF (what the image server reads) and a JPEG thumbnail.

    ``src`` is a file, or for ``STREAMED_FORMATS`` a file descriptor (a pipe) read once.
    ``beat`` is called as libvips computes the pyramid (its ``eval`` signal, from libvips's
    threads: it must only note the time), so a long pyramid shows progress to the watchdog.
    """
    import pyvips

    from services.media.domain import THUMBNAIL_SIZE, thumbnail_key

    try:
        if isinstance(src, int):
            original = pyvips.Image.new_from_source(
                pyvips.Source.new_from_descriptor(src), "", access="sequential", fail_on="error"
            )
        else:
            source = _jp2_to_tiff(src, workdir) if fmt == "jp2" else src
            original = pyvips.Image.new_from_file(str(source), access="sequential", fail_on="error")
        technical = {
            "source_interpretation": str(original.interpretation),
            "source_format": str(original.format),
            "source_bands": original.bands,
            "icc_profile": original.get_typeof("icc-profile-data") != 0,
        }
        notes: list[str] = []
        prepared = _to_srgb(original, notes)
        if beat is not None:
            prepared.set_progress(True)
            prepared.signal_connect("eval", lambda _image, _progress: beat())
        pyramid = workdir / "pyramid.tif"
        tile = tile_size(prepared.width, prepared.height)
        prepared.tiffsave(
            str(pyramid),
            tile=True,
            tile_width=tile,
            tile_height=tile,
            pyramid=True,
            compression="jpeg",
            Q=JPEG_Q,
            bigtiff=prepared.width * prepared.height * 3 > 3_500_000_000,
        )
        thumb = workdir / "thumbnail.jpg"
        small = pyvips.Image.thumbnail(str(pyramid), THUMBNAIL_SIZE, height=THUMBNAIL_SIZE)
        # keep=NONE, not the deprecated strip=True (pyvips logs each deprecated argument)
        small.jpegsave(str(thumb), Q=80, keep=pyvips.enums.ForeignKeep.NONE)
    except pyvips.Error as exc:
        raise DerivativeFailed(f"the image cannot be decoded: {str(exc).strip()[:500]}") from exc
    width, height = prepared.width, prepared.height
    technical |= {
        "width": width,
        "height": height,
        "levels": int(pyvips.Image.new_from_file(str(pyramid)).get("n-pages")),
        "tile_size": tile,
        "derivative": "pyramid.tif",
    }
    return Outputs({pyramid_key: pyramid, thumbnail_key(asset_id): thumb}, technical, notes)


def pdf(src: Path, workdir: Path, asset_id: str, max_pages: int) -> Outputs:
    """Page count and one JPEG per page (the canvases of a multi-page source).

    libvips from pyvips-binary has no PDF loader: Debian's poppler-utils (pdfinfo, pdftoppm)
    read the PDF in their own processes, with a timeout.
    """
    import pyvips

    from services.media.domain import page_key, thumbnail_key

    if shutil.which("pdfinfo") is None or shutil.which("pdftoppm") is None:
        raise DerivativeFailed("pdfinfo/pdftoppm are not installed (Debian package poppler-utils)")
    info = subprocess.run(
        ["pdfinfo", str(src)], capture_output=True, timeout=60, check=False, text=True
    )
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE)
    if info.returncode != 0 or match is None:
        raise DerivativeFailed(f"the PDF cannot be read: {info.stderr.strip()[:500]}")
    pages = int(match.group(1))
    if pages > max_pages:
        raise DerivativeFailed(f"the PDF has {pages} pages, more than {max_pages}")
    done = subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-jpeg",
            "-jpegopt",
            f"quality={JPEG_Q}",
            str(src),
            str(workdir / "page"),
        ],
        capture_output=True,
        timeout=60 + 10 * pages,
        check=False,
    )
    rendered = sorted(workdir.glob("page-*.jpg"))
    if done.returncode != 0 or len(rendered) != pages:
        raise DerivativeFailed(f"the PDF's pages cannot be rendered: {done.stderr[:500]!r}")
    files: dict[str, Path] = {}
    sizes = []
    for number, path in enumerate(rendered, start=1):
        im = pyvips.Image.new_from_file(str(path))
        files[page_key(asset_id, number)] = path
        sizes.append({"page": number, "width": im.width, "height": im.height})
    thumb = workdir / "thumbnail.jpg"
    pyvips.Image.thumbnail(str(rendered[0]), 400).jpegsave(str(thumb), Q=80)
    files[thumbnail_key(asset_id)] = thumb
    return Outputs(files, {"pages": pages, "page_sizes": sizes})


def probe(src: str) -> dict[str, Any]:
    """ffprobe of a file or URL: duration, container, streams."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise DerivativeFailed("ffprobe is not installed (Debian package ffmpeg)")
    done = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", src],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise DerivativeFailed(f"ffprobe cannot read the file: {done.stderr.decode()[:500]}")
    info = json.loads(done.stdout)
    fmt = info.get("format", {})
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise DerivativeFailed("the file has no audio or video stream")
    technical: dict[str, Any] = {
        "duration": float(fmt["duration"]) if fmt.get("duration") else None,
        "container": fmt.get("format_name"),
        "bit_rate": int(fmt["bit_rate"]) if fmt.get("bit_rate") else None,
    }
    if video is not None:
        technical |= {
            "video_codec": video.get("codec_name"),
            "width": video.get("width"),
            "height": video.get("height"),
        }
    if audio is not None:
        technical |= {
            "audio_codec": audio.get("codec_name"),
            "sample_rate": int(audio.get("sample_rate", 0)) or None,
            "channels": audio.get("channels"),
        }
    return technical


def av(src: Path | str, workdir: Path, asset_id: str) -> Outputs:
    """Duration and format; a poster frame for video."""
    from services.media.domain import poster_key

    technical = probe(str(src))
    files: dict[str, Path] = {}
    notes: list[str] = []
    if technical.get("video_codec"):
        poster = workdir / "poster.jpg"
        at = min(1.0, (technical.get("duration") or 0) / 2)
        done = subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-ss",
                f"{at:.2f}",
                "-i",
                str(src),
                "-frames:v",
                "1",
                str(poster),
            ],
            capture_output=True,
            timeout=300,
            check=False,
        )
        if done.returncode == 0 and poster.exists():
            files[poster_key(asset_id)] = poster
        else:
            notes.append(f"no poster frame: {done.stderr.decode(errors='replace')[:300]}")
    return Outputs(files, technical, notes)


# glTF / GLB -----------------------------------------------------------------------------------

_COMPONENT = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}


def _gltf_counts(doc: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("asset"), dict):
        raise DerivativeFailed("not a glTF document: no 'asset' object")
    version = str(doc["asset"].get("version", ""))
    if not version.startswith("2."):
        raise DerivativeFailed(f"glTF version {version or '?'} is not supported (2.x only)")
    accessors = doc.get("accessors", [])
    vertices = triangles = 0
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            pos = prim.get("attributes", {}).get("POSITION")
            if not isinstance(pos, int) or not 0 <= pos < len(accessors):
                raise DerivativeFailed("a mesh primitive has no valid POSITION accessor")
            count = int(accessors[pos].get("count", 0))
            vertices += count
            mode = prim.get("mode", 4)
            index = prim.get("indices")
            if isinstance(index, int):
                if not 0 <= index < len(accessors):
                    raise DerivativeFailed("a mesh primitive has an invalid indices accessor")
                n = int(accessors[index].get("count", 0))
            else:
                n = count
            if mode == 4:
                triangles += n // 3
            elif mode in (5, 6):
                triangles += max(0, n - 2)
    return {
        "gltf_version": version,
        "meshes": len(doc.get("meshes", [])),
        "vertices": vertices,
        "triangles": triangles,
    }


def gltf(src: Path, binary: bool) -> Outputs:
    """Validate a glTF 2.0 (JSON) or GLB file's structure; count vertices and triangles."""
    data = src.read_bytes()
    if binary:
        if len(data) < 20:
            raise DerivativeFailed("the GLB is shorter than its header")
        magic, version, length = struct.unpack("<4sII", data[:12])
        if magic != b"glTF" or version != 2:
            raise DerivativeFailed(f"GLB container version {version} is not 2")
        if length != len(data):
            raise DerivativeFailed(f"the GLB says {length} bytes but has {len(data)} (truncated?)")
        chunk_len, chunk_type = struct.unpack("<I4s", data[12:20])
        if chunk_type != b"JSON" or 20 + chunk_len > len(data):
            raise DerivativeFailed("the GLB's first chunk is not a complete JSON chunk")
        raw = data[20 : 20 + chunk_len]
    else:
        raw = data
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DerivativeFailed(f"the glTF JSON is malformed: {exc}") from exc
    return Outputs({}, _gltf_counts(doc))
