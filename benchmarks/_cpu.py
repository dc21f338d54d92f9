"""A process's CPU over a stretch of its run, measured one way for the bare loop and the
Warehouse's workers alike, so that bench_fleet's ratio compares like with like."""

import resource


def cpu_mark() -> resource.struct_rusage:
    """Where the stretch starts; give it to ``cpu_since``."""
    return resource.getrusage(resource.RUSAGE_SELF)


def cpu_since(mark: resource.struct_rusage) -> dict[str, float]:
    """CPU seconds since ``mark``: in user space, in the kernel, and in all."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    user, system = now.ru_utime - mark.ru_utime, now.ru_stime - mark.ru_stime
    return {"cpu": user + system, "user": user, "system": system}
