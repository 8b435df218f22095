"""The request as the gateway's handlers see it (its own module: ``http`` and ``auth`` both
need it, and ``http`` looks up ``auth``'s gate, so neither may import the other for it)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request


class ApiRequest(Request):
    """A request as handlers see it: who is calling, and the verified token if any."""

    principal: Any = None  # shared.principals.Principal, set before the handler runs
    token_claims: Any = None  # shared.auth.TokenClaims of a bearer request
    path_values: dict[str, Any] = {}  # noqa: RUF012 - replaced per request
