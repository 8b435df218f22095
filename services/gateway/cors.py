"""CORS for every gateway surface: preflights answered for every route, ``*`` on every answer.

Browser clients on other sites (IIIF viewers posting annotations, searching, sending
``Authorization``; partners' pages calling the API) send an ``OPTIONS`` preflight before any
request that is not "simple". A route without an ``OPTIONS`` handler of its own used to answer
405 without CORS headers, so the browser never sent the real request. The gateway's credentials
are bearer tokens and API keys in headers (the IIIF session cookie is read only by the auth
pages and the image server), so ``Access-Control-Allow-Origin: *`` (which browsers never
combine with cookies) opens nothing a script on another site could not already ask for.
"""

from __future__ import annotations

import re

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Request, Response

__all__ = ["ALLOW_HEADERS", "EXPOSE_HEADERS", "preflight", "with_cors"]

#: Request headers a cross-site client may send when it does not say which it needs.
ALLOW_HEADERS = (
    "Authorization, X-API-Key, Content-Type, Accept, Accept-Language, If-None-Match, If-Match, "
    "Idempotency-Key"
)
#: Response headers a cross-site script may read.
EXPOSE_HEADERS = "ETag, Location, Link, Retry-After, Content-Type"
MAX_AGE = "86400"
_HEADER_LIST = re.compile(r"[A-Za-z0-9\-]+(\s*,\s*[A-Za-z0-9\-]+)*")


def preflight(request: Request, exc: HTTPException) -> Response | None:
    """The answer to a preflight of a route with no ``OPTIONS`` handler of its own, or None.

    ``exc`` is what routing raised: a 405 listing the path's methods means the path exists.
    The headers asked for in ``Access-Control-Request-Headers`` are allowed when they are a
    plain list of header names (anything else gets the default list).
    """
    if request.method != "OPTIONS" or not isinstance(exc, MethodNotAllowed):
        return None
    methods = sorted({*(exc.valid_methods or ()), "OPTIONS"})
    asked = (request.headers.get("Access-Control-Request-Headers") or "").strip()
    allowed = asked if asked and len(asked) <= 1000 and _HEADER_LIST.fullmatch(asked) else None
    response = Response(status=204)
    response.headers.update(
        {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": allowed or ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
            "Allow": ", ".join(methods),
            "Vary": "Access-Control-Request-Headers",
        }
    )
    return response


def with_cors(response: Response) -> Response:
    """Every answer readable cross-site: ``*`` and the exposed headers, unless the route set
    its own (IIIF routes already do)."""
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    response.headers.setdefault("Access-Control-Expose-Headers", EXPOSE_HEADERS)
    return response
