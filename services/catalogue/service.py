"""The catalogue service: heritage records, vocabularies, workflow, versions, search, import.

RPC only (the gateway is its HTTP front). Every answer lists ``vi`` before ``en`` in its
language maps (``answers_vi_first``; jsonb keeps ``en`` first). Callers pass the acting
principal as a dict; the catalogue re-checks what that principal may do. Access policies come
from the access service's ``policy_changed`` events, kept here as a projection so that search
can filter by them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError

from services.catalogue import demo, domain, importer, records, search
from services.catalogue import repository as repo
from services.catalogue.dependencies import VocabularySeed
from shared import contracts  # noqa: F401 - registers the events this service consumes
from shared import record_schemas as schemas
from shared.consumer import reliable_handler
from shared.db import Database
from shared.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from shared.events import Event
from shared.idempotency import idempotent
from shared.languages import answers_vi_first
from shared.outbox import OutboxRelay
from shared.packed_errors import carry_details
from shared.principals import Principal
from shared.rpc import rpc
from shared.service import DisanService


def _principal(actor: Any) -> Principal:
    if not isinstance(actor, dict):
        raise BadRequest("actor must be a principal")
    return Principal.from_dict(actor)


def _version(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest("expected_version is a positive integer")
    return value


class CatalogueService(DisanService):
    name = "catalogue"

    db = Database("catalogue")
    relay = OutboxRelay("catalogue")
    vocabularies = VocabularySeed()

    @property
    def _cid(self) -> str | None:
        return self.correlation or None

    # records -------------------------------------------------------------------------------
    @rpc
    @answers_vi_first
    @idempotent
    @carry_details
    def create_record(self, actor: Any, payload: Any) -> dict[str, Any]:
        return records.create(self.db, _principal(actor), payload, self._cid)

    @rpc
    @answers_vi_first
    @carry_details
    def get_record(self, actor: Any, record_id: Any) -> dict[str, Any]:
        return records.read(self.db, _principal(actor), record_id)

    @rpc
    @answers_vi_first
    @idempotent
    @carry_details
    def update_record(
        self, actor: Any, record_id: Any, payload: Any, expected_version: Any
    ) -> dict[str, Any]:
        return records.update(
            self.db, _principal(actor), record_id, payload, _version(expected_version), self._cid
        )

    @rpc
    @answers_vi_first
    @idempotent
    @carry_details
    def transition_record(
        self, actor: Any, record_id: Any, action: Any, comment: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        expected = None if expected_version is None else _version(expected_version)
        try:
            body = schemas.TransitionSchema().load({"action": action, "comment": comment})
        except ValidationError as exc:
            fields = ", ".join(sorted(map(str, exc.messages)))
            raise ValidationFailed(f"invalid transition: {fields}", exc.messages) from exc
        return records.transition(
            self.db,
            _principal(actor),
            record_id,
            body["action"],
            body["comment"] or "",
            expected,
            self._cid,
        )

    @rpc
    @answers_vi_first
    @idempotent
    @carry_details
    def delete_record(self, actor: Any, record_id: Any, expected_version: Any) -> dict[str, Any]:
        return records.delete(
            self.db, _principal(actor), record_id, _version(expected_version), self._cid
        )

    @rpc
    @answers_vi_first
    @carry_details
    def record_history(self, actor: Any, record_id: Any) -> list[dict[str, Any]]:
        return records.history(self.db, _principal(actor), record_id)

    @rpc
    @answers_vi_first
    @carry_details
    def record_version(self, actor: Any, record_id: Any, version: Any) -> dict[str, Any]:
        return records.version(self.db, _principal(actor), record_id, version)

    @rpc
    @answers_vi_first
    @carry_details
    def record_diff(self, actor: Any, record_id: Any, old: Any, new: Any) -> dict[str, Any]:
        return records.diff(self.db, _principal(actor), record_id, old, new)

    @rpc
    @answers_vi_first
    @idempotent
    @carry_details
    def restore_record(
        self, actor: Any, record_id: Any, version: Any, expected_version: Any, comment: Any = ""
    ) -> dict[str, Any]:
        return records.restore(
            self.db,
            _principal(actor),
            record_id,
            version,
            _version(expected_version),
            comment,
            self._cid,
        )

    @rpc
    @answers_vi_first
    @carry_details
    def search_records(self, actor: Any, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise BadRequest("search parameters are a mapping")
        try:
            query = schemas.SearchSchema().load(params)
        except ValidationError as exc:
            raise ValidationFailed("invalid search parameters", exc.messages) from exc
        return search.search(self.db, query, _principal(actor), datetime.now(UTC))

    # import and export ---------------------------------------------------------------------
    @rpc
    @answers_vi_first
    @idempotent
    @carry_details
    def import_records(
        self, actor: Any, content: Any, fmt: Any, dry_run: Any = True
    ) -> dict[str, Any]:
        if not isinstance(content, str):
            raise BadRequest("content is text")
        if fmt not in importer.FORMATS:
            raise BadRequest(f"format is one of {', '.join(importer.FORMATS)}")
        return importer.run_import(
            self.db, _principal(actor), content, fmt, bool(dry_run), self._cid
        )

    @rpc
    @carry_details
    def export_records(self, actor: Any, fmt: Any, state: Any = None) -> str:
        principal = _principal(actor)
        if not domain.is_staff(principal.roles):
            raise Forbidden("only staff export the catalogue")
        return "".join(importer.export(self.db, str(fmt), state or None))

    # vocabularies --------------------------------------------------------------------------
    @rpc
    @answers_vi_first
    @carry_details
    def list_vocabularies(self) -> list[dict[str, Any]]:
        return repo.list_schemes(self.db)

    @rpc
    @answers_vi_first
    @carry_details
    def get_vocabulary(self, scheme: Any) -> dict[str, Any]:
        terms = repo.list_terms(self.db, str(scheme)[:64])
        if not terms:
            raise NotFound(f"no vocabulary {str(scheme)[:64]!r}")
        return {"scheme": scheme, "terms": terms}

    @rpc
    @answers_vi_first
    @idempotent
    @carry_details
    def add_term(self, actor: Any, scheme: Any, payload: Any) -> dict[str, Any]:
        """Admins extend a vocabulary; existing terms are never silently replaced."""
        principal = _principal(actor)
        if "admin" not in principal.roles:
            raise Forbidden("only administrators extend vocabularies")
        if not repo.list_terms(self.db, str(scheme)[:64]):
            raise NotFound(f"no vocabulary {str(scheme)[:64]!r}")
        try:
            term = schemas.TermSchema().load(payload)
        except ValidationError as exc:
            raise ValidationFailed("invalid term", exc.messages) from exc
        if not repo.insert_term(
            self.db,
            scheme,
            term["code"],
            term["labels"],
            term["broader"],
            term["note"],
            principal.subject,
        ):
            raise Conflict(f"{scheme} already has a term {term['code']!r}")
        return {"scheme": scheme} | dict(term)

    # demo data -----------------------------------------------------------------------------
    @rpc
    @answers_vi_first
    @carry_details
    def load_demo(self) -> dict[str, Any]:
        """Create the Hải Phòng demo records that are missing; returns their wanted policies."""
        return demo.load(self.db, self._cid)

    # projection of media assets (the has_images facet) -------------------------------------
    @reliable_handler("media.asset_ingested", "media.asset_deleted")
    def handle_asset_event(self, event: Event) -> None:
        data = event.data
        repo.apply_asset(
            self.db,
            str(data["asset_id"]),
            str(data["record_id"]),
            data.get("kind"),
            event.type == "media.asset_deleted",
            event.occurred_at,
        )

    # projection of access policies ---------------------------------------------------------
    @reliable_handler("access.policy_changed")
    def handle_policy_changed(self, event: Event) -> None:
        data = event.data
        if data["resource_kind"] != "record":
            return
        until = data.get("embargo_until")
        repo.apply_policy(
            self.db,
            data["resource_id"],
            data["level"],
            datetime.fromisoformat(until) if isinstance(until, str) else until,
            event.occurred_at,
        )
