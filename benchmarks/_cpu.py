"""A process's CPU over a stretch of its run, measured one way for the bare loop and the
Warehouse's workers alike, so that bench_fleet's ratio compares like with like."""

import resource
import time


def cpu_mark() -> tuple[float, resource.struct_rusage]:
    """Where the stretch starts; give it to ``cpu_since``."""
    return time.process_time(), resource.getrusage(resource.RUSAGE_SELF)


def cpu_since(mark: tuple[float, resource.struct_rusage]) -> dict[str, float]:
    """CPU seconds since ``mark``: in all, in user space and in the kernel."""
    started, usage = mark
    now = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu": time.process_time() - started,
        "user": now.ru_utime - usage.ru_utime,
        "system": now.ru_stime - usage.ru_stime,
    }
