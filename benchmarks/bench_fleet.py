"""A bulk check of 1,000 Sites against the fake Xero (100 ms latency, its limits on).

Run: .venv/bin/python -m benchmarks.bench_fleet [--sites 1000] [--latency 0.1] [--cap 20]
(on PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test before it)

The Sites are queued by ``fleet_checks_enqueue`` exactly as ``xero_check_fleet`` does, and
run by a real ``manage.py db_worker --batch`` process; the fake Xero runs in a process of
its own, so neither steals the worker's CPU. Wall time is the task's own, from the
database backend's started/finished times; the ideal is sites / cap x latency.
"""

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import time

from benchmarks._fleet_data import build_fleet, throwaway_database


def serve_fake_xero(latency, keys, certificate_pem, connection):
    from xero.sandbox import FakeXero

    with FakeXero(port=0, latency=latency, enforce_limits=True) as fake:
        for key in keys:
            fake.register_private_app(key, certificate_pem, payroll_enabled=False)
        connection.send(fake.port)
        connection.recv()  # until the run is over
        connection.send(
            {
                "calls": len(fake.calls),
                "refused": sum(call.status == 429 for call in fake.calls),
                "max_concurrent": fake.max_concurrent,
                "max_per_organisation": max(
                    fake.max_concurrent_per_organisation.values(), default=0
                ),
            }
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cap", type=int, default=20)
    args = parser.parse_args(argv)

    with throwaway_database() as database_url:
        from django.conf import settings
        from django.db import connection
        from django.db.models import Count
        from django_tasks_db.models import DBTaskResult

        from xero.fleet import fleet_checks_enqueue
        from xero.models import Certificate, ConnectionTest

        started = time.perf_counter()
        keys = build_fleet(sites=args.sites)
        print(f"built {args.sites} Sites in {time.perf_counter() - started:.1f} s")
        # Some certificates are in their last 60 days: the alerts go to this Admin.
        from django.contrib.auth.models import Group, User

        admin = User.objects.create_user("bench-admin", email="admin@example.com")
        admin.groups.add(Group.objects.get(name="Admins"))
        certificate_pem = Certificate.objects.values_list("certificate_pem", flat=True).first()
        ours, theirs = multiprocessing.Pipe()
        fake = multiprocessing.Process(
            target=serve_fake_xero, args=(args.latency, keys, certificate_pem, theirs)
        )
        fake.start()
        url = f"http://127.0.0.1:{ours.recv()}"
        fleet_checks_enqueue()
        connection.close()  # SQLite: let the worker have the database to itself
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "XERO_MAX_CONCURRENT_CALLS": str(args.cap),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "XERO_API_URL": f"{url}/api.xro/2.0/",
            "XERO_PAYROLL_URL": f"{url}/payroll.xro/1.0/",
            "XERO_IDENTITY_URL": f"{url}/connect/token",
            "XERO_CONNECTIONS_URL": f"{url}/connections",
        }
        command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay",
                   "--no-reload", "--verbosity", "0"]  # fmt: skip
        subprocess.run(command, env=environment, check=True)
        worker_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ours.send("done")
        server = ours.recv()
        fake.join()

        task = DBTaskResult.objects.get()
        wall = (task.finished_at - task.started_at).total_seconds()
        ideal = args.sites / args.cap * args.latency
        outcomes = dict(
            ConnectionTest.objects.values_list("outcome").annotate(n=Count("pk")).order_by()
        )
        print(f"database: {connection.vendor}; task status {task.status}: {task.return_value}")
        print(f"outcomes recorded: {outcomes}")
        print(f"fake Xero: {server}")
        print(f"wall time: {wall:.2f} s; ideal {ideal:.2f} s; ratio {wall / ideal:.2f}")
        print(f"worker peak memory (max RSS): {worker_peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
