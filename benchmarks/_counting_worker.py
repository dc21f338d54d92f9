"""``manage.py db_worker --batch`` with the figures bench_fleet needs: every SQL statement
counted (each thread's connection too), the CPU (user and system) and the peak memory of
the process, the CPU its garbage collector took, and with ``--profile FILE`` a cProfile of
the run. Prints them as JSON on its last line."""

import collections
import cProfile
import gc
import itertools
import json
import os
import resource
import sys
import threading
import time

from benchmarks._cpu import cpu_mark, cpu_since

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warehouse.settings")


def main():
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.backends.signals import connection_created

    statements = 0
    kinds = collections.Counter()
    lock = threading.Lock()

    def count(execute, sql, params, many, context):
        nonlocal statements
        # Counted by the text as it is: shortening it here cost the Warehouse's CPU figure
        # a split of every statement.
        with lock:
            statements += 1
            kinds[sql] += 1
        return execute(sql, params, many, context)

    def on_connection(sender, connection, **kwargs):
        # Sent at every (re)connection of the same wrapper: count once.
        if count not in connection.execute_wrappers:
            connection.execute_wrappers.append(count)

    connection_created.connect(on_connection, weak=False)
    profile_to = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
    profiler = cProfile.Profile(time.thread_time) if profile_to else None
    if profiler:
        # cProfile sees one thread: give each fleet thread a profiler of its own too.
        run, threads_seen = threading.Thread.run, itertools.count()

        def profiled_run(self):
            thread_profiler = cProfile.Profile(time.thread_time)
            thread_profiler.enable()
            try:
                run(self)
            finally:
                thread_profiler.disable()
                thread_profiler.dump_stats(f"{profile_to}.thread-{next(threads_seen)}")

        threading.Thread.run = profiled_run
    collector = _CollectorClock()
    gc.callbacks.append(collector)
    cpu = cpu_mark()
    if profiler:
        profiler.enable()
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--verbosity", "0")
    from xero import pool

    pool.shared.stop()  # its threads end, and write their profiles
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)
    spent = cpu_since(cpu)
    gc.callbacks.remove(collector)
    shortened = collections.Counter()
    for sql, n in kinds.items():
        shortened[" ".join(sql.split()[:6])[:90]] += n
    print(
        json.dumps(
            {
                "statements": statements,
                **spent,
                "gc": collector.seconds,
                "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "kinds": shortened.most_common(12),
            }
        )
    )


class _CollectorClock:
    """The CPU seconds the cyclic garbage collector takes, in whichever thread it runs."""

    def __init__(self):
        self.seconds = 0.0
        self.started = threading.local()

    def __call__(self, phase, info):
        if phase == "start":
            self.started.at = time.thread_time()
        elif hasattr(self.started, "at"):
            self.seconds += time.thread_time() - self.started.at


if __name__ == "__main__":
    main()
