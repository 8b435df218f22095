"""The media routes: uploads streamed to media's upload sink, presigned multipart uploads,
asset status.

A mixin of ``GatewayService``. An upload's body is parsed as it arrives (werkzeug's sans-IO
multipart decoder over ``request.stream``, never ``request.files``, which would spool it): the
first bytes are sniffed and a refused type is answered before anything is stored; the file part
then streams over HTTP into the sink media opens for it (``upload_sink``: presigned part URLs,
no bucket and no S3 client here) with its SHA-256 computed on the way, and the media service is
asked by RPC to check and register the object. Memory stays at about one part (8 MB) whatever
the file's size. Why: ``docs/decisions/0050-media-upload-path.md``,
``docs/decisions/0056-media-upload-sink.md``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from marshmallow import Schema, fields
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, NeedData
from werkzeug.wrappers import Request

from services.gateway import upload_sink
from services.gateway.http import (
    PUBLIC,
    STAFF,
    ApiRequest,
    StrictMultipartDecoder,
    api,
    form_text,
    read_json,
)
from shared import principals as access_domain
from shared.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from shared.media import sniff
from shared.media.formats import MediaLimits, Refused, refusal_details, unsupported_upload
from shared.media.metadata import clean_metadata, metadata_from_json
from shared.rpc_client import ServiceClient, ServiceRpc
from shared.storage import ChecksumMismatch

RPC_TIMEOUT = 60.0
COMPLETE_TIMEOUT = 1800.0
SEAL_BYTES_PER_S = 20e6  # registering copies the master in S3 to seal it (ADR 0052)


def register_timeout(size: int) -> float:
    """How long registering a master of ``size`` bytes may take: the RPC's own deadline plus
    the server-side copy that stores its checksum, at a pessimistic 20 MB/s."""
    return min(COMPLETE_TIMEOUT, RPC_TIMEOUT + size / SEAL_BYTES_PER_S)


READ_CHUNK = 256 * 1024
MAX_FIELDS_BYTES = 64 * 1024
EDITORS = ("cataloguer",)
_SHA = re.compile(r"^[0-9a-fA-F]{64}$")


SECOND_FILE_TEXT = {
    "vi": "Mỗi lần tải lên chỉ gửi một tệp, trong trường 'file'.",
    "en": "One file per upload, in the field 'file'.",
}


class StreamedMultipart:
    """A multipart/form-data body read as it arrives; the ``file`` part readable as a stream.

    Form fields before and after the file are collected (64 KB at most in all).
    """

    def __init__(self, stream: IO[bytes], boundary: bytes, max_bytes: int) -> None:
        self.stream = stream
        self.decoder = StrictMultipartDecoder(boundary, max_form_memory_size=None)
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.max_bytes = max_bytes
        self.size = 0
        self._pending = bytearray()
        self._in_file = False
        self._file_done = False
        self._current: str | None = None
        self._field_bytes = 0
        self._eof = False

    def _pump(self) -> bool:
        """Feed the decoder and handle events until file data is pending; False at the end."""
        while True:
            event = self.decoder.next_event()
            if isinstance(event, NeedData):
                if self._eof:
                    return False
                chunk = self.stream.read(READ_CHUNK)
                if not chunk:
                    self._eof = True
                    self.decoder.receive_data(None)
                else:
                    self.decoder.receive_data(chunk)
                continue
            if isinstance(event, File) and event.name == "file" and self.filename is None:
                self.filename = event.filename or ""
                self._in_file, self._current = True, None
                return True
            if isinstance(event, File):  # a second file, or a file under another name
                raise ValidationFailed(
                    f"one file per upload, in the field 'file': the part {event.name!r} "
                    "is another file",
                    {"field": event.name, "reason": "second_file", "text": SECOND_FILE_TEXT},
                )
            if isinstance(event, Field):
                self._in_file = False
                self._current = event.name
                self.fields[self._current] = ""
            elif isinstance(event, Data):
                if self._in_file:
                    self._pending += event.data
                    if not event.more_data:
                        self._in_file, self._file_done = False, True
                    return True
                if self._current is not None:
                    self._field_bytes += len(event.data)
                    if self._field_bytes > MAX_FIELDS_BYTES:
                        raise PayloadTooLarge("form fields besides the file are at most 64 KB")
                    self.fields[self._current] += form_text(event.data)
            elif isinstance(event, Epilogue):
                return False

    def open_file(self) -> bool:
        """Read up to the start of the ``file`` part; False if the body has none."""
        while self.filename is None:
            if not self._pump():
                return False
        return True

    def peek(self, n: int) -> bytes:
        while len(self._pending) < n and not self._file_done:
            if not self._pump():
                break
        return bytes(self._pending[:n])

    def read(self, n: int = -1) -> bytes:
        want = READ_CHUNK if n is None or n < 0 else n
        while len(self._pending) < want and not self._file_done:
            if not self._pump():
                break
        out = bytes(self._pending[:want])
        del self._pending[:want]
        self.size += len(out)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(f"a file is at most {self.max_bytes} bytes")
        return out

    def finish(self) -> dict[str, str]:
        """Drain the rest of the body; the form fields sent."""
        while not self._file_done and self.filename is not None and self.read(READ_CHUNK):
            pass
        self._pending.clear()
        while self._pump():
            self._pending.clear()
        return self.fields


def _expected_sha(request: Request, fields_before: dict[str, str]) -> str | None:
    value = (
        request.headers.get("X-Checksum-SHA256")
        or request.args.get("sha256")
        or fields_before.get("sha256")
    )
    if not value:
        return None
    value = value.strip()
    if not _SHA.match(value):
        raise ValidationFailed("the expected SHA-256 is 64 hexadecimal digits")
    return value.lower()


def _is_staff(request: ApiRequest) -> bool:
    return bool(set(STAFF) & set(request.principal.roles))


def _actor(request: ApiRequest) -> dict[str, Any]:
    return request.principal.to_dict()  # type: ignore[no-any-return]


# documentation schemas -----------------------------------------------------------------------


class UploadAccepted(Schema):
    asset_id = fields.UUID()
    status = fields.String(metadata={"example": "processing"})
    sha256 = fields.String()
    size = fields.Integer()
    format = fields.String(metadata={"example": "tiff"})


class AssetResponse(Schema):
    asset_id = fields.UUID()
    record_id = fields.UUID()
    status = fields.String(metadata={"description": "processing | ready | failed"})
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    levels = fields.Integer(allow_none=True)
    sha256 = fields.String()
    size = fields.Integer()
    format = fields.String()
    technical = fields.Dict()
    metadata = fields.Dict()
    failure_reason = fields.String(allow_none=True)
    failure_text = fields.Dict(
        allow_none=True, metadata={"description": "what a failure means, in vi and en"}
    )


class MultipartStart(Schema):
    size = fields.Integer(required=True, metadata={"example": 2147483648})
    content_type = fields.String(load_default="application/octet-stream")


class MediaOrder(Schema):
    assets = fields.List(fields.String(), required=True, metadata={"description": "asset ids"})


class MultipartComplete(Schema):
    upload_id = fields.String(required=True)
    sha256 = fields.String(load_default=None, allow_none=True)
    filename = fields.String(load_default="")
    metadata = fields.Dict(load_default=dict)


_UPLOAD_ERRORS = {
    404: "no such record",
    413: "too large: bytes, pixels, pages or decompression ratio over the limits",
    415: "not multipart, or a type we do not take (sniffed from the bytes)",
    422: "empty, truncated or malformed file; wrong SHA-256",
}


class MediaRoutes:
    """``/api/v1/records/{id}/media…`` and ``/api/v1/media…``."""

    media: ServiceClient = ServiceRpc("media", "media service", RPC_TIMEOUT)
    catalogue: Any
    gate: Any
    settings: Any

    def _stream_upload(
        self, request: ApiRequest, open_sink: Callable[[Any], dict[str, Any]]
    ) -> tuple[dict[str, Any], upload_sink.Written, StreamedMultipart]:
        """Stream the ``file`` part into the sink ``open_sink(format)`` opens; (the opened
        sink, what was written, the parsed body). The sink is assembled, or discarded on any
        error."""
        limits = MediaLimits.from_config(self.settings.extra.get("media"))
        mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
        if mimetype != "multipart/form-data" or not options.get("boundary"):
            raise unsupported_upload()
        if request.content_length is not None and request.content_length > limits.max_upload_bytes:
            raise PayloadTooLarge(f"a file is at most {limits.max_upload_bytes} bytes")
        body = StreamedMultipart(
            request.stream, options["boundary"].encode("latin-1"), limits.max_upload_bytes
        )
        if not body.open_file():
            raise ValidationFailed("send the file in the multipart field 'file'")
        expected = _expected_sha(request, body.fields)
        try:
            fmt = sniff.detect(body.peek(sniff.HEAD_BYTES))
        except Refused as exc:
            raise exc.to_client_error() from None
        opened = open_sink(fmt)
        try:
            written = upload_sink.write(self.media, opened, body)
            if expected is not None and written.sha256 != expected:
                mismatch = ChecksumMismatch(expected, written.sha256)
                raise ValidationFailed(str(mismatch), refusal_details("checksum_mismatch"))
            self.media.call("close_upload", opened["sink"], timeout=register_timeout(written.size))
        except BaseException:
            upload_sink.discard(self.media, opened)
            raise
        return opened, written, body

    def _open_sink(
        self, request: ApiRequest, asset_id: str, stage: str | None
    ) -> Callable[[Any], dict[str, Any]]:
        """Opens media's sink for a sniffed format: the asset's master, or a staging key."""

        def open_sink(fmt: Any) -> dict[str, Any]:
            opened: dict[str, Any] = self.media.call(
                "open_upload", _actor(request), asset_id, fmt.ext, fmt.mime, stage
            )
            return opened

        return open_sink

    @api(
        "POST",
        "/api/v1/records/<record_id>/media",
        summary=(
            "Upload a file to a record (multipart field 'file'; optional fields caption_vi, "
            "caption_en, creator, date, rights_statement, licence, position, sha256 or header "
            "X-Checksum-SHA256); streamed to storage, checked, then processed"
        ),
        tags=("media",),
        roles=EDITORS,
        response_schema=UploadAccepted,
        responses=_UPLOAD_ERRORS,
    )
    def upload_media(self, request: ApiRequest, record_id: str) -> Any:
        record = self.catalogue.call("get_record", _actor(request), record_id)
        # the same for a repeat of this request (Idempotency-Key): one asset, however many tries
        asset_id = self.media.stable_id("upload", str(request.principal.id), record["id"])
        repeat = self._registered(asset_id)  # its master is never written over: stage instead
        stage = str(uuid.uuid4()) if repeat else None
        opened, written, body = self._stream_upload(
            request, self._open_sink(request, asset_id, stage)
        )
        try:
            metadata = clean_metadata(body.finish())
        except BaseException:
            upload_sink.discard(self.media, opened)
            raise
        try:
            asset = self.media.call(
                "register_upload",
                _actor(request),
                record["id"],
                asset_id,
                opened["master_key"],
                written.sha256,
                body.filename or "",
                metadata,
                timeout=register_timeout(written.size),
            )
        finally:
            if repeat:  # the remembered answer (or a 409 for another file) needs no copy
                upload_sink.discard(self.media, opened)
        return 202, {"Location": f"/api/v1/media/{asset_id}"}, asset

    def _registered(self, asset_id: str) -> bool:
        """Whether an asset of this id exists already (a repeated upload request)."""
        try:
            self.media.call("get_asset", asset_id)
        except NotFound:
            return False
        return True

    @api(
        "POST",
        "/api/v1/media/<asset_id>/versions",
        summary="Replace an asset's master with a new version (the old one is kept)",
        tags=("media",),
        roles=EDITORS,
        response_schema=UploadAccepted,
        responses=_UPLOAD_ERRORS | {409: "the asset is deleted"},
    )
    def replace_media(self, request: ApiRequest, asset_id: str) -> Any:
        if self.media.call("get_asset", asset_id)["deleted_at"]:
            raise Conflict("the asset is deleted")  # answered before anything is stored
        stage = self.media.stable_id("version", str(request.principal.id), asset_id)
        opened, written, body = self._stream_upload(
            request, self._open_sink(request, asset_id, stage)
        )
        try:
            body.finish()
        except BaseException:
            upload_sink.discard(self.media, opened)
            raise
        asset = self.media.call(
            "replace_master",
            _actor(request),
            asset_id,
            opened["sink"]["key"],
            written.sha256,
            body.filename or "",
            timeout=register_timeout(written.size),
        )
        return 202, asset

    @api(
        "POST",
        "/api/v1/records/<record_id>/media/uploads",
        summary=(
            "Start a presigned multipart upload for a large file: returns the asset id, the "
            "upload id, the part size and one PUT URL per part (straight to storage)"
        ),
        tags=("media",),
        roles=EDITORS,
        request_schema=MultipartStart,
    )
    def start_multipart(self, request: ApiRequest, record_id: str) -> Any:
        record = self.catalogue.call("get_record", _actor(request), record_id)
        body = read_json(request, MultipartStart(), max_bytes=10_000)
        return 201, self.media.call(
            "start_multipart", _actor(request), record["id"], body["size"], body["content_type"]
        )

    @api(
        "POST",
        "/api/v1/records/<record_id>/media/uploads/<asset_id>/complete",
        summary="Finish a multipart upload: assemble, hash, check and register the file",
        tags=("media",),
        roles=EDITORS,
        request_schema=MultipartComplete,
        response_schema=UploadAccepted,
        responses=_UPLOAD_ERRORS,
    )
    def complete_multipart(self, request: ApiRequest, record_id: str, asset_id: str) -> Any:
        record = self.catalogue.call("get_record", _actor(request), record_id)
        body = read_json(request, MultipartComplete(), max_bytes=100_000)
        if body["sha256"] and not _SHA.match(body["sha256"]):
            raise ValidationFailed("sha256 is 64 hexadecimal digits")
        metadata = metadata_from_json(body["metadata"])
        asset = self.media.call(
            "complete_multipart",
            _actor(request),
            record["id"],
            asset_id,
            body["upload_id"],
            body["sha256"],
            body["filename"],
            metadata,
            timeout=COMPLETE_TIMEOUT,
        )
        return 202, {"Location": f"/api/v1/media/{asset_id}"}, asset

    @api(
        "GET",
        "/api/v1/media/<asset_id>",
        summary=(
            "An asset: status (processing, ready, failed), technical metadata, checksum; "
            "anyone the record's and the asset's policies admit, once the record is published "
            "(staff: always)"
        ),
        tags=("media",),
        roles=(PUBLIC,),
        response_schema=AssetResponse,
        responses={404: "no such asset"},
    )
    def get_media(self, request: ApiRequest, asset_id: str) -> Any:
        asset = self.media.call("get_asset", asset_id)
        if not _is_staff(request):
            if asset["deleted_at"]:
                raise NotFound("no such asset")
            # as visible as its record: a draft's assets are 404 to non-staff, like the draft,
            # and the record's policy applies as it does to the record's list (ADR 0053)
            record = self.catalogue.call("get_record", _actor(request), asset["record_id"])
            self.gate.require_item(request, "record", record["id"])
        self.gate.require_item(request, "asset", asset["asset_id"])
        return asset

    @api(
        "GET",
        "/api/v1/records/<record_id>/media",
        summary=(
            "The assets of a record, in their order; those whose own policy refuses the "
            "caller are left out"
        ),
        tags=("media",),
        roles=(PUBLIC,),
    )
    def list_media(self, request: ApiRequest, record_id: str) -> Any:
        record = self.catalogue.call("get_record", _actor(request), record_id)
        self.gate.require_item(request, "record", record["id"])
        items = self.media.call("list_assets", record["id"])
        if not _is_staff(request):  # leave out assets whose own policy refuses the caller
            items = [a for a in items if self._may_read_asset(request, a["asset_id"])]
        return {"items": items}

    @api(
        "PUT",
        "/api/v1/records/<record_id>/media/order",
        summary=(
            "Put a record's assets in order (a manuscript's pages): 'assets' lists every asset "
            "id of the record once, first to last; the manifest's canvases follow"
        ),
        tags=("media",),
        roles=EDITORS,
        request_schema=MediaOrder,
        responses={404: "no such record", 422: "not every asset of the record exactly once"},
    )
    def order_media(self, request: ApiRequest, record_id: str) -> Any:
        record = self.catalogue.call("get_record", _actor(request), record_id)
        body = read_json(request, MediaOrder(), max_bytes=1_000_000)
        items = self.media.call("set_order", _actor(request), record["id"], body["assets"])
        return {"items": items}

    def _may_read_asset(self, request: ApiRequest, asset_id: str) -> bool:
        """Whether the caller may read the asset, without auditing a refusal (a list)."""
        item = access_domain.Item("asset", asset_id, self.gate.policy("asset", asset_id))
        decision = access_domain.authorize(request.principal, "read", item, datetime.now(UTC))
        return decision.allowed

    @api(
        "GET",
        "/api/v1/media/<asset_id>/events",
        summary="The asset's preservation events (PREMIS-style), oldest first",
        tags=("media",),
        roles=STAFF,
    )
    def media_events(self, request: ApiRequest, asset_id: str) -> Any:
        return {"items": self.media.call("asset_events", asset_id)}

    @api(
        "GET",
        "/api/v1/media/<asset_id>/versions",
        summary="Every stored version of the asset's master",
        tags=("media",),
        roles=STAFF,
    )
    def media_versions(self, request: ApiRequest, asset_id: str) -> Any:
        return {"items": self.media.call("asset_versions", asset_id)}

    @api(
        "DELETE",
        "/api/v1/media/<asset_id>",
        summary="Soft-delete an asset (purged after the retention period by `disan media purge`)",
        tags=("media",),
        roles=("admin", "cataloguer"),
    )
    def delete_media(self, request: ApiRequest, asset_id: str) -> Any:
        return self.media.call("delete_asset", _actor(request), asset_id)
