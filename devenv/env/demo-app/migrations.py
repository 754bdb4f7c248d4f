"""Database access and migrations of the demo app (a stand-in for a real app's migrate commands).

Connection settings come from DATABASE_URL, or libpq's own PG* variables (PGHOST, PGPORT,
PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE). DATABASE_PASSWORD_FILE names a file that holds
only the password (a container secret); it wins over any password given elsewhere.
"""

import json
import os
import re

import psycopg2

APP_DIR = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS_DIR = os.path.join(APP_DIR, "migrations")
LOCK_ID = 7355608  # pg_advisory_lock key: one migrator at a time

with open(os.path.join(APP_DIR, "versions.json"), encoding="utf-8") as f:
    VERSIONS = json.load(f)


class MigrationError(Exception):
    """A migration could not be applied or reversed."""


def connect():
    kwargs = {"connect_timeout": int(os.environ.get("PGCONNECT_TIMEOUT", "5"))}
    password_file = os.environ.get("DATABASE_PASSWORD_FILE")
    if password_file:
        with open(password_file, encoding="utf-8") as f:
            kwargs["password"] = f.read().rstrip("\r\n")
    return psycopg2.connect(os.environ.get("DATABASE_URL", ""), **kwargs)


def version_info(version):
    info = VERSIONS.get(version)
    if info is None:
        raise MigrationError(f"unknown version {version!r} (known: {', '.join(sorted(VERSIONS))})")
    return info


def read_sql(name, direction):
    path = os.path.join(MIGRATIONS_DIR, f"{name}.{direction}.sql")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read()


def ensure_table(conn):
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )


def applied(conn):
    with conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM schema_migrations ORDER BY name")
        return [row[0] for row in cur.fetchall()]


def status(conn, version):
    """Returns (pending, ahead): migrations this version lacks in the database, and
    migrations the database has that this version does not know (it was migrated by a newer one)."""
    ensure_table(conn)
    done = applied(conn)
    wanted = version_info(version)["migrations"]
    return [m for m in wanted if m not in done], [m for m in done if m not in wanted]


def statements(sql):
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


def apply_one(conn, name):
    sql = read_sql(name, "up")
    if sql is None:
        raise MigrationError(f"{name}: no up migration")
    if sql.lstrip().startswith("-- no-transaction"):
        # Each statement commits on its own: a failure leaves the earlier ones applied.
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for stmt in statements(sql):
                    cur.execute(stmt)
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
        finally:
            conn.autocommit = False
        return
    with conn, conn.cursor() as cur:
        cur.execute(sql)
        cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))


def migrate(conn, version, log):
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
    conn.commit()
    try:
        pending, _ = status(conn, version)
        for name in pending:
            log(f"applying {name}")
            try:
                apply_one(conn, name)
            except psycopg2.Error as err:
                conn.rollback()
                raise MigrationError(f"{name} failed: {str(err).strip()}") from err
        return pending
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
        conn.commit()


def migrate_down(conn, version, target, log):
    """Reverses the applied migrations the target version does not have, newest first.
    Checks that every one of them can be reversed before changing anything."""
    return migrate_down_to(conn, version, version_info(target)["migrations"], log)


def migrate_down_to(conn, version, keep, log):
    """Reverses the applied migrations not in `keep` (a migration state printed by
    migration-state), newest first; checks that each can be reversed before changing anything."""
    ensure_table(conn)
    to_reverse = [m for m in reversed(applied(conn)) if m not in keep]
    known = version_info(version)["migrations"]
    for name in to_reverse:
        if name not in known or read_sql(name, "down") is None:
            raise MigrationError(f"{name} cannot be reversed by {version}")
    for name in to_reverse:
        log(f"reversing {name}")
        with conn, conn.cursor() as cur:
            cur.execute(read_sql(name, "down"))
            cur.execute("DELETE FROM schema_migrations WHERE name = %s", (name,))
    return to_reverse
