"""Part planning: how a file is cut into S3 multipart parts and shared between lanes.

S3's rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): at most
10,000 parts, each 5 MiB to 5 GiB except the last, which may be smaller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * GiB
# For a stream of unknown length the part size doubles every this many parts, so that a
# stream can grow far beyond MAX_PARTS * base before it runs out of part numbers.
STREAM_DOUBLING = 2_000


class PlanError(ValueError):
    pass


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class PartPlan:
    size: int
    part_size: int
    count: int

    def bounds(self, number: int) -> tuple[int, int]:
        """The inclusive byte range ``(first, last)`` of part ``number`` (1-based)."""
        if not 1 <= number <= self.count:
            raise PlanError(f"part {number} is outside 1..{self.count}")
        first = (number - 1) * self.part_size
        last = min(first + self.part_size, self.size) - 1
        return first, last

    def length(self, number: int) -> int:
        first, last = self.bounds(number)
        return last - first + 1


def plan_parts(size: int, part_size: int) -> PartPlan:
    """Cut ``size`` bytes into parts of about ``part_size``, within S3's limits."""
    if size < 0:
        raise PlanError("size cannot be negative")
    if size > MAX_OBJECT_SIZE:
        raise PlanError(f"{size} bytes is larger than S3's 5 TiB object limit")
    chosen = min(max(part_size, MIN_PART_SIZE), MAX_PART_SIZE)
    if _ceil_div(size, chosen) > MAX_PARTS:
        # Grow the part to the smallest whole MiB that fits in MAX_PARTS parts.
        chosen = _ceil_div(_ceil_div(size, MAX_PARTS), MiB) * MiB
    return PartPlan(size=size, part_size=chosen, count=max(1, _ceil_div(size, chosen)))


def stream_part_size(number: int, base: int) -> int:
    """Part size for part ``number`` of a stream whose length is not known in advance."""
    base = min(max(base, MIN_PART_SIZE), MAX_PART_SIZE)
    return min(base * 2 ** ((number - 1) // STREAM_DOUBLING), MAX_PART_SIZE)


def split_lanes(parts: Sequence[int], lanes: int) -> list[list[int]]:
    """Share ``parts`` between at most ``lanes`` lanes, each a contiguous, near-equal slice."""
    lanes = max(1, min(lanes, len(parts)))
    if not parts:
        return []
    base, extra = divmod(len(parts), lanes)
    out: list[list[int]] = []
    start = 0
    for lane in range(lanes):
        end = start + base + (1 if lane < extra else 0)
        out.append(list(parts[start:end]))
        start = end
    return out


def to_runs(parts: Iterable[int]) -> list[list[int]]:
    """Compress sorted part numbers into inclusive runs: [1,2,3,7] -> [[1,3],[7,7]]."""
    runs: list[list[int]] = []
    for n in parts:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def from_runs(runs: Iterable[Sequence[int]]) -> list[int]:
    out: list[int] = []
    for first, last in runs:
        out.extend(range(first, last + 1))
    return out


def missing_parts(count: int, done: Iterable[int]) -> list[int]:
    done_set = set(done)
    return [n for n in range(1, count + 1) if n not in done_set]
