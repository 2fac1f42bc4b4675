"""How the benchmark's profilers print what cProfile saw."""

from __future__ import annotations

import cProfile
import pstats

LINES = 30


def print_profile(profiler: cProfile.Profile, lines: int = LINES) -> None:
    """Print the functions that took longest, counting callees and then not."""
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(lines)
    stats.sort_stats("tottime").print_stats(lines)
