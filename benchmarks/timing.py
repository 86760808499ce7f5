"""Wall-clock timing shared by the benchmarks in this folder."""
import time


def wall_times(fn, repeats, warmup=2):
    """Seconds taken by each of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times
