# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Running one task per field, in this process or on a Dask cluster (cutting, detection)."""

__all__ = ["DASK_TASK_MIN_OBJECTS"]

#: On a Dask cluster, a field with more objects than this and than 1/(2 x worker threads)
#: of all objects is cut as several tasks (each decompresses the field's frames again, about
#: 1 s per frame against about 80 ms per object in five bands), so that one crowded field
#: does not hold the run back. One process cuts each field as one task.
DASK_TASK_MIN_OBJECTS = 500


def _task_limit(total, client):
    """The most objects of one field in one task: unlimited without ``client``."""
    if client is None:
        return max(1, total)
    threads = max(1, sum(client.nthreads().values()))
    return max(DASK_TASK_MIN_OBJECTS, -(-total // (2 * threads)))


def _run_fields(func, tasks, client=None, *, window=None):
    """``(key, func(*args))`` for each ``(key, args)`` of ``tasks``: in this process, in
    order, or with a `dask.distributed` ``client`` one task per field on its workers, yielded
    as they complete, with at most ``window`` (default twice the number of worker threads)
    results held at a time, so that a catalogue larger than memory streams through."""
    if client is None:
        for key, args in tasks:
            yield key, func(*args)
        return
    from distributed import as_completed

    if window is None:
        window = 2 * max(1, sum(client.nthreads().values()))
    tasks = iter(tasks)
    keys = {}

    def submit():
        for key, args in tasks:
            future = client.submit(func, *args, pure=False)
            keys[future.key] = key
            return future
        return None

    running = as_completed([f for f in (submit() for _ in range(window)) if f is not None])
    for future in running:
        result = future.result()
        key = keys.pop(future.key)
        future.release()
        following = submit()
        if following is not None:
            running.add(following)
        yield key, result
