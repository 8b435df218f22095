"""The one S3 wrapper (MinIO in deployment, moto's server on development machines).

Uploads stream: the body is hashed (SHA-256) while it is read and never held whole in memory;
the digest is checked against the caller's expectation before the object is made visible
(uploaded under a temporary key, then copied into place), and stored as object metadata.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.datatypes import Part
from minio.error import S3Error

from shared.config import S3Settings

log = logging.getLogger(__name__)

PART_SIZE = 16 * 1024 * 1024
SHA_META = "sha256"
CHECKSUM_HEADER = "x-amz-checksum-sha256"  # S3's own SHA-256 of an object, base64
_CHECKSUM_MODE = {"x-amz-checksum-mode": "ENABLED"}
MAX_COPY_BYTES = 5 * 1024**3  # one CopyObject; larger copies are multipart (composite checksums)


def checksum_b64(sha256_hex: str) -> str:
    """A hexadecimal SHA-256 as S3 writes it in ``x-amz-checksum-sha256`` (base64)."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


class StorageError(Exception):
    """Base of the storage wrapper's errors."""


class ObjectNotFound(StorageError):
    pass


class ChecksumMismatch(StorageError):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"SHA-256 mismatch: expected {expected}, got {actual}")
        self.expected, self.actual = expected, actual


class StorageUnavailable(StorageError):
    pass


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    sha256: str | None
    etag: str | None = None
    content_type: str | None = None
    checksum_sha256: str | None = None  # S3's checksum of the object (base64), when it has one


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    last_modified: datetime | None


@dataclass(frozen=True)
class PendingUpload:
    """A multipart upload begun and neither completed nor aborted: its parts take space."""

    key: str
    upload_id: str
    initiated: datetime | None


@dataclass(frozen=True)
class ReadBack:
    """What re-reading a whole object found: the SHA-256 of the bytes read, and the digests
    stored with it (S3's checksum, base64, and our ``sha256`` metadata, hex)."""

    sha256: str
    size: int
    s3_checksum: str | None
    metadata_sha256: str | None

    def problems(self, expected_sha256: str) -> list[str]:
        """Every way the object disagrees with ``expected_sha256`` (empty when it is intact)."""
        found = []
        if self.sha256 != expected_sha256:
            found.append(f"the bytes hash to {self.sha256}")
        if self.s3_checksum is not None and self.s3_checksum != checksum_b64(expected_sha256):
            found.append(f"S3's checksum is {self.s3_checksum}")
        if self.metadata_sha256 is not None and self.metadata_sha256 != expected_sha256:
            found.append(f"the sha256 metadata is {self.metadata_sha256}")
        return found


class _HashingReader:
    """Wraps a stream: counts and hashes what is read from it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes, fewer only at the end: the S3 client gets a part in one piece
        (it appends short reads to an immutable ``bytes``, copying the part again each time)."""
        chunk = self.stream.read(n)
        if chunk and 0 < len(chunk) < n:
            buf = bytearray(chunk)
            while len(buf) < n:
                more = self.stream.read(n - len(buf))
                if not more:
                    break
                buf += more
            chunk = bytes(buf)
            del buf
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


class ObjectStore:
    """Thin, typed access to buckets and objects."""

    def __init__(self, settings: S3Settings, timeout: float = 30.0) -> None:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=timeout),
            maxsize=20,
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
        )
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            secure=settings.secure,
            region=settings.region,
            http_client=http,
        )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject", "NotFound"):
                raise ObjectNotFound(f"{what}: {exc.code}") from exc
            raise StorageError(f"{what}: {exc.code} {exc.message}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"{what}: S3 endpoint unreachable ({exc})") from exc

    def ensure_bucket(self, bucket: str) -> None:
        if not self._call("bucket_exists", self.client.bucket_exists, bucket):
            try:
                self._call("make_bucket", self.client.make_bucket, bucket)
            except StorageError as exc:
                if "BucketAlreadyOwnedByYou" not in str(exc):
                    raise

    def ping(self) -> None:
        self._call("list_buckets", self.client.list_buckets)

    def put_stream(
        self,
        bucket: str,
        key: str,
        stream: IO[bytes],
        length: int = -1,
        content_type: str = "application/octet-stream",
        expected_sha256: str | None = None,
        metadata: dict[str, str] | None = None,
        part_size: int = PART_SIZE,
    ) -> StoredObject:
        """Stream ``stream`` to ``bucket/key`` hashing on the way; refuse a wrong checksum.

        With ``expected_sha256`` the body goes to a temporary key first and is copied into place
        only when it matches, so a bad upload never shows under the real key. Parts are sent one
        at a time: memory held is about two ``part_size`` buffers at the peak (the part, and the
        S3 client's copy when it trims the look-ahead byte), not the four to five of the client's
        default of three parts in flight.
        """
        reader = _HashingReader(stream)
        target = key if expected_sha256 is None else f"{key}.upload-tmp"
        result = self._call(
            "put_object",
            self.client.put_object,
            bucket,
            target,
            reader,
            length,
            content_type=content_type,
            part_size=part_size,
            metadata=metadata,
            num_parallel_uploads=1,
        )
        actual = reader.digest.hexdigest()
        if expected_sha256 is not None:
            try:
                if actual != expected_sha256.lower():
                    raise ChecksumMismatch(expected_sha256.lower(), actual)
                sealed = self.seal(bucket, target, key, actual, metadata)
            finally:
                self.delete(bucket, target)
            return sealed
        return StoredObject(bucket, key, reader.size, actual, result.etag, content_type)

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        return self.put_stream(bucket, key, io.BytesIO(data), len(data), content_type)

    def stat(self, bucket: str, key: str) -> StoredObject:
        st = self._call(
            "stat_object", self.client.stat_object, bucket, key, extra_headers=_CHECKSUM_MODE
        )
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        sha = meta.get(f"x-amz-meta-{SHA_META}")
        return StoredObject(
            bucket, key, int(st.size or 0), sha, st.etag, st.content_type, meta.get(CHECKSUM_HEADER)
        )

    def seal(
        self,
        bucket: str,
        source_key: str,
        key: str,
        sha256: str,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Put an uploaded object in its final place (``key``, or where it is) with its SHA-256
        stored as metadata and as S3's own checksum, then compare the two.

        A streamed upload learns its digest only at the end, and a multipart upload cannot carry
        a whole-object SHA-256, so the checksum is asked for (``x-amz-checksum-algorithm``) on
        the server-side copy: S3 hashes the bytes it holds and the result must equal the digest
        computed while they were sent (``ChecksumMismatch`` otherwise; the copy is removed).
        """
        source = self.stat(bucket, source_key)
        meta = dict(metadata or {}) | {SHA_META: sha256}
        if source.content_type:
            meta["Content-Type"] = source.content_type  # REPLACE would drop it
        if source.size <= MAX_COPY_BYTES:
            meta["x-amz-checksum-algorithm"] = "SHA256"
        self._call(
            "copy_object",
            self.client.copy_object,
            bucket,
            key,
            CopySource(bucket, source_key),
            metadata=meta,
            metadata_directive="REPLACE",
        )
        stored = self.stat(bucket, key)
        expected = checksum_b64(sha256)
        if stored.checksum_sha256 is not None and stored.checksum_sha256 != expected:
            if key != source_key:
                self.delete(bucket, key)
            raise ChecksumMismatch(sha256, f"S3 checksum {stored.checksum_sha256}")
        if stored.checksum_sha256 is None:
            log.warning("S3 stored no SHA-256 checksum for %s/%s", bucket, key)
        return stored

    def read_back(self, bucket: str, key: str, chunk: int = 1024 * 1024) -> ReadBack:
        """Re-read a whole object, hashing it, with the digests stored beside it (fixity)."""
        response = self._call(
            "get_object", self.client.get_object, bucket, key, request_headers=_CHECKSUM_MODE
        )
        digest, size = hashlib.sha256(), 0
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            for part in response.stream(chunk):
                digest.update(part)
                size += len(part)
        finally:
            response.close()
            response.release_conn()
        checksum = headers.get(CHECKSUM_HEADER)
        if checksum is not None and "-" in checksum:
            checksum = None  # a composite (multipart) checksum is not the object's SHA-256
        return ReadBack(digest.hexdigest(), size, checksum, headers.get(f"x-amz-meta-{SHA_META}"))

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.stat(bucket, key)
        except ObjectNotFound:
            return False
        return True

    def get_bytes(self, bucket: str, key: str) -> bytes:
        response = self._call("get_object", self.client.get_object, bucket, key)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def iter_chunks(self, bucket: str, key: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        response = self._call("get_object", self.client.get_object, bucket, key)
        try:
            yield from response.stream(chunk)
        finally:
            response.close()
            response.release_conn()

    def download(self, bucket: str, key: str, path: str) -> None:
        self._call("fget_object", self.client.fget_object, bucket, key, path)

    def sha256_of(self, bucket: str, key: str) -> str:
        """Re-read an object and hash it (fixity checks)."""
        digest = hashlib.sha256()
        for part in self.iter_chunks(bucket, key):
            digest.update(part)
        return digest.hexdigest()

    def delete(self, bucket: str, key: str) -> None:
        self._call("remove_object", self.client.remove_object, bucket, key)

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        objects = self._call(
            "list_objects", self.client.list_objects, bucket, prefix=prefix, recursive=True
        )
        return [str(o.object_name) for o in objects]

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[ListedObject]:
        """Every object under ``prefix`` with its size and time of writing, page by page."""
        objects = self._call(
            "list_objects", self.client.list_objects, bucket, prefix=prefix, recursive=True
        )
        for o in objects:
            yield ListedObject(str(o.object_name), int(o.size or 0), o.last_modified)

    def presigned_put(self, bucket: str, key: str, expires: timedelta) -> str:
        return str(
            self._call(
                "presigned_put_object", self.client.presigned_put_object, bucket, key, expires
            )
        )

    def presigned_get(self, bucket: str, key: str, expires: timedelta) -> str:
        return str(
            self._call(
                "presigned_get_object", self.client.presigned_get_object, bucket, key, expires
            )
        )

    def read_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of an object from ``offset`` (fewer at its end)."""
        if length <= 0:
            return b""
        response = self._call(
            "get_object", self.client.get_object, bucket, key, offset=offset, length=length
        )
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def open_ranged(self, bucket: str, key: str, block: int = 256 * 1024) -> RangedObject:
        """A read-only, seekable file over an object, fetched in cached ranges (header parsing)."""
        return RangedObject(self, bucket, key, self.stat(bucket, key).size, block)

    def copy(
        self, bucket: str, source_key: str, key: str, metadata: dict[str, str] | None = None
    ) -> StoredObject:
        """Server-side copy inside ``bucket`` (the bytes never pass through this process)."""
        self._call(
            "copy_object",
            self.client.copy_object,
            bucket,
            key,
            CopySource(bucket, source_key),
            metadata=metadata,
            metadata_directive="REPLACE" if metadata is not None else None,
        )
        return self.stat(bucket, key)

    # presigned multipart uploads (clients write large files to S3 directly) ----------------

    def create_multipart(self, bucket: str, key: str, content_type: str) -> str:
        """Start a multipart upload; returns its upload id."""
        headers = {"Content-Type": content_type}
        return str(
            self._call(
                "create_multipart_upload",
                self.client._create_multipart_upload,
                bucket,
                key,
                headers,
            )
        )

    def presigned_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, expires: timedelta
    ) -> str:
        """A URL the client PUTs one part to (parts are numbered from 1, at most 10,000)."""
        if not 1 <= part_number <= 10_000:
            raise StorageError(f"part number {part_number} is outside 1..10000")
        return str(
            self._call(
                "presigned upload_part",
                self.client.get_presigned_url,
                "PUT",
                bucket,
                key,
                expires,
                extra_query_params={"uploadId": upload_id, "partNumber": str(part_number)},
            )
        )

    def complete_multipart(self, bucket: str, key: str, upload_id: str) -> StoredObject:
        """Assemble the parts the client uploaded, in part-number order."""
        listed = self._call(
            "list_parts", self.client._list_parts, bucket, key, upload_id, max_parts=10_000
        )
        parts = [Part(p.part_number, p.etag) for p in listed.parts]
        if not parts:
            raise StorageError("complete_multipart: no part was uploaded")
        self._call(
            "complete_multipart_upload",
            self.client._complete_multipart_upload,
            bucket,
            key,
            upload_id,
            parts,
        )
        return self.stat(bucket, key)

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        self._call(
            "abort_multipart_upload", self.client._abort_multipart_upload, bucket, key, upload_id
        )

    def list_multipart_uploads(self, bucket: str, prefix: str = "") -> Iterator[PendingUpload]:
        """The unfinished multipart uploads of ``bucket`` (under ``prefix``), page by page."""
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            page = self._call(
                "list_multipart_uploads",
                self.client._list_multipart_uploads,
                bucket,
                prefix=prefix or None,
                key_marker=key_marker,
                upload_id_marker=upload_marker,
                max_uploads=1000,
            )
            for upload in page.uploads:
                yield PendingUpload(
                    upload.object_name, str(upload.upload_id), upload.initiated_time
                )
            if not page.is_truncated:
                return
            key_marker = page.next_key_marker
            # minio 7.2 keeps the next upload id marker under a misspelt attribute name
            upload_marker = page.next_upload_id_marker or getattr(
                page, "self._next_upload_id_marker", None
            )
            if key_marker is None and upload_marker is None:
                return


class RangedObject(io.RawIOBase):
    """A seekable reader over an S3 object; reads fetch aligned blocks, a few kept in memory."""

    def __init__(
        self, store: ObjectStore, bucket: str, key: str, size: int, block: int, keep: int = 16
    ) -> None:
        super().__init__()
        self.store, self.bucket, self.key, self.size = store, bucket, key, size
        self.block, self.keep = block, keep
        self.position = 0
        self.fetched = 0
        self._blocks: dict[int, bytes] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _block(self, index: int) -> bytes:
        data = self._blocks.get(index)
        if data is None:
            data = self.store.read_range(self.bucket, self.key, index * self.block, self.block)
            self.fetched += len(data)
            if len(self._blocks) >= self.keep:
                self._blocks.pop(next(iter(self._blocks)))
            self._blocks[index] = data
        return data

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        out = bytearray()
        while self.position < end:
            index, within = divmod(self.position, self.block)
            data = self._block(index)[within : within + end - self.position]
            if not data:
                break
            out += data
            self.position += len(data)
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
