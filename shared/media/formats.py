"""What an upload is and when it is refused: formats, limits on untrusted input, the refusals
with their stable codes and vi/en texts. Pure; no I/O.

Shared because two services decide with it: the gateway sniffs and refuses a file before a
byte is stored, and media checks the stored object again before registering it (ADR 0056).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed


class MediaError(Exception):
    """Base of the media service's own errors."""


@dataclass(frozen=True)
class Format:
    name: str
    kind: str  # image, pdf, audio, video, model
    mime: str
    ext: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("jpeg", "image", "image/jpeg", "jpg"),
        Format("png", "image", "image/png", "png"),
        Format("tiff", "image", "image/tiff", "tif"),
        Format("webp", "image", "image/webp", "webp"),
        Format("jp2", "image", "image/jp2", "jp2"),
        Format("pdf", "pdf", "application/pdf", "pdf"),
        Format("wav", "audio", "audio/wav", "wav"),
        Format("mp3", "audio", "audio/mpeg", "mp3"),
        Format("flac", "audio", "audio/flac", "flac"),
        Format("ogg", "audio", "audio/ogg", "ogg"),
        Format("m4a", "audio", "audio/mp4", "m4a"),
        Format("mp4", "video", "video/mp4", "mp4"),
        Format("mov", "video", "video/quicktime", "mov"),
        Format("mkv", "video", "video/x-matroska", "mkv"),
        Format("glb", "model", "model/gltf-binary", "glb"),
        Format("gltf", "model", "model/gltf+json", "gltf"),
    )
}


class Refused(MediaError):
    """An upload we do not take, with a stable reason code and a readable message."""

    STATUS = {
        "empty": 422,
        "truncated": 422,
        "malformed": 422,
        # limits on what the file holds, not on the bytes sent: 422 (a 17 KB file is never
        # "payload too large"); only ``too_large`` is about the request body
        "too_many_pixels": 422,
        "too_many_pages": 422,
        "decoded_too_large": 422,
        "too_large": 413,
        "checksum_mismatch": 422,
        "archive": 415,
        "svg_script": 415,
        "unsupported": 415,
    }

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message

    def to_client_error(self) -> Exception:
        """The shared error type the gateway maps to the right 4xx."""
        status = self.STATUS.get(self.reason, 422)
        details = refusal_details(self.reason)
        if status == 413:
            return PayloadTooLarge(self.message, details)
        if status == 415:
            return UnsupportedMediaType(self.message, details)
        return ValidationFailed(self.message, details)


# what each refusal means, for people (the error's ``message`` has the figures, in English)
REFUSAL_TEXT: dict[str, dict[str, str]] = {
    "empty": {"vi": "Tệp rỗng (0 byte).", "en": "The file is empty (zero bytes)."},
    "truncated": {
        "vi": "Tệp bị cắt cụt: thiếu phần cuối hoặc dữ liệu ảnh.",
        "en": "The file is truncated: its end or its image data is missing.",
    },
    "malformed": {
        "vi": "Tệp hỏng hoặc sai cấu trúc, không đọc được.",
        "en": "The file is malformed and cannot be read.",
    },
    "too_many_pixels": {
        "vi": "Ảnh có quá nhiều điểm ảnh so với giới hạn.",
        "en": "The image has more pixels than the limit.",
    },
    "too_many_pages": {
        "vi": "Tệp có quá nhiều trang so với giới hạn.",
        "en": "The file has more pages than the limit.",
    },
    "decoded_too_large": {
        "vi": "Ảnh giải nén ra sẽ vượt giới hạn dung lượng (điểm ảnh × kênh × byte).",
        "en": "The decoded image would exceed the size limit (pixels × bands × bytes).",
    },
    "too_large": {"vi": "Tệp quá lớn.", "en": "The file is too large."},
    "checksum_mismatch": {
        "vi": "Mã SHA-256 không khớp với tệp đã gửi.",
        "en": "The SHA-256 does not match the file sent.",
    },
    "archive": {
        "vi": "Tệp là kho nén ZIP, dù tên tệp nói gì.",
        "en": "The file is a ZIP archive, whatever its name says.",
    },
    "svg_script": {
        "vi": "Không nhận SVG có mã script hoặc trình xử lý sự kiện.",
        "en": "SVG with script or event handlers is refused.",
    },
    "unsupported": {
        "vi": "Định dạng tệp không được nhận (xác định từ nội dung tệp).",
        "en": "This file type is not accepted (identified from its bytes).",
    },
}


def refusal_details(reason: str) -> dict[str, Any]:
    """An upload refusal's details: the stable reason code and what it means in vi/en."""
    return {"reason": reason, "text": REFUSAL_TEXT.get(reason, REFUSAL_TEXT["malformed"])}


@dataclass(frozen=True)
class MediaLimits:
    """Limits on untrusted input (``extra.media`` in the config file)."""

    max_pixels: int = 1_000_000_000
    # pixels × bands × bytes per sample once decoded: 1 gigapixel of 16-bit RGB, or
    # 1.5 gigapixels' worth of 8-bit RGBA; the guard against decompression bombs (ADR 0054)
    max_decoded_bytes: int = 6_000_000_000
    max_pages: int = 1000
    max_upload_bytes: int = 50 * 1024**3
    retention_days: int = 30
    orphan_grace_hours: float = 24.0  # unregistered masters younger than this are left alone

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> MediaLimits:
        config = config or {}
        return cls(
            max_pixels=int(config.get("max_pixels", cls.max_pixels)),
            max_decoded_bytes=int(config.get("max_decoded_bytes", cls.max_decoded_bytes)),
            max_pages=int(config.get("max_pages", cls.max_pages)),
            max_upload_bytes=int(config.get("max_upload_bytes", cls.max_upload_bytes)),
            retention_days=int(config.get("retention_days", cls.retention_days)),
            orphan_grace_hours=float(config.get("orphan_grace_hours", cls.orphan_grace_hours)),
        )

    def check_image(
        self, width: int, height: int, pages: int, bands: int, bit_depth: int = 8
    ) -> None:
        """Refuse by what the image holds once decoded, never by how well it compressed: a
        flat scan or a G4 text page expands 500× and more and is no bomb (issue #15)."""
        if width <= 0 or height <= 0:
            raise Refused("malformed", f"the image header says {width}×{height} pixels")
        pixels = width * height
        if pixels > self.max_pixels:
            raise Refused(
                "too_many_pixels",
                f"{width}×{height} = {pixels:,} pixels is more than the limit max_pixels ="
                f" {self.max_pixels:,}",
            )
        if pages > self.max_pages:
            raise Refused(
                "too_many_pages",
                f"{pages} pages is more than the limit max_pages = {self.max_pages}",
            )
        bands, sample = max(bands, 1), sample_bytes(bit_depth)
        decoded = pixels * bands * sample
        if decoded > self.max_decoded_bytes:
            raise Refused(
                "decoded_too_large",
                f"{width}×{height} pixels × {bands} bands × {sample} bytes = {decoded:,} bytes"
                f" once decoded is more than the limit max_decoded_bytes ="
                f" {self.max_decoded_bytes:,} (a decompression bomb)",
            )


def sample_bytes(bit_depth: int) -> int:
    """Bytes per band of a pixel once decoded: 1-bit and 8-bit samples both take a byte
    (libvips decodes bitonal images to 8 bits), 16-bit two, 32-bit four, 64-bit eight."""
    for size in (1, 2, 4):
        if bit_depth <= size * 8:
            return size
    return 8


def unsupported_upload() -> UnsupportedMediaType:
    return UnsupportedMediaType("send the file as multipart/form-data in the field 'file'")
