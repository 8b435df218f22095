"""The Hải Phòng demo data set: loaded by ``disan up``, idempotently.

Each item gets a stable id (UUID v5 of its inventory number), so loading again creates only
what is missing. Items are created, then moved through the workflow to their wanted state with
a comment at each step. Access policies belong to the access service: ``load`` returns the
wanted ones and ``load_into_stack`` sets them there by RPC, before the records are loaded.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

from services.catalogue import records
from services.catalogue import repository as repo
from shared.db import DbSession

log = logging.getLogger(__name__)

DEMO = Path(__file__).resolve().parent / "data" / "demo.json"
NAMESPACE = uuid.UUID("6f1d3c2e-7b0a-5c61-9a55-0d15a7b1e001")
STEPS = {
    "draft": [],
    "in_review": [("submit", "demo data: ready for review")],
    "published": [
        ("submit", "demo data: ready for review"),
        ("publish", "demo data: facts from HAI_PHONG.md, descriptions checked"),
    ],
}


def record_id(inventory_number: str) -> str:
    return str(uuid.uuid5(NAMESPACE, inventory_number))


def items(path: Path = DEMO) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["items"]
    ids = {i["key"]: record_id(i["record"]["inventory_number"]) for i in data}
    for item in data:
        item["id"] = ids[item["key"]]
        for relation in item["record"].get("relations", []):
            relation["target"] = ids[relation["target"].removeprefix("@")]
    return data


def load(db: DbSession, correlation_id: str | None = None) -> dict[str, Any]:
    """Create the missing demo records (targets of relations come first in the file)."""
    created, present = [], 0
    for item in items():
        rid = item["id"]
        if repo.get_record(db, rid) is not None:
            present += 1
            continue
        records.create(db, records.SYSTEM, item["record"], correlation_id, record_id=rid)
        for action, comment in STEPS[item["state"]]:
            records.transition(db, records.SYSTEM, rid, action, comment, None, correlation_id)
        created.append(rid)
    return {
        "created": created,
        "already_present": present,
        "policies": policies(),
    }


def policies() -> list[dict[str, Any]]:
    """The demo records' access policies other than public (records have stable ids)."""
    return [
        {"record_id": i["id"], "level": i["policy"], "reason": i.get("policy_reason", "")}
        for i in items()
        if i["policy"] != "public"
    ]


def load_into_stack(settings: Any, catalogue: str = "catalogue", access: str = "access") -> str:
    """Set the demo access policies, then load the demo data into running services.

    Policies first (the access service keeps a policy for a record not created yet): the
    records' publication is then announced under them, so no outward surface (the LGSP feed,
    webhooks, collections) is ever told of a restricted demo record as public (issue 14).
    """
    from nameko.standalone.rpc import ClusterRpcProxy

    actor = records.SYSTEM.to_dict()
    with ClusterRpcProxy({"AMQP_URI": settings.amqp_uri}, timeout=120) as cluster:
        for policy in policies():
            current = getattr(cluster, access).get_policy("record", policy["record_id"])
            if current["level"] != policy["level"]:
                getattr(cluster, access).set_policy(
                    actor, "record", policy["record_id"], policy["level"], None, policy["reason"]
                )
        result = getattr(cluster, catalogue).load_demo()
    return (
        f"{len(result['created'])} demo record(s) created, "
        f"{result['already_present']} already present"
    )
