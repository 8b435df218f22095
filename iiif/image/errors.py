"""Typed errors for IIIF Image API requests.

Every error names the request parameter at fault and carries the HTTP status the
spec asks for, so the image server maps them to responses in one place.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "ImageRequestError",
    "NotFound",
    "NotImplemented_",
    "TooLarge",
]

#: Longest piece of client input echoed back inside a reason.
_ECHO_LIMIT = 40


def echo(text: str) -> str:
    """Quote client input for an error reason, shortened so errors never reflect huge input."""
    if len(text) > _ECHO_LIMIT:
        text = text[:_ECHO_LIMIT] + "..."
    return repr(text)


class ImageRequestError(Exception):
    """A request the server must refuse: HTTP ``status``, the ``parameter`` at fault, a ``reason``.

    ``parameter`` is one of ``"path"``, ``"identifier"``, ``"region"``, ``"size"``,
    ``"rotation"``, ``"quality"`` or ``"format"``.
    """

    status: int = 400

    def __init__(self, parameter: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, "
            f"parameter={self.parameter!r}, reason={self.reason!r})"
        )


class BadRequest(ImageRequestError):
    """400: the request is malformed or asks for something the spec forbids."""

    status = 400


class TooLarge(BadRequest):
    """400: the scaled image would exceed ``maxWidth``/``maxHeight``/``maxArea``.

    Image API 3.0 section 4.2 asks for 400 when a request would exceed the
    server-imposed limits (section 7.3 also mentions 404; 4.2 is the specific rule).
    """


class NotFound(ImageRequestError):
    """404: the identifier cannot name an image on this server (e.g. it contains ``/``)."""

    status = 404


class NotImplemented_(ImageRequestError):
    """501: a valid request this server does not implement (e.g. ``^`` when upscaling is off).

    The trailing underscore keeps the builtin ``NotImplemented`` unshadowed.
    """

    status = 501
