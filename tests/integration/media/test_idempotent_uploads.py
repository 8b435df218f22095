"""Uploads repeated with their Idempotency-Key, and a media service killed after registering an
upload and before answering, make one asset (issue 14); real HTTP, RabbitMQ, PostgreSQL, S3."""

from __future__ import annotations

import uuid
from typing import Any

import eventlet
import pytest

import shared.rpc
from services.media.domain import MASTERS_BUCKET
from tests.integration.conftest import wait_until
from tests.integration.media.conftest import sha
from tests.integration.media.support import jpeg, png

pytestmark = pytest.mark.integration


def assets_of(media: Any, record_id: str) -> list[str]:
    rows = media.media_sql("SELECT id FROM assets WHERE record_id = :r", r=record_id)
    return [str(r.id) for r in rows]


def test_an_upload_repeated_with_its_key_is_one_asset_with_the_first_answer(media):
    record_id, data, key = media.new_record(), jpeg(320, 240), str(uuid.uuid4())
    first = media.upload(record_id, data, "a.jpg", headers={"Idempotency-Key": key})
    again = media.upload(record_id, data, "a.jpg", headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json()
    asset_id = first.json()["asset_id"]
    assert assets_of(media, record_id) == [asset_id]
    assert media.keys(MASTERS_BUCKET, asset_id) == [f"assets/{asset_id}/original.jpg"]
    assert media.store.sha256_of(MASTERS_BUCKET, f"assets/{asset_id}/original.jpg") == sha(data)


def test_another_file_under_the_same_key_is_a_409_and_never_replaces_the_first(media):
    record_id, data, key = media.new_record(), jpeg(320, 240), str(uuid.uuid4())
    first = media.upload(record_id, data, "a.jpg", headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    other = media.upload(record_id, png(), "b.png", headers={"Idempotency-Key": key})
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    asset_id = first.json()["asset_id"]
    assert assets_of(media, record_id) == [asset_id]
    assert media.keys(MASTERS_BUCKET, asset_id) == [f"assets/{asset_id}/original.jpg"]
    assert media.store.sha256_of(MASTERS_BUCKET, f"assets/{asset_id}/original.jpg") == sha(data)


def test_a_media_service_killed_after_registering_answers_the_upload_once(media, monkeypatch):
    hung: list[bool] = []
    real = shared.rpc.commit_worker

    def commit_then_hang(worker_ctx: Any) -> None:
        real(worker_ctx)
        if not hung and worker_ctx.entrypoint.method_name == "register_upload":
            hung.append(True)
            while True:  # registered and committed; the process dies before it answers
                eventlet.sleep(0.05)

    monkeypatch.setattr(shared.rpc, "commit_worker", commit_then_hang)
    record_id, data = media.new_record(), jpeg(320, 240)
    answer = eventlet.spawn(media.upload, record_id, data, "c.jpg")  # the gateway makes a key
    wait_until(lambda: hung, timeout=30)
    media.services.containers["media"].kill()  # the request goes back to the queue
    media.start_media()
    uploaded = answer.wait()
    assert uploaded.status_code == 202, uploaded.text
    assert assets_of(media, record_id) == [uploaded.json()["asset_id"]]


def test_uploads_in_flight_while_media_is_killed_again_and_again_make_one_asset_each(
    media, monkeypatch
):
    crashes = 3
    hung: list[bool] = []
    real = shared.rpc.commit_worker

    def sometimes_die_after_commit(worker_ctx: Any) -> None:
        real(worker_ctx)
        if worker_ctx.entrypoint.method_name == "register_upload" and len(hung) < crashes:
            hung.append(True)
            while True:  # registered and committed; the process dies before it answers
                eventlet.sleep(0.05)

    monkeypatch.setattr(shared.rpc, "commit_worker", sometimes_die_after_commit)
    records = [media.new_record() for _ in range(6)]
    answers: dict[str, Any] = {}
    pool = eventlet.GreenPool(6)

    def send(record_id: str) -> None:
        answers[record_id] = media.upload(record_id, jpeg(200, 150), "k.jpg")

    for record_id in records:
        pool.spawn_n(send, record_id)
    for crash in range(1, crashes + 1):
        wait_until(lambda crash=crash: len(hung) >= crash, timeout=60)
        media.services.containers["media"].kill()
        media.start_media()
    pool.waitall()
    for record_id in records:
        answer = answers[record_id]
        if answer.status_code == 503:
            error = answer.json()["error"]
            assert error["details"]["reason"] == "outcome_unknown", answer.text
            key = error["details"]["idempotency_key"]
            answer = media.upload(
                record_id, jpeg(200, 150), "k.jpg", headers={"Idempotency-Key": key}
            )
        assert answer.status_code == 202, answer.text
        assert assets_of(media, record_id) == [answer.json()["asset_id"]]
