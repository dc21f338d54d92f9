"""The anchors of bench_fleet: signed GET Organisation calls by a bare loop, no Django.

One requests-oauthlib session per Site (each Site is its own organisation and key), 20
threads, the private key parsed once. Reads JSON from stdin: url, keys, private_key_pem,
threads, and optionally ``record``; prints the wall time and CPU seconds as JSON.

With ``record`` (``{"sqlite": path}`` or ``{"postgresql": conninfo}``) it is the *recording
loop*: the same calls, and around each one the record the Warehouse keeps (issue 29), in
plain DB-API statements on one connection per thread, in tables of its own in the same
database: the chunk's lease and running rows, a call slot taken before the call, then the
queue row's fenced delete, the result and the API stamp in one transaction. It is what the
Warehouse's promises cost with no framework at all: the floor under the Warehouse's CPU.
"""

import json
import queue
import sqlite3
import sys
import threading
import time

from cryptography.hazmat.primitives import serialization
from oauthlib.oauth1 import SIGNATURE_RSA, SIGNATURE_TYPE_AUTH_HEADER
from requests_oauthlib import OAuth1Session

from benchmarks._cpu import cpu_mark, cpu_since

# The fleet's chunk size (XERO_CHECK_CHUNK_SIZE's default) and call slot timeout.
CHUNK = 50
SLOT_SECONDS = 30
# The Warehouse renews a chunk's lease while it runs; the loop takes one that outlasts
# its whole run instead, so that no fence fails on a long run.
LEASE_SECONDS = 3600
WORKER = "bench"

TABLES = (
    "CREATE TABLE record_queue (site integer PRIMARY KEY, chunk integer NOT NULL, "
    "worker varchar(100) NOT NULL DEFAULT '', lease_until double precision)",
    "CREATE INDEX record_queue_chunk ON record_queue (chunk)",
    "CREATE TABLE record_result (id integer PRIMARY KEY, site integer NOT NULL, "
    "outcome varchar(40) NOT NULL, message text NOT NULL DEFAULT '', "
    "started_at double precision NOT NULL, finished_at double precision, "
    "organisation varchar(255) NOT NULL DEFAULT '')",
    "CREATE INDEX record_result_site ON record_result (site, started_at)",
    "CREATE TABLE record_slot (key varchar(200) PRIMARY KEY, holder varchar(100) NOT NULL, "
    "expires_at double precision NOT NULL)",
    "CREATE TABLE record_stamp (site integer PRIMARY KEY, changed_at double precision NOT NULL)",
)
CLAIM = "UPDATE record_queue SET worker = %s, lease_until = %s WHERE chunk = %s"
START = "INSERT INTO record_result (id, site, outcome, started_at) VALUES (%s, %s, 'running', %s)"
SLOT = (
    "INSERT INTO record_slot (key, holder, expires_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, "
    "expires_at = excluded.expires_at WHERE record_slot.expires_at <= %s RETURNING key"
)
FENCE = "DELETE FROM record_queue WHERE site = %s AND worker = %s AND lease_until > %s"
RESULT = (
    "UPDATE record_result SET outcome = %s, message = %s, finished_at = %s, "
    "organisation = %s WHERE id = %s"
)
STAMP = (
    "INSERT INTO record_stamp (site, changed_at) VALUES (%s, %s) "
    "ON CONFLICT (site) DO UPDATE SET changed_at = excluded.changed_at"
)


class Record:
    """One thread's connection, opened as the Warehouse opens its own."""

    def __init__(self, where: dict):
        self.sqlite = "sqlite" in where
        if self.sqlite:
            self.connection = sqlite3.connect(where["sqlite"], timeout=20, isolation_level=None)
            self.connection.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"
            )
            self.begin = "BEGIN IMMEDIATE"
        else:
            import psycopg

            self.connection = psycopg.connect(where["postgresql"], autocommit=True)
            self.begin = "BEGIN"

    def execute(self, sql, params=(), many=False):
        cursor = self.connection.cursor()
        if self.sqlite:
            sql = sql.replace("%s", "?")
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return cursor

    def transaction(self, statements):
        self.execute(self.begin)
        try:
            for sql, params, *many in statements:
                self.execute(sql, params, *many)
            self.execute("COMMIT")
        except BaseException:
            self.execute("ROLLBACK")
            raise

    def close(self):
        self.connection.close()


def prepare(where: dict, sites: int) -> None:
    """The record's tables, and a queue row for every Site (the enqueue is not timed)."""
    record = Record(where)
    for table in ("record_queue", "record_result", "record_slot", "record_stamp"):
        record.execute(f"DROP TABLE IF EXISTS {table}")  # a round before this one
    for sql in TABLES:
        record.execute(sql)
    record.transaction(
        [
            (
                "INSERT INTO record_queue (site, chunk) VALUES (%s, %s)",
                [(site, site // CHUNK) for site in range(sites)],
                True,
            )
        ]
    )
    record.close()


def claim(record: Record, chunk: int, sites: range) -> None:
    now = time.time()
    record.transaction(
        [
            (CLAIM, (WORKER, now + LEASE_SECONDS, chunk)),
            (START, [(site, site, now) for site in sites], True),
        ]
    )


def main():
    job = json.load(sys.stdin)
    key = serialization.load_pem_private_key(
        job["private_key_pem"].encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    where = job.get("record")
    if where:
        prepare(where, len(job["keys"]))
    pending = queue.SimpleQueue()
    for site, consumer_key in enumerate(job["keys"]):
        pending.put((site, consumer_key))
    statuses = []

    def work():
        record = Record(where) if where else None
        holder = f"bench:{threading.get_ident()}"
        while True:
            try:
                site, consumer_key = pending.get_nowait()
            except queue.Empty:
                break
            if record:
                now = time.time()
                record.execute(SLOT, (f"org:{consumer_key}", holder, now + SLOT_SECONDS, now))
            session = OAuth1Session(
                consumer_key,
                resource_owner_key=consumer_key,
                signature_method=SIGNATURE_RSA,
                rsa_key=key,
                signature_type=SIGNATURE_TYPE_AUTH_HEADER,
            )
            response = session.get(job["url"], headers={"Accept": "application/json"}, timeout=20)
            answer = response.json()
            statuses.append(response.status_code)
            session.close()
            if record:
                name = answer["Organisations"][0]["Name"]
                now = time.time()
                record.transaction(
                    [
                        (FENCE, (site, WORKER, now)),
                        (RESULT, ("ok", "", now, name, site)),
                        (STAMP, (site, now)),
                    ]
                )
        if record:
            record.close()

    cpu, started = cpu_mark(), time.perf_counter()
    if where:
        # The Warehouse claims a chunk as a worker takes it up; here all at the start, on
        # the same clock: the CPU is the same.
        record = Record(where)
        sites = len(job["keys"])
        for first in range(0, sites, CHUNK):
            claim(record, first // CHUNK, range(first, min(first + CHUNK, sites)))
        record.close()
    threads = [threading.Thread(target=work) for _ in range(job["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    spent = cpu_since(cpu)
    recorded = {}
    if where:
        # Outside the timed stretch: that the record was kept, every Site's result saved
        # and its queue row fenced away.
        record = Record(where)
        saved = "SELECT count(*) FROM record_result WHERE outcome = 'ok'"
        recorded["result"] = record.execute(saved).fetchone()[0]
        recorded["queue"] = record.execute("SELECT count(*) FROM record_queue").fetchone()[0]
        record.close()
    json.dump({"wall": wall, **spent, "ok": statuses.count(200), "recorded": recorded}, sys.stdout)


if __name__ == "__main__":
    main()
