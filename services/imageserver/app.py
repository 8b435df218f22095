"""The ASGI application: routes, IIIF headers, caches, access and error mapping.

Cheap work (parsing, cache hits, passthrough tiles read from the page cache) runs on the event
loop; S3 downloads and pyvips renders run in a bounded thread pool, and concurrent requests for
the same thing share one computation (single flight), so a burst costs one decode.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, TypeVar

import pyvips

from iiif.image import (
    INFO_MEDIA_TYPE_V3,
    BaseUriRequest,
    ImageRequestError,
    InfoRequest,
    ResolvedRequest,
    TooLarge,
    canonical,
    canonical_uri,
    info_json,
    parse_path,
    profile_uri,
    pyramid_sizes,
    quote_identifier,
    resolve,
    scale_factors_for,
)
from iiif.image.info import CONTEXT_V2, FEATURES_V3
from services.imageserver.access import (
    AccessChecker,
    AccessUnavailable,
    Credentials,
    Decision,
    PublicAccess,
)
from services.imageserver.caches import SourceCache, TileCache
from services.imageserver.config import ImageServerConfig
from services.imageserver.images import AssetHandle, render
from services.imageserver.metrics import image_metrics
from services.imageserver.plan import (
    confined_needs_upscale,
    find_passthrough,
    plan_render,
    rotated_canvas_over_limits,
)
from services.imageserver.tiff import TiffError
from shared.errors import error_body, negotiate_language
from shared.storage import ObjectNotFound, StorageError

log = logging.getLogger(__name__)

__all__ = ["ImageApp"]

T = TypeVar("T")
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

PREFIXES = {3: "/iiif/image/3/", 2: "/iiif/image/2/"}
INFO_MEDIA_TYPE_V2 = f'application/ld+json;profile="{CONTEXT_V2}"'
EXTRA_FORMATS = ("png", "webp", "tif", "gif")
EXTRA_QUALITIES = ("color", "gray", "bitonal")
# every feature Image API 3.0 names is supported (info_json lists those beyond level 2)
EXTRA_FEATURES = tuple(sorted(FEATURES_V3))
CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"Link, ETag, Last-Modified, Content-Length"),
]
MAX_HANDLES = 64
#: Returned pixels from which a render waits for the worker's other large renders (ADR 0023).
LARGE_RENDER_PIXELS = 4_000_000


class HttpError(Exception):
    """An error response: status, code, message and details for the JSON body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers or []


_IIIF_CODES = {400: "bad_request", 404: "not_found", 501: "not_implemented"}
#: The answer past ``limit_concurrency`` requests in progress in a worker.
OVERLOADED = HttpError(
    503,
    "overloaded",
    "the image server is busy; try again in a moment",
    headers=[(b"retry-after", b"1")],
)


def _from_iiif(exc: ImageRequestError) -> HttpError:
    code = "too_large" if isinstance(exc, TooLarge) else _IIIF_CODES.get(exc.status, "error")
    return HttpError(exc.status, code, exc.reason, {"parameter": exc.parameter})


class ImageApp:
    """One worker's application; ``source_cache`` is shared on disk, the rest is in memory."""

    def __init__(
        self,
        config: ImageServerConfig,
        source_cache: SourceCache,
        access: AccessChecker | None = None,
    ) -> None:
        if not config.public_base_url:
            raise ValueError("imageserver.public_base_url (or DISAN_PUBLIC_URL) must be set")
        self.config = config
        self.public_base = config.public_base_url.rstrip("/")
        self.sources = source_cache
        self.access: AccessChecker = access or PublicAccess()
        self.tiles = TileCache(config.tile_cache_mb * 1024 * 1024)
        self.limits = config.limits
        self.executor = ThreadPoolExecutor(config.render_threads, thread_name_prefix="render")
        self.io_executor = ThreadPoolExecutor(4, thread_name_prefix="fetch")
        self.handles: OrderedDict[str, AssetHandle] = OrderedDict()
        self.missing: dict[str, float] = {}
        self.flights: dict[Any, asyncio.Future[Any]] = {}
        # requests being answered (on the event loop, so a plain counter); past
        # ``config.limit_concurrency`` new ones are refused with 503 ``overloaded``
        self.in_progress = 0
        # large renders one at a time (see _rendered); binds to the running loop when contended
        self.large_renders = asyncio.Lock()
        self.metrics = image_metrics()

    # purges -------------------------------------------------------------------------------
    def purge(self, asset_id: str | None, source: bool = True) -> None:
        """Forget an asset (``None``: every asset): handles, tiles, negative entries."""
        if asset_id is None:
            self.handles.clear()
            self.missing.clear()
        else:
            self.handles.pop(asset_id, None)
            self.missing.pop(asset_id, None)
        self.tiles.purge(asset_id)
        self.access.purge(asset_id)

    # ASGI entry ---------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        route = "other"
        status = 500
        if self.in_progress >= self.config.limit_concurrency and scope["path"] != "/healthz":
            # overload: a retryable answer in the error format, with CORS like every answer
            route = "overloaded"
            status, headers, body = self._error(OVERLOADED, scope)
        else:
            self.in_progress += 1
            try:
                route, status, headers, body = await self._dispatch(scope)
            except HttpError as exc:
                status, headers, body = self._error(exc, scope)
            except Exception:  # noqa: BLE001 - the one place unexpected errors become a 500
                log.exception("unexpected error serving %s", scope.get("path"))
                status, headers, body = self._error(
                    HttpError(500, "internal", "the image server failed on this request"), scope
                )
            finally:
                self.in_progress -= 1
        if scope["method"] == "HEAD":
            payload = b""
        else:
            payload = body
        headers = [*headers, *CORS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.response_bytes.labels(route).inc(len(payload))

    def _error(
        self, exc: HttpError, scope: dict[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The error answer, its message in the caller's language (Accept-Language, ADR 0045)."""
        language = negotiate_language(_header(scope, b"accept-language"))
        body = json.dumps(error_body(exc.code, exc.message, exc.details, language)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"cache-control", b"no-store"),
            *exc.headers,
        ]
        return exc.status, headers, body

    async def _dispatch(
        self, scope: dict[str, Any]
    ) -> tuple[str, int, list[tuple[bytes, bytes]], bytes]:
        method = scope["method"]
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        try:
            path = raw.decode("ascii")
        except UnicodeDecodeError:
            raise HttpError(
                400, "bad_request", "the request path must be ASCII (percent-encode the rest)"
            ) from None
        if method == "OPTIONS":
            return "options", 204, self._preflight(scope), b""
        if method not in ("GET", "HEAD"):
            raise HttpError(
                405,
                "method_not_allowed",
                f"{method[:20]} is not allowed here",
                headers=[(b"allow", b"GET, HEAD, OPTIONS")],
            )
        if path == "/healthz":
            body = json.dumps({"status": "ok", "service": "imageserver"}).encode()
            return "health", 200, [(b"content-type", b"application/json")], body
        for version, prefix in PREFIXES.items():
            if path.startswith(prefix) and len(path) > len(prefix):
                return await self._iiif(scope, path[len(prefix) :], version)
        raise HttpError(404, "not_found", "no such route", {"path": path[:200]})

    def _preflight(self, scope: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        requested = _header(scope, b"access-control-request-headers") or "*"
        return [
            (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
            (b"access-control-allow-headers", requested.encode("latin-1", "replace")[:500]),
            (b"access-control-max-age", b"86400"),
            (b"allow", b"GET, HEAD, OPTIONS"),
        ]

    def _base_uri(self, version: int) -> str:
        """The public base of ids and links: the configured public URL, never request headers.

        info.json and images are cached by shared caches for everyone; an ``id`` that followed
        ``Host`` or ``X-Forwarded-Host`` could be poisoned by one forged request (ADR 0024).
        """
        return f"{self.public_base}/iiif/image/{version}"

    # IIIF ---------------------------------------------------------------------------------
    async def _iiif(
        self, scope: dict[str, Any], rest: str, version: int
    ) -> tuple[str, int, list[tuple[bytes, bytes]], bytes]:
        try:
            request = parse_path(rest, version)
        except ImageRequestError as exc:
            raise _from_iiif(exc) from None
        base = self._base_uri(version)
        if isinstance(request, BaseUriRequest):
            location = f"{base}/{quote_identifier(request.identifier)}/info.json"
            return "redirect", 303, [(b"location", location.encode())], b""
        decision = await self._decide(scope, request.identifier)
        if isinstance(request, InfoRequest):
            # the description (no pixels) is open to all, so a viewer finds the probe service
            # (IIIF Auth 2.0); every image request below is refused without access
            handle = await self._handle(request.identifier)
            return self._info(scope, handle, base, version, decision)
        if not decision.allowed:
            raise HttpError(
                decision.status,
                "unauthorized" if decision.status == 401 else "forbidden",
                decision.reason or "this image is restricted",
                {"service": [dict(entry) for entry in decision.services]},
                [(b"www-authenticate", b'Bearer realm="disan"')] if decision.status == 401 else [],
            )
        handle = await self._handle(request.identifier)
        try:
            resolved = resolve(request, handle.width, handle.height, self.limits)
        except ImageRequestError as exc:
            raise _from_iiif(exc) from None
        if self.config.confined_upscale == "refuse" and confined_needs_upscale(request, resolved):
            raise HttpError(
                400,
                "bad_request",
                "the !w,h box is larger than the region on every side; that is upscaling, "
                "which needs the ^ prefix",
                {"parameter": "size"},
            )
        canvas = rotated_canvas_over_limits(resolved)
        if canvas is not None:
            raise HttpError(
                400,
                "too_large",
                f"rotated by {resolved.rotation:g} degrees, the {resolved.width}x"
                f"{resolved.height} image needs a {canvas[0]}x{canvas[1]} canvas, over this "
                "server's maxWidth, maxHeight or maxArea; ask for a smaller size",
                {"parameter": "rotation"},
            )
        path = canonical(resolved, version)
        key = f"{version}/{path}"
        etag = _etag(handle.source.etag, key)
        last_modified = handle.source.fetched_at
        headers = [
            (b"content-type", resolved.format.media_type.encode()),
            (
                b"link",
                f'<{canonical_uri(base, resolved, version)}>;rel="canonical", '
                f'<{profile_uri(version)}>;rel="profile"'.encode(),
            ),
            (b"etag", etag.encode()),
            (b"last-modified", formatdate(last_modified, usegmt=True).encode()),
            (b"cache-control", self._cache_control(decision, self.config.public_max_age)),
        ]
        if _not_modified(scope, etag, last_modified):
            return "image", 304, headers[1:], b""
        body = self.tiles.get(request.identifier, key)
        if body is not None:
            self.metrics.tile_cache.labels("hit").inc()
            self.metrics.images.labels("cache").inc()
            return "image", 200, headers, body
        self.metrics.tile_cache.labels("miss").inc()
        tile = find_passthrough(resolved, handle.sizes, handle.capable)
        if tile is not None:
            body = handle.passthrough(tile)
            self.metrics.images.labels("passthrough").inc()
            self.tiles.put(request.identifier, key, body)
        else:
            body = await self._rendered(handle, resolved, key)
            self.metrics.images.labels("render").inc()
        return "image", 200, headers, body

    async def _rendered(self, handle: AssetHandle, resolved: ResolvedRequest, key: str) -> bytes:
        """The image, rendered once for every concurrent request (single flight).

        Large images (over ``LARGE_RENDER_PIXELS`` returned) are rendered one at a time per
        worker: one can hold hundreds of MB while it encodes (ADR 0023), a tile a few MB. They
        wait here, on the event loop, so waiting ones hold no render thread and tiles go on.
        """
        flight = ("render", handle.asset_id, key)
        width, height = resolved.rotated_size
        if width * height <= LARGE_RENDER_PIXELS or flight in self.flights:
            return await self._single_flight(
                flight, self.executor, self._render, handle, resolved, key
            )
        async with self.large_renders:
            body = self.tiles.get(handle.asset_id, key)  # rendered while this one waited
            if body is not None:
                return body
            return await self._single_flight(
                flight, self.executor, self._render, handle, resolved, key
            )

    async def _decide(self, scope: dict[str, Any], asset_id: str) -> Decision:
        """The access decision, before any cache is looked at; 503 if none can be made."""
        credentials = Credentials.from_headers(
            _header(scope, b"authorization"), _header(scope, b"cookie")
        )
        decision = self.access.cached(asset_id, credentials)
        if decision is not None:
            return decision
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.io_executor, self.access.check, asset_id, credentials
            )
        except AccessUnavailable as exc:
            log.warning("no access decision for %s: %s", asset_id, exc)
            raise HttpError(
                503,
                "unavailable",
                "access to this image cannot be checked right now",
                headers=[(b"retry-after", b"2")],
            ) from None

    def _render(self, handle: AssetHandle, resolved: ResolvedRequest, key: str) -> bytes:
        """Render and cache before the flight lands, so no late request renders it again."""
        started = time.perf_counter()
        try:
            plan = plan_render(resolved, handle.sizes)
            body = render(handle, resolved, plan, self.config.jpeg_quality)
        finally:
            self.metrics.decode_seconds.observe(time.perf_counter() - started)
        self.tiles.put(handle.asset_id, key, body)
        return body

    def _cache_control(self, decision: Decision, max_age: int) -> bytes:
        if decision.public:
            return f"public, max-age={max_age}".encode()
        return b"private, no-cache"

    def _info(
        self,
        scope: dict[str, Any],
        handle: AssetHandle,
        base: str,
        version: int,
        decision: Decision,
    ) -> tuple[str, int, list[tuple[bytes, bytes]], bytes]:
        doc = info_json(
            base,
            handle.asset_id,
            handle.width,
            handle.height,
            handle.tile_width,
            handle.tile_height,
            scale_factors_for(handle.width, handle.height, handle.tile_width, handle.tile_height),
            pyramid_sizes(handle.width, handle.height, len(handle.levels)),
            self.limits,
            extra_formats=EXTRA_FORMATS,
            extra_qualities=EXTRA_QUALITIES,
            extra_features=EXTRA_FEATURES,
            service=decision.services or None,
            version=version,
        )
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        accept = _header(scope, b"accept") or ""
        if "application/ld+json" in accept:
            media_type = INFO_MEDIA_TYPE_V3 if version >= 3 else INFO_MEDIA_TYPE_V2
        else:
            media_type = "application/json"
        etag = _etag(handle.source.etag, f"info/{version}/{base}/{media_type}")
        headers = [
            (b"content-type", media_type.encode()),
            (b"link", f'<{profile_uri(version)}>;rel="profile"'.encode()),
            (b"vary", b"Accept"),
            (b"etag", etag.encode()),
            (b"last-modified", formatdate(handle.source.fetched_at, usegmt=True).encode()),
            (b"cache-control", self._cache_control(decision, self.config.info_max_age)),
        ]
        if _not_modified(scope, etag, handle.source.fetched_at):
            return "info", 304, headers[1:], b""
        return "info", 200, headers, body

    # sources and handles ------------------------------------------------------------------
    async def _handle(self, asset_id: str) -> AssetHandle:
        handle = self.handles.get(asset_id)
        now = time.monotonic()
        if handle is not None:
            if now - handle.opened_at < self.config.handle_ttl_seconds or handle.still_valid():
                if now - handle.opened_at >= self.config.handle_ttl_seconds:
                    handle.opened_at = now
                    self.sources.touch(handle.source)
                self.handles.move_to_end(asset_id)
                return handle
            self.handles.pop(asset_id, None)
        expiry = self.missing.get(asset_id)
        if expiry is not None and expiry > now:
            raise HttpError(404, "not_found", "no image has this identifier")
        try:
            handle = await self._single_flight(
                ("open", asset_id), self.io_executor, self._open, asset_id, land=self._keep_handle
            )
        except ObjectNotFound:
            self.missing[asset_id] = now + self.config.not_found_ttl_seconds
            if len(self.missing) > 10_000:
                self.missing.clear()
            raise HttpError(404, "not_found", "no image has this identifier") from None
        except (TiffError, pyvips.Error) as exc:
            log.error("the pyramid of %s cannot be read: %s", asset_id, exc)
            raise HttpError(
                500,
                "source_unreadable",
                "the stored image cannot be read; it has been reported",
            ) from None
        except (StorageError, TimeoutError) as exc:
            log.warning("storage unavailable for %s: %s", asset_id, exc)
            raise HttpError(
                503,
                "storage_unavailable",
                "the image store cannot be reached; try again shortly",
                headers=[(b"retry-after", b"5")],
            ) from None
        return handle

    def _open(self, asset_id: str) -> AssetHandle:
        started = time.perf_counter()
        cached = self.sources.cached(asset_id)
        source = self.sources.get(asset_id)
        if cached is None:
            self.metrics.source_fetch_seconds.observe(time.perf_counter() - started)
        self.sources.touch(source)
        return AssetHandle(asset_id, source)

    async def _single_flight(
        self,
        key: Any,
        executor: ThreadPoolExecutor,
        fn: Callable[..., T],
        *args: Any,
        land: Callable[[T], None] | None = None,
    ) -> T:
        """Run ``fn`` once for every concurrent caller with the same ``key``.

        ``land`` stores the result where later callers look first, in the same loop step
        that ends the flight, so no caller arrives between the two and starts it again.
        """
        future = self.flights.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(loop.run_in_executor(executor, fn, *args))
            self.flights[key] = future

            def done(finished: asyncio.Future[Any]) -> None:
                if land is not None and not finished.cancelled() and not finished.exception():
                    land(finished.result())
                self.flights.pop(key, None)

            future.add_done_callback(done)
        result: T = await asyncio.shield(future)
        return result

    def _keep_handle(self, handle: AssetHandle) -> None:
        self.handles[handle.asset_id] = handle
        self.handles.move_to_end(handle.asset_id)
        while len(self.handles) > MAX_HANDLES:
            self.handles.popitem(last=False)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _etag(source_etag: str, key: str) -> str:
    digest = hashlib.blake2b(f"{source_etag}\n{key}".encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def _not_modified(scope: dict[str, Any], etag: str, last_modified: float) -> bool:
    match = _header(scope, b"if-none-match")
    if match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in match.split(",")]
        return "*" in tags or etag in tags
    since = _header(scope, b"if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(since).timestamp() >= int(last_modified)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False
