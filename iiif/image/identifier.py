"""Image identifiers: strict decoding, validation and encoding (Image API 3.0 sections 3 and 9).

The spec lets a server use any identifier, with ``/`` and other special characters
percent-encoded. This server is stricter, so that one identifier has exactly one
meaning and can never address storage outside its own key space:

* the identifier is percent-decoded exactly once, as UTF-8; a ``%`` not followed by two
  hex digits, or bytes that are not UTF-8, are refused (400);
* after decoding, ``/`` or ``\\`` (path separators), ``..`` and the bare ``.`` are refused
  with 404: no image here can have such an identifier;
* control, format (e.g. bidi overrides, zero-width joiners), surrogate, private-use and
  unassigned code points, and every kind of whitespace, are refused (400);
* Unicode is allowed only in NFC form: an identifier that is not NFC-normalised is refused
  (400) rather than silently normalised, so visually identical identifiers cannot name
  two different images, and no two encodings name the same one;
* at most 256 code points after decoding (400 beyond).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote

from iiif.image.errors import BadRequest, NotFound, echo

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "decode_identifier",
    "percent_decode",
    "quote_identifier",
    "validate_identifier",
]

MAX_IDENTIFIER_LENGTH = 256

#: Characters left as they are when encoding: unreserved and sub-delims plus ":"; the
#: spec's to-encode set ("/", "?", "#", "[", "]", "@", "%") and non-ASCII are encoded.
_SAFE = "!$&'()*+,;=:"

_MALFORMED_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def percent_decode(text: str, parameter: str) -> str:
    """Decode one path segment exactly once, refusing malformed or non-UTF-8 escapes."""
    if _MALFORMED_PERCENT.search(text):
        raise BadRequest(parameter, f"malformed percent-encoding in {echo(text)}")
    try:
        return unquote(text, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(parameter, f"percent-encoding in {echo(text)} is not UTF-8") from None


def validate_identifier(identifier: str) -> str:
    """Check a decoded identifier against this server's policy and return it unchanged."""
    if not identifier:
        raise BadRequest("identifier", "the identifier is empty")
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise BadRequest(
            "identifier", f"identifiers are at most {MAX_IDENTIFIER_LENGTH} characters long"
        )
    if "/" in identifier or "\\" in identifier:
        raise NotFound("identifier", "no image has an identifier containing a slash")
    if identifier == "." or ".." in identifier:
        raise NotFound("identifier", "no image has an identifier containing '..'")
    for char in identifier:
        if unicodedata.category(char)[0] in ("C", "Z"):
            raise BadRequest(
                "identifier",
                f"identifier contains a control, format or whitespace character U+{ord(char):04X}",
            )
    if not unicodedata.is_normalized("NFC", identifier):
        raise BadRequest("identifier", "identifiers must be in Unicode normalisation form NFC")
    return identifier


def decode_identifier(raw: str) -> str:
    """Percent-decode the identifier path segment once and validate it."""
    return validate_identifier(percent_decode(raw, "identifier"))


def quote_identifier(identifier: str) -> str:
    """Percent-encode an identifier for use as one URI path segment (spec section 9)."""
    return quote(identifier, safe=_SAFE)
