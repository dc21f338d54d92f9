"""The garbage collector of a worker process (``db_worker``, the RQ worker).

A fleet check makes and drops tens of thousands of small objects a chunk, and Python's
collector, at its defaults, walked the process's whole start-up (modules, settings, URL
patterns, templates: some 107,000 objects, 77 ms a walk) at every full collection: 7–8 % of
a worker's CPU in ``bench_fleet`` (docs/benchmarks.md), 3 % since. What start-up built
lives as long as the process, so it is frozen out of every later collection, as Python's
documentation suggests for a process that forks (RQ's worker forks a work horse per job).
"""

import gc

# Allocations between two young collections (Python's default: 700). Nearly every object
# a check makes is freed by its reference count long before a collection comes; fewer
# collections scan fewer of them, and the cycles they may hold wait a moment longer (a
# worker's peak memory did not grow: 142–145 MiB after 5,000 Sites, against 140).
YOUNG_THRESHOLD = 10_000


def settle_worker_process() -> None:
    """Leave the objects alive now out of every later collection, and collect the young
    generation every ``YOUNG_THRESHOLD`` allocations. Called once, as the worker starts."""
    gc.collect()  # start-up's own garbage is freed, not frozen for good
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
