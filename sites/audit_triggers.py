"""Database triggers that make the audit table append-only.

UPDATE is always refused. DELETE is refused too, except for a row older than the
``before`` of a row in ``sites_auditprunewindow`` whose ``before`` is itself at least
``PRUNE_FLOOR_DAYS`` old: that is how ``manage.py prune_audit_trail`` deletes rows past
their retention, inserting the window, deleting and removing the window in one
transaction. So the most any SQL short of DDL can remove is rows older than a year.

On SQLite, ``INSERT OR REPLACE`` and ``REPLACE INTO`` would delete the row they collide
with without firing the DELETE trigger (SQLite fires it only under ``PRAGMA
recursive_triggers``, which is per connection and off by default). So an INSERT that names
an id already in the table is refused first; an UPSERT's ``DO UPDATE`` meets the UPDATE
trigger. PostgreSQL has no REPLACE; its ``ON CONFLICT DO UPDATE`` meets the UPDATE trigger.

What this does not stop: the database role that owns the table can drop the triggers
(or, on PostgreSQL, TRUNCATE, which row triggers do not see). The triggers stop the
application and mistakes; protection from the database's owner needs copies elsewhere.
"""

PRUNE_FLOOR_DAYS = 365
REFUSED = "The audit trail is append-only"

# PRUNE_FLOOR_DAYS and REFUSED are written out in the SQL (tests check they match).
POSTGRESQL_INSTALL = """
CREATE OR REPLACE FUNCTION sites_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM sites_auditprunewindow w
        WHERE OLD."timestamp" < w.before
          AND w.before <= now() - interval '365 days'
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'The audit trail is append-only: % on sites_auditentry refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS sites_auditentry_append_only ON sites_auditentry;
CREATE TRIGGER sites_auditentry_append_only
    BEFORE UPDATE OR DELETE ON sites_auditentry
    FOR EACH ROW EXECUTE FUNCTION sites_auditentry_append_only();
"""

POSTGRESQL_UNINSTALL = """
DROP TRIGGER IF EXISTS sites_auditentry_append_only ON sites_auditentry;
DROP FUNCTION IF EXISTS sites_auditentry_append_only();
"""

# Django keeps SQLite datetimes as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]', which
# compares correctly as text with strftime's output.
SQLITE_INSTALL = [
    """
CREATE TRIGGER IF NOT EXISTS sites_auditentry_no_update
BEFORE UPDATE ON sites_auditentry
BEGIN
    SELECT RAISE(ABORT, 'The audit trail is append-only: UPDATE on sites_auditentry refused');
END
""",
    """
CREATE TRIGGER IF NOT EXISTS sites_auditentry_no_delete
BEFORE DELETE ON sites_auditentry
WHEN NOT EXISTS (
    SELECT 1 FROM sites_auditprunewindow w
    WHERE OLD."timestamp" < w.before
      AND w.before <= strftime('%Y-%m-%d %H:%M:%f', 'now', '-365 days')
)
BEGIN
    SELECT RAISE(ABORT, 'The audit trail is append-only: DELETE on sites_auditentry refused');
END
""",
    """
CREATE TRIGGER IF NOT EXISTS sites_auditentry_no_replace
BEFORE INSERT ON sites_auditentry
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM sites_auditentry WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'The audit trail is append-only: REPLACE on sites_auditentry refused');
END
""",
]

SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS sites_auditentry_no_update",
    "DROP TRIGGER IF EXISTS sites_auditentry_no_delete",
    "DROP TRIGGER IF EXISTS sites_auditentry_no_replace",
]


def install(connection) -> bool:
    """Create the triggers (again) on ``connection``; False on a database without them."""
    return _execute(connection, postgresql=POSTGRESQL_INSTALL, sqlite=SQLITE_INSTALL)


def uninstall(connection) -> None:
    """Drop the triggers from ``connection``; nothing on a database without them."""
    _execute(connection, postgresql=POSTGRESQL_UNINSTALL, sqlite=SQLITE_UNINSTALL)


def _execute(connection, *, postgresql: str, sqlite: list[str]) -> bool:
    """Run the statements for ``connection``'s database; False on a database without them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(postgresql)
        elif connection.vendor == "sqlite":
            for statement in sqlite:
                cursor.execute(statement)
        else:
            return False
    return True
