"""The audit trail's hash chain: what a row's hash covers, and how the chain is walked.

Each row carries ``chain_prev`` (the hash of the row before it, in id order) and
``chain_hash`` = SHA-256 of ``chain_prev`` and the row's content (``CHAIN_FIELDS``, in a
fixed, documented form). Both are computed in the insert's transaction while it holds
the chain's lock (``lock``), so parallel inserts queue and never fork the chain.

This module sits below ``models``: the model asks it for hashes, never the other way.
"""

import datetime
import hashlib
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

# The first row's chain_prev: no row came before it.
GENESIS = "0" * 64
# Any 64-bit number that no other advisory lock of the application uses.
_POSTGRESQL_LOCK_ID = 0x5741524548534543  # "WAREHSEC"

# The columns a row's hash covers, by attname, in this order. Fixed here (not read from the
# model) so that a column added later does not change the hashes of the rows already kept.
_TEXT = "text"
_INT = "int"
_JSON = "json"
_TIME = "time"
_IP = "ip"
CHAIN_FIELDS: list[tuple[str, str]] = [
    ("timestamp", _TIME),
    ("kind", _TEXT),
    ("action", _INT),
    ("content_type_id", _INT),
    ("object_pk", _TEXT),
    ("object_id", _INT),
    ("object_repr", _TEXT),
    ("serialized_data", _JSON),
    ("changes_text", _TEXT),
    ("changes", _JSON),
    ("actor_id", _INT),
    ("cid", _TEXT),
    ("remote_addr", _IP),
    ("remote_port", _INT),
    ("additional_data", _JSON),
    ("actor_email", _TEXT),
    ("site_pk", _INT),
    ("site_code", _TEXT),
    ("site_name", _TEXT),
    ("actor_username", _TEXT),
    ("via", _TEXT),
    ("summary", _TEXT),
]
CHAIN_FIELD_NAMES = [name for name, _kind in CHAIN_FIELDS]


def _normal(kind: str, value: Any) -> Any:
    """One value as the hash sees it: the same whether it was just written or read back."""
    if value is None:
        return None
    if kind == _TIME:
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    if kind == _INT:
        return int(value)
    if kind == _IP:
        return str(ipaddress.ip_address(str(value)))
    if kind == _JSON:
        # Read back, a JSON column gives string keys and lists: so does this.
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return str(value)


def content(values: dict[str, Any]) -> str:
    """The row's content as hashed: a JSON list of ``CHAIN_FIELDS``' normal values."""
    return json.dumps(
        [_normal(kind, values.get(name)) for name, kind in CHAIN_FIELDS],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def link(prev: str, values: dict[str, Any]) -> str:
    """The hash of a row whose predecessor's hash is ``prev``."""
    return hashlib.sha256(f"{prev}\n{content(values)}".encode()).hexdigest()


def values_of(instance) -> dict[str, Any]:
    """``CHAIN_FIELDS`` of a model instance about to be inserted."""
    return {name: getattr(instance, name) for name in CHAIN_FIELD_NAMES}


def lock(connection) -> None:
    """Hold the chain's lock until the surrounding transaction ends.

    PostgreSQL: a transaction-level advisory lock (a runtime role with only INSERT and
    SELECT on the audit table may not ``SELECT ... FOR UPDATE`` it). SQLite: the write
    lock, which ``transaction_mode = "IMMEDIATE"`` takes at BEGIN; a database set up
    without it takes it here with a write that changes nothing.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("the audit chain's lock needs a transaction.atomic() block")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_POSTGRESQL_LOCK_ID])
        elif (
            connection.vendor == "sqlite"
            and connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE"
        ):
            cursor.execute("DELETE FROM sites_auditprunewindow WHERE 0")


@dataclass
class ChainReport:
    """What a walk of the chain found."""

    rows: int = 0
    first_pk: int | None = None
    last_pk: int | None = None
    last_hash: str = GENESIS
    broken_pk: int | None = None
    reason: str = ""
    # The prune rows met on the way: (pk, their additional_data).
    prunes: list[tuple[int, dict]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken_pk is None


def walk(rows: Iterable[dict[str, Any]], *, pruned_kind: str) -> ChainReport:
    """Check ``rows`` (dicts with ``pk``, ``kind``, ``chain_prev``, ``chain_hash`` and
    ``CHAIN_FIELDS``, in id order) link by link; stop at the first that does not fit.

    The first row must start the chain (``GENESIS``), or follow a prune: the last prune row
    then names it as the first row kept and the hash of the last row deleted.
    """
    report = ChainReport()
    first: dict[str, Any] | None = None
    prev = None
    for row in rows:
        if first is None:
            first = row
            report.first_pk = row["pk"]
        elif row["chain_prev"] != prev:
            return _broken(report, row, "its link to the row before does not match")
        if link(row["chain_prev"], row) != row["chain_hash"]:
            return _broken(report, row, "its content does not match its hash")
        if row["kind"] == pruned_kind and isinstance(row.get("additional_data"), dict):
            report.prunes.append((row["pk"], row["additional_data"]))
        prev = row["chain_hash"]
        report.rows += 1
        report.last_pk = row["pk"]
        report.last_hash = prev
    if first is not None and first["chain_prev"] != GENESIS:
        last_prune_pk, resumed = report.prunes[-1] if report.prunes else (None, {})
        kept = resumed.get("first_kept_pk")
        names_first = kept == first["pk"] or (kept is None and last_prune_pk == first["pk"])
        if not (names_first and resumed.get("last_deleted_hash") == first["chain_prev"]):
            report.rows = 0
            report.last_pk = None
            report.last_hash = GENESIS
            return _broken(
                report, first, "rows before it are missing and no prune row accounts for them"
            )
    return report


def _broken(report: ChainReport, row: dict[str, Any], reason: str) -> ChainReport:
    report.broken_pk = row["pk"]
    report.reason = reason
    return report
