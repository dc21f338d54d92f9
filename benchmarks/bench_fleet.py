"""A bulk check of 1,000 Sites against the fake Xero (100 ms latency, its limits on).

Run: .venv/bin/python -m benchmarks.bench_fleet [--sites 1000] [--latency 0.1] [--cap 20]
     [--workers 1,2] [--no-anchor] [--profile] [--statements] [--repeat 1]
(on PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/h14 before it; the
benchmark works in a throwaway test_<name> database beside it)

Prints, in one run:

- the ideal: Sites / cap x latency;
- the anchor: the same number of signed GET Organisation calls by a bare loop of
  requests-oauthlib sessions in ``cap`` threads, no database and no Django
  (``benchmarks/_bare_loop.py``), against the same fake Xero;
- the recording loop: the bare loop that also keeps the record the Warehouse keeps (a
  chunk's lease and running rows, a call slot, the fenced result and the API stamp), in
  plain DB-API statements on the same database: what those promises cost with no
  framework, so the floor under the Warehouse's CPU;
- the Warehouse: the Sites queued by ``fleet_checks_enqueue`` exactly as
  ``xero_check_fleet`` does, run by one, then by two real ``db_worker --batch`` processes
  started together (``benchmarks/_counting_worker.py``), with the CPU seconds (user,
  system, and the garbage collector's share), the SQL statements per Site (every
  statement of the workers, their task bookkeeping included) and each worker's peak memory;
- with ``--repeat N``, N rounds of the anchor then the Warehouse, and the median of the
  rounds' CPU ratios: on a machine shared with others, one round's CPU figures vary by a
  fifth either way, the anchor's as much as the Warehouse's.

The fake Xero runs in a process of its own (a fresh one per run) and counts what the
limits are about: 429s, calls at once overall and per organisation. Wall time is the
workers' own, from the first task started to the last finished (the database backend's
times), so process start-up is left out as it is for the anchor.
"""

import argparse
import json
import multiprocessing
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._fleet_data import build_fleet, throwaway_database, worker_environment


def serve_fake_xero(latency, keys, certificate_pem, connection):
    from xero.sandbox import FakeXero
    from xero.sandbox.bodies import Organisation

    with FakeXero(port=0, latency=latency, enforce_limits=True) as fake:
        for number, key in enumerate(keys):
            # The names the Sites already have: an hourly check where nothing changed.
            fake.register_private_app(
                key,
                certificate_pem,
                organisation=Organisation(Name=f"Organisation {number:05} Pty Ltd"),
                payroll_enabled=False,
            )
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


class FakeXeroProcess:
    def __init__(self, latency, keys, certificate_pem):
        self.ours, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=serve_fake_xero, args=(latency, keys, certificate_pem, theirs)
        )

    def __enter__(self):
        self.process.start()
        self.url = f"http://127.0.0.1:{self.ours.recv()}"
        return self

    def counts(self) -> dict:
        self.ours.send("done")
        counts = self.ours.recv()
        self.process.join()
        return counts

    def __exit__(self, *exc_info):
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_anchor(*, url, keys, private_key_pem, threads, record=None) -> dict:
    job = {
        "url": f"{url}/api.xro/2.0/Organisation",
        "keys": keys,
        "private_key_pem": private_key_pem,
        "threads": threads,
        "record": record,
    }
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks._bare_loop"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def run_warehouse(*, workers, url, database_url, args, profile_folder=None) -> dict:
    from django.db import connection
    from django.db.models import Count, Max, Min
    from django_tasks_db.models import DBTaskResult

    from xero.models import Alert, CallSlot, ConnectionTest
    from xero.tasks import fleet_checks_enqueue

    # Each run starts from the same state: no history, no alerts told, no slots held.
    for model in (ConnectionTest, Alert, CallSlot, DBTaskResult):
        model.objects.all().delete()
    enqueued = fleet_checks_enqueue()
    connection.close()  # SQLite: let the workers have the database to themselves
    environment = worker_environment(
        database_url=database_url, fake_url=url, cap=args.cap, XERO_TEST_COOLDOWN="0"
    )
    processes = []
    for number in range(workers):
        command = [sys.executable, "-m", "benchmarks._counting_worker"]
        if profile_folder:
            command += ["--profile", os.path.join(profile_folder, f"worker-{number}.prof")]
        processes.append(
            subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True)
        )
    reports = []
    for process in processes:
        out, _ = process.communicate()
        assert process.returncode == 0, f"a worker failed ({process.returncode})"
        reports.append(json.loads(out.strip().splitlines()[-1]))
    span = DBTaskResult.objects.aggregate(start=Min("started_at"), end=Max("finished_at"))
    statuses = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("pk")).order_by())
    outcomes = dict(
        ConnectionTest.objects.values_list("outcome").annotate(n=Count("pk")).order_by()
    )
    began = ConnectionTest.objects.aggregate(first=Min("started_at"), last=Max("started_at"))
    return {
        "wall": (span["end"] - span["start"]).total_seconds(),
        "ramp": (began["first"] - span["start"]).total_seconds(),
        "tail": (span["end"] - began["last"]).total_seconds(),
        "chunks": len(enqueued.chunks),
        "tasks": statuses,
        "outcomes": outcomes,
        "cpu": sum(report["cpu"] for report in reports),
        "user": sum(report["user"] for report in reports),
        "system": sum(report["system"] for report in reports),
        "statements": sum(report["statements"] for report in reports),
        "peak_mib": [round(report["maxrss_mib"]) for report in reports],
        "alerts": Alert.objects.count(),
        "kinds": reports[0]["kinds"],
        "gc": sum(report["gc"] for report in reports),
    }


def print_profile(folder, limit=25):
    files = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    stats = pstats.Stats(*files, stream=sys.stdout)
    stats.files = []  # one header, not one per thread
    print("  profile of the workers, every thread (cProfile, CPU time), by own time:")
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats("xero|requests|oauthlib", limit)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cap", type=int, default=20)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2 or 2")
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the workers' CPU path")
    parser.add_argument("--statements", action="store_true", help="the commonest SQL statements")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of anchor then Warehouse, and the median CPU ratio over them",
    )
    args = parser.parse_args(argv)

    with throwaway_database() as database_url:
        from django.contrib.auth.models import Group, User
        from django.db import connection

        from xero.models import Certificate

        print(f"machine: {os.cpu_count()} cores; {uptime()}")
        started = time.perf_counter()
        keys = build_fleet(sites=args.sites)
        print(f"database: {connection.vendor}; built {args.sites} Sites in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        # Some certificates are in their last 60 days: the alerts go to this Admin.
        admin = User.objects.create_user("bench-admin", email="admin@example.com")
        admin.groups.add(Group.objects.get(name="Admins"))
        certificate = Certificate.objects.first()
        print(f"ideal: {args.sites} / {args.cap} x {args.latency} s = {ideal_seconds(args):.2f} s")

        # (what, against what) -> each round's CPU ratio
        cpu_ratios: dict[tuple[str, str], list[float]] = {}
        for round_number in range(1, args.repeat + 1):
            if args.repeat > 1:
                print(f"round {round_number} of {args.repeat}")
            anchor = recording = None
            if not args.no_anchor:
                anchor = check_anchor(args, keys, certificate)
                recording = check_anchor(
                    args, keys, certificate, record=record_location(database_url)
                )
                cpu_ratios.setdefault(("the recording loop", "the bare loop's"), []).append(
                    recording["cpu"] / anchor["cpu"]
                )
            for workers in [int(n) for n in args.workers.split(",")]:
                run = check_warehouse(
                    args, keys, certificate, database_url, workers, anchor, recording
                )
                if anchor:
                    label = f"{workers} worker{'s' * (workers != 1)}"
                    cpu_ratios.setdefault((label, "the bare loop's"), []).append(
                        run["cpu"] / anchor["cpu"]
                    )
                    cpu_ratios.setdefault((label, "the recording loop's"), []).append(
                        run["cpu"] / recording["cpu"]
                    )
        if args.repeat > 1:
            for (label, against), ratios in cpu_ratios.items():
                print(
                    f"CPU per Site, median of {len(ratios)} rounds: "
                    f"{statistics.median(ratios):.2f} × {against} ({label}; each round "
                    f"{', '.join(f'{ratio:.2f}' for ratio in ratios)}; {uptime()})"
                )


def ideal_seconds(args) -> float:
    """The ideal: every Site's call made in ``cap`` lanes, each call taking the latency."""
    return args.sites / args.cap * args.latency


def record_location(database_url: str) -> dict:
    """Where the recording loop keeps its record: the benchmark's own database."""
    if database_url.startswith("sqlite:///"):
        return {"sqlite": database_url.removeprefix("sqlite:///")}
    return {"postgresql": database_url}


def check_anchor(args, keys, certificate, *, record: dict | None = None) -> dict:
    with FakeXeroProcess(args.latency, keys, certificate.certificate_pem) as fake:
        anchor = run_anchor(
            url=fake.url,
            keys=keys,
            private_key_pem=certificate.private_key_pem,
            threads=args.cap,
            record=record,
        )
        counts = fake.counts()
    if record:
        expected = {"result": len(keys), "queue": 0}
        assert anchor["recorded"] == expected, f"the record was not kept: {anchor['recorded']}"
    which = "recording loop (the bare loop keeping the record" if record else "anchor (bare loop"
    print(
        f"{which}, {args.cap} threads): "
        f"{anchor['wall']:.2f} s, {anchor['ok']} ok, "
        f"{anchor['cpu'] / args.sites * 1000:.2f} ms CPU per Site ({anchor['user']:.1f} s "
        f"user, {anchor['system']:.1f} s system); ratio to the ideal "
        f"{anchor['wall'] / ideal_seconds(args):.2f}; fake Xero: {counts}; {uptime()}"
    )
    return anchor


def check_warehouse(args, keys, certificate, database_url, workers, anchor, recording) -> dict:
    with (
        FakeXeroProcess(args.latency, keys, certificate.certificate_pem) as fake,
        tempfile.TemporaryDirectory() as profile_folder,
    ):
        run = run_warehouse(
            workers=workers,
            url=fake.url,
            database_url=database_url,
            args=args,
            profile_folder=profile_folder if args.profile else None,
        )
        counts = fake.counts()
        if args.profile:
            print_profile(profile_folder)
    ideal = ideal_seconds(args)
    versus = f"; Warehouse / bare loop {run['wall'] / anchor['wall']:.2f}" if anchor else ""
    print(
        f"Warehouse, {workers} worker{'s' * (workers != 1)}: {run['wall']:.2f} s; "
        f"Warehouse / ideal {run['wall'] / ideal:.2f}{versus}\n"
        f"  first test {run['ramp']:.2f} s after the first task began; last task ended "
        f"{run['tail']:.2f} s after the last test began\n"
        f"  {run['chunks']} chunks, tasks {run['tasks']}, outcomes {run['outcomes']}, "
        f"{run['alerts']} alerts sent\n"
        f"  CPU {run['cpu'] / args.sites * 1000:.2f} ms per Site "
        f"({run['cpu']:.1f} s over the workers: {run['user']:.1f} s user, "
        f"{run['system']:.1f} s system, {run['gc']:.2f} s of it garbage collection); "
        f"{run['statements'] / args.sites:.2f} SQL statements per Site; "
        f"peak memory per worker {run['peak_mib']} MiB\n"
        f"  fake Xero: {counts}; {uptime()}"
    )
    if anchor:
        # The CPU goal is read off this line, not computed from the two above.
        site_cpu, anchor_cpu = run["cpu"] / args.sites, anchor["cpu"] / args.sites
        recording_cpu = recording["cpu"] / args.sites
        print(
            f"CPU per Site: {site_cpu * 1000:.2f} ms = {site_cpu / anchor_cpu:.2f} × "
            f"the bare loop's {anchor_cpu * 1000:.2f} ms, {site_cpu / recording_cpu:.2f} × "
            f"the recording loop's {recording_cpu * 1000:.2f} ms (itself "
            f"{recording_cpu / anchor_cpu:.2f} × the bare loop's; {workers} "
            f"worker{'s' * (workers != 1)}; {uptime()})"
        )
    if args.statements:
        print("  most frequent statements of the first worker:")
        for sql, count in run["kinds"]:
            print(f"    {count:6}  {sql}")
    return run


if __name__ == "__main__":
    main()
