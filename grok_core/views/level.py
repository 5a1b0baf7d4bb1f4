"""How far a 0-1 measure of the step has come: the three levels every view's text follows.

The texts follow the step's own numbers (how much of a wave one frequency carries, how much of a
surface depends on x + y alone, ...), not the phase alone (see DESIGN.md).
"""

from __future__ import annotations

from enum import IntEnum

CUTS = (0.3, 0.8)  # below the first: low; below the second: mid; else high


class Level(IntEnum):
    LOW = 0
    MID = 1
    HIGH = 2


def level(value: float, cuts: tuple[float, float] = CUTS) -> Level:
    return Level.LOW if value < cuts[0] else Level.MID if value < cuts[1] else Level.HIGH
