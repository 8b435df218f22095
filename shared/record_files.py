"""Files of records (imports and exports): the formats, and the text of an uploaded file.

Shared because two services use it: the gateway decodes an import's body and checks its format
before one RPC carries the text, and the catalogue parses it (issue #16).
"""

from __future__ import annotations

from shared.errors import BadRequest

FORMATS = ("csv", "jsonl")


def decode(content: bytes | str) -> str:
    """UTF-8 text (a byte-order mark is dropped); a clear error for any other encoding."""
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise BadRequest(
            f"the file is not UTF-8 (byte 0x{content[exc.start]:02x} on line {line}); "
            "save it as UTF-8 and try again",
            {"line": line, "offset": exc.start},
        ) from exc
