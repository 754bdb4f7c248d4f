"""Demo app for the appliance tests: one HTTP service over one PostgreSQL table, in versions
v1..v4 that differ in their migrations and health (see versions.json and README.md).

Commands: serve (default), migrate, migrate-status, migration-state, migrate-down <target> |
--to-state-from-stdin, smoke, healthcheck, version.
Exit codes: 0 ok; 1 failure; 2 usage; 10 migrate-status: migrations pending;
11 migrate-status: the database holds migrations this version does not know.
"""

import json
import os
import signal
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

import migrations as m

VERSION = os.environ.get("APP_VERSION", "v1")
PORT = int(os.environ.get("PORT", "8080"))


def log(message):
    print(message, file=sys.stderr, flush=True)


def health():
    """Returns (http_status, body) for /healthz; smoke uses it too."""
    if not m.version_info(VERSION)["healthy"]:
        return 500, {"status": "failing", "version": VERSION, "reason": "this version is built to fail"}
    try:
        conn = m.connect()
    except psycopg2.Error as err:
        return 503, {"status": "failing", "version": VERSION, "reason": f"database: {str(err).strip()}"}
    try:
        pending, _ = m.status(conn, VERSION)
    finally:
        conn.close()
    if pending:
        return 503, {"status": "failing", "version": VERSION, "reason": "migrations pending", "pending": pending}
    return 200, {"status": "ok", "version": VERSION}


def banner():
    """The DEMO_BANNER setting, shown on / when set (a clone sets it: see apps/demo/app.yml clone)."""
    text = os.environ.get("DEMO_BANNER", "")
    return {"banner": text} if text else {}


def count_rows(cur):
    cur.execute("SELECT count(*) FROM items")
    return cur.fetchone()[0]


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def with_db(self, work):
        try:
            conn = m.connect()
            try:
                with conn, conn.cursor() as cur:
                    self.reply(*work(cur))
            finally:
                conn.close()
        except psycopg2.Error as err:
            self.reply(500, {"error": str(err).strip(), "version": VERSION})

    def do_GET(self):
        if self.path == "/healthz":
            self.reply(*health())
        elif self.path == "/":
            self.with_db(lambda cur: (200, {"version": VERSION, "rows": count_rows(cur), **banner()}))
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/rows":
            self.reply(404, {"error": "not found"})
            return

        def insert(cur):
            cur.execute("INSERT INTO items DEFAULT VALUES RETURNING id")
            row_id = cur.fetchone()[0]
            return 201, {"id": row_id, "version": VERSION, "rows": count_rows(cur)}

        self.with_db(insert)

    def log_message(self, format, *args):
        log(f"{self.address_string()} {format % args}")


def serve():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    # As PID 1 a process gets no default SIGTERM action: stop on it explicitly.
    stop = lambda *_: threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"demo {VERSION} listening on :{PORT}")
    server.serve_forever()
    log("stopped")
    return 0


def migrate_status():
    conn = m.connect()
    try:
        pending, ahead = m.status(conn, VERSION)
    finally:
        conn.close()
    if pending:
        print("pending:\n" + "\n".join(pending))
        return 10
    if ahead:
        print("ahead:\n" + "\n".join(ahead))
        return 11
    print("up-to-date")
    return 0


def migrate():
    conn = m.connect()
    try:
        done = m.migrate(conn, VERSION, log)
    finally:
        conn.close()
    print("applied:\n" + "\n".join(done) if done else "nothing to apply")
    return 0


def migrate_down(target):
    conn = m.connect()
    try:
        if target == "--to-state-from-stdin":
            keep = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
            done = m.migrate_down_to(conn, VERSION, keep, log)
        else:
            done = m.migrate_down(conn, VERSION, target, log)
    finally:
        conn.close()
    print("reversed:\n" + "\n".join(done) if done else "nothing to reverse")
    return 0


def migration_state():
    """This version's migration target state: its migrations, one per line (no database needed)."""
    print("\n".join(m.version_info(VERSION)["migrations"]))
    return 0


def smoke():
    status, body = health()
    if status != 200:
        print(f"smoke failed: {body.get('reason')}")
        return 1
    conn = m.connect()
    try:
        with conn.cursor() as cur:
            before = count_rows(cur)
            cur.execute("INSERT INTO items DEFAULT VALUES")
            if count_rows(cur) != before + 1:
                print("smoke failed: insert not visible")
                return 1
        conn.rollback()
    finally:
        conn.close()
    print("smoke ok")
    return 0


def healthcheck():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=3) as res:
            return 0 if res.status == 200 else 1
    except OSError:
        return 1


def main(argv):
    command = argv[0] if argv else "serve"
    if command == "migrate-down":
        if len(argv) != 2:
            print("usage: migrate-down <target version> | --to-state-from-stdin", file=sys.stderr)
            return 2
        return migrate_down(argv[1])
    commands = {
        "serve": serve,
        "migrate": migrate,
        "migrate-status": migrate_status,
        "smoke": smoke,
        "healthcheck": healthcheck,
        "migration-state": migration_state,
        "version": lambda: print(VERSION) or 0,
    }
    if command not in commands or len(argv) > 1:
        print(f"usage: {' | '.join(commands)} | migrate-down <target>", file=sys.stderr)
        return 2
    return commands[command]()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (m.MigrationError, psycopg2.Error) as err:
        print(f"error: {str(err).strip()}", file=sys.stderr)
        sys.exit(1)
