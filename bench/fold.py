"""Summarise a py-spy raw (folded) profile by function: inclusive and self shares.

    python3 bench/fold.py PROFILE.folded [TOP]

py-spy's folded lines are ``frame;frame;...;frame COUNT`` with ``function (file:line)``
frames; lines are merged per function so that a function's time is one row.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

_LINE = re.compile(r":\d+\)$")


def summarise(path: str, top: int) -> list[str]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            total += n
            frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    out = [f"{total} samples; inclusive %, self %, function (file)"]
    for frame, n in inclusive.most_common(top):
        out.append(f"{100 * n / total:5.1f} {100 * own[frame] / total:5.1f}  {frame}")
    return out


if __name__ == "__main__":
    print("\n".join(summarise(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 45)))
