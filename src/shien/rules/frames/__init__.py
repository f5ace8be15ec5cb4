"""One rule function per grant frame, keyed `program/frame`."""

from __future__ import annotations

from collections.abc import Callable

from shien.rules.frames import it_donyu, jigyo_shokei, jizokuka, monozukuri, shoryokuka
from shien.rules.frames.base import Context, Outcome
from shien.rules.registry import Frame

Rule = Callable[[Context, Frame], Outcome]

RULES: dict[str, Rule] = {
    **{f"monozukuri/{f}": monozukuri.evaluate for f in ("shoryokuka", "kofukakachi", "seicho", "global")},
    **{f"jizokuka/{f}": jizokuka.evaluate for f in ("tsujo", "chingin", "sotsugyo", "kokeisha", "sogyo")},
    **{f"it_donyu/{f}": rule for f, rule in it_donyu.RULES.items()},
    "shoryokuka/catalog": shoryokuka.evaluate,
    **{f"jigyo_shokei/{f}": jigyo_shokei.evaluate for f in ("keiei_kakushin", "senmonka", "haigyo")},
}
