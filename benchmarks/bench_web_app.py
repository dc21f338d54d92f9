"""1,000 "Connect to Xero" Sites sharing 50 token sets, every token expired, in one fleet batch.

Run: .venv/bin/python -m benchmarks.bench_web_app [--sites 1000] [--token-sets 50]
     [--latency 0.1] [--cap 20]
(on PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test before it)

The fake Xero runs in a process of its own: 50 Xero users each consent once (through its
consent page and code exchange, with PKCE) to 20 organisations, then every access token is
expired. The Warehouse's Sites are bound to those organisations and queued by
``fleet_checks_enqueue``, and a real ``manage.py db_worker --batch`` runs them. Each token
set must be refreshed exactly once, however many Sites share it and however many threads
test them at once. Wall time is the task's own; the ideal is every call to Xero (two per
Site, one refresh per token set) spread over ``cap`` slots of ``latency`` seconds each.
``--fresh`` runs the same fleet with tokens that have not expired, so the cost of the
refreshes (and of the lock) is the difference between the two runs.
"""

import argparse
import datetime
import multiprocessing
import re
import subprocess
import sys

from benchmarks._fleet_data import throwaway_database, worker_environment

CLIENT_ID = "BENCHWEBAPP0000000000000000000000"
CLIENT_SECRET = "bench-web-app-secret"  # noqa: S105 - the fake Xero's, for this run only
REDIRECT_URI = "http://127.0.0.1:9/xero/callback/"


def serve_fake_xero(latency, users, per_user, fresh, connection):
    import requests

    from xero.sandbox import FakeXero
    from xero.sandbox.webapp import s256

    with FakeXero(port=0) as fake:
        fake.register_web_app(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
        consents = []
        for number in range(users):
            fake.sign_in(f"bookkeeper{number}@example.com", "Book", f"Keeper {number}")
            organisations = [
                fake.add_user_organisation(f"Customer {number:02}-{n:03} Pty Ltd")
                for n in range(per_user)
            ]
            verifier = "v" * 60
            page = requests.get(
                fake.authorize_url,
                params={
                    "response_type": "code",
                    "client_id": CLIENT_ID,
                    "redirect_uri": REDIRECT_URI,
                    "scope": "offline_access openid profile email accounting.settings.read",
                    "state": "s",
                    "code_challenge": s256(verifier),
                    "code_challenge_method": "S256",
                },
                timeout=5,
            )
            request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
            form = [("request", request_id), ("decision", "allow")]
            form += [("tenant", o.tenant_id) for o in organisations]
            redirect = requests.post(
                fake.authorize_url, data=form, allow_redirects=False, timeout=5
            )
            code = re.search(r"code=([^&]+)", redirect.headers["Location"]).group(1)
            tokens = requests.post(
                fake.identity_url,
                auth=(CLIENT_ID, CLIENT_SECRET),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                },
                timeout=5,
            ).json()
            rows = fake.web_connections(CLIENT_ID)
            consents.append(
                {
                    "tokens": tokens,
                    "email": f"bookkeeper{number}@example.com",
                    "tenants": [
                        (row.id, row.organisation.tenant_id, row.organisation.Name) for row in rows
                    ],
                }
            )
        if not fresh:
            fake.expire_tokens()
        fake.latency = latency
        before = len(fake.calls)
        connection.send((fake.port, consents))
        connection.recv()  # until the run is over
        connection.send({"refreshes": fake.refresh_count, "calls": len(fake.calls) - before})


def store(consents, sites: int, fresh: bool):
    """Token sets (expired unless ``fresh``) and Sites bound to their organisations, in bulk."""
    from django.utils import timezone

    from sites.models import Site
    from xero.models import TenantBinding, TokenSet
    from xero.web_app import jwt_claims

    expires = timezone.now() + datetime.timedelta(minutes=25 if fresh else -5)
    token_sets = [
        TokenSet(
            xero_user_id=jwt_claims(consent["tokens"]["access_token"])["xero_userid"],
            xero_user_email=consent["email"],
            scopes=consent["tokens"]["scope"],
            access_token=consent["tokens"]["access_token"],
            access_token_expires_at=expires,
            refresh_token=consent["tokens"]["refresh_token"],
            refresh_token_issued_at=timezone.now(),
        )
        for consent in consents
    ]
    TokenSet.objects.bulk_create(token_sets)
    token_sets = list(TokenSet.objects.order_by("pk"))
    tenants = [
        (token_set, tenant)
        for token_set, consent in zip(token_sets, consents, strict=True)
        for tenant in consent["tenants"]
    ][:sites]
    Site.objects.bulk_create(
        Site(
            name=name,
            code=f"web-{number:05}",
            connection_type=Site.ConnectionType.WEB_APP,
            payroll_enabled=False,
        )
        for number, (_, (_, _, name)) in enumerate(tenants)
    )
    site_ids = list(Site.objects.order_by("pk").values_list("pk", flat=True))
    TenantBinding.objects.bulk_create(
        TenantBinding(
            site_id=site_id,
            token_set=token_set,
            tenant_id=tenant_id,
            tenant_name=name,
            connection_id=connection_id,
        )
        for site_id, (token_set, (connection_id, tenant_id, name)) in zip(
            site_ids, tenants, strict=True
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--token-sets", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cap", type=int, default=20)
    parser.add_argument(
        "--fresh", action="store_true", help="tokens not expired: the same run without refreshes"
    )
    args = parser.parse_args(argv)
    per_user = -(-args.sites // args.token_sets)

    with throwaway_database() as database_url:
        from django.db import connection
        from django.db.models import Count
        from django_tasks_db.models import DBTaskResult

        from xero.models import ConnectionTest, TokenSet
        from xero.tasks import fleet_checks_enqueue

        ours, theirs = multiprocessing.Pipe()
        fake = multiprocessing.Process(
            target=serve_fake_xero,
            args=(args.latency, args.token_sets, per_user, args.fresh, theirs),
        )
        fake.start()
        port, consents = ours.recv()
        url = f"http://127.0.0.1:{port}"
        store(consents, args.sites, args.fresh)
        fleet_checks_enqueue()
        connection.close()  # SQLite: let the worker have the database to itself
        environment = worker_environment(
            database_url=database_url,
            fake_url=url,
            cap=args.cap,
            XERO_APP_CLIENT_ID=CLIENT_ID,
            XERO_APP_CLIENT_SECRET=CLIENT_SECRET,
        )
        command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay",
                   "--no-reload", "--verbosity", "0"]  # fmt: skip
        subprocess.run(command, env=environment, check=True)
        ours.send("done")
        server = ours.recv()
        fake.join()

        tasks = list(DBTaskResult.objects.all())
        wall = (
            max(t.finished_at for t in tasks) - min(t.started_at for t in tasks)
        ).total_seconds()
        calls = 2 * args.sites + (0 if args.fresh else args.token_sets)
        ideal = calls / args.cap * args.latency
        outcomes = dict(
            ConnectionTest.objects.values_list("outcome").annotate(n=Count("pk")).order_by()
        )
        refreshed = TokenSet.objects.filter(last_refreshed_at__isnull=False).count()
        print(f"database: {connection.vendor}; {args.sites} Sites, {args.token_sets} token sets")
        print(f"outcomes recorded: {outcomes}")
        expected = 0 if args.fresh else args.token_sets
        print(f"refreshes seen by the fake Xero: {server['refreshes']} (one per token set: "
              f"{expected}); token sets refreshed: {refreshed}")  # fmt: skip
        print(f"calls to the fake Xero: {server['calls']} (ideal {calls})")
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"wall time: {wall:.2f} s; ideal {ideal:.2f} s; ratio {wall / ideal:.2f}; {load}")


if __name__ == "__main__":
    main()
