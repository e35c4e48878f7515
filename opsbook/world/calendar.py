"""The world's calendar: named days (festivals, shopping days) derived from the real dates of the period.

Every part of the model that cares about a festival asks this module for its day index
instead of hard-coding one, so a world that starts on another date or runs longer still
puts 618 on 18 June and the Spring Festival on its lunar date.

    cal = WorldCalendar(date(2025, 1, 1), 182)
    cal.day("618")                  # 168: day index of 18 June 2025 in the period
    cal.window("618", -17, 1)       # (151, 169): the 618 season [1 June, 19 June)
    [f.key for f in cal.festivals]  # the named days inside the period, in date order
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Lunar festivals have no fixed solar date; these are their dates in the years a world may cover.
_LUNAR: dict[str, dict[int, tuple[int, int]]] = {
    "spring_festival": {2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10), 2025: (1, 29),
                        2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3), 2031: (1, 23)},
    "dragon_boat": {2020: (6, 25), 2021: (6, 14), 2022: (6, 3), 2023: (6, 22), 2024: (6, 10), 2025: (5, 31),
                    2026: (6, 19), 2027: (6, 9), 2028: (5, 28), 2029: (6, 16), 2030: (6, 5), 2031: (6, 24)},
    "qixi": {2020: (8, 25), 2021: (8, 14), 2022: (8, 4), 2023: (8, 22), 2024: (8, 10), 2025: (8, 29),
             2026: (8, 19), 2027: (8, 8), 2028: (8, 26), 2029: (8, 16), 2030: (8, 5), 2031: (8, 24)},
    "mid_autumn": {2020: (10, 1), 2021: (9, 21), 2022: (9, 10), 2023: (9, 29), 2024: (9, 17), 2025: (10, 6),
                   2026: (9, 25), 2027: (9, 15), 2028: (10, 3), 2029: (9, 22), 2030: (9, 12), 2031: (10, 1)},
}
# Festivals on a fixed solar date (month, day).
_SOLAR: dict[str, tuple[int, int]] = {
    "new_year": (1, 1),          # 元旦
    "valentines": (2, 14),       # 情人节
    "womens_day": (3, 8),        # 女神节 / 妇女节
    "labour_day": (5, 1),        # 劳动节
    "520": (5, 20),              # 520 (“我爱你”), a shopping and gifting day
    "618": (6, 18),              # 618 mid-year shopping festival
    "national_day": (10, 1),     # 国庆节
    "double_11": (11, 11),       # 双十一
    "double_12": (12, 12),       # 双十二
}
FESTIVAL_KEYS: tuple[str, ...] = ("new_year", "spring_festival", "lantern", "valentines", "womens_day", "labour_day",
                                  "520", "dragon_boat", "618", "qixi", "mid_autumn", "national_day", "double_11",
                                  "double_12")
FIRST_YEAR, LAST_YEAR = min(_LUNAR["spring_festival"]), max(_LUNAR["spring_festival"])


def festival_date(key: str, year: int) -> date:
    """The date of a named day in a given year."""
    if key in _SOLAR:
        return date(year, *_SOLAR[key])
    if key == "lantern":                     # 元宵节: 15th day of the first lunar month
        return festival_date("spring_festival", year) + timedelta(days=14)
    if key not in _LUNAR:
        raise KeyError(f"unknown festival {key!r}; known: {', '.join(FESTIVAL_KEYS)}")
    if year not in _LUNAR[key]:
        raise ValueError(f"no lunar date for {key} in {year}: the calendar covers {FIRST_YEAR}-{LAST_YEAR}")
    return date(year, *_LUNAR[key][year])


@dataclass(frozen=True)
class Festival:
    key: str
    date: date
    day: int          # index in the period (0 = the first day)


class WorldCalendar:
    """Day indexes of the period ``[start, start + days)`` and the named days inside it."""

    def __init__(self, start: date, days: int) -> None:
        if start.year < FIRST_YEAR or (start + timedelta(days=days)).year > LAST_YEAR:
            raise ValueError(f"the calendar covers {FIRST_YEAR}-{LAST_YEAR}; a world from {start} for {days} days "
                             "is outside it")
        self.start, self.days = start, days
        end = start + timedelta(days=days)
        found = []
        for year in range(start.year, end.year + 1):
            for key in FESTIVAL_KEYS:
                d = festival_date(key, year)
                if start <= d < end:
                    found.append(Festival(key, d, (d - start).days))
        self.festivals: tuple[Festival, ...] = tuple(sorted(found, key=lambda f: (f.day, FESTIVAL_KEYS.index(f.key))))

    def date(self, day: int) -> date:
        return self.start + timedelta(days=int(day))

    def day_of(self, d: date) -> int:
        return (d - self.start).days

    def day(self, key: str) -> int:
        """Day index of the first occurrence of a named day inside the period; KeyError when there is none."""
        for f in self.festivals:
            if f.key == key:
                return f.day
        raise KeyError(f"{key} does not fall inside the period {self.start} + {self.days} days")

    def has(self, key: str) -> bool:
        return any(f.key == key for f in self.festivals)

    def window(self, key: str, before: int, after: int) -> tuple[int, int]:
        """``[day + before, day + after)`` around a named day, clipped to the period."""
        d = self.day(key)
        return max(d + before, 0), min(d + after, self.days)

    def festival_on(self, days: np.ndarray) -> np.ndarray:
        """For each day index, the key of the named day on it (None on ordinary days)."""
        import numpy as np  # here, not at the top: the CLI imports this module and stays light
        out = np.full(np.size(days), None, dtype=object)
        for f in self.festivals:
            out[np.asarray(days) == f.day] = f.key
        return out

    def weekday(self, days: np.ndarray | None = None) -> np.ndarray:
        """0 = Monday ... 6 = Sunday for each day index (default: every day of the period), as an array."""
        import numpy as np  # here, not at the top: the CLI imports this module and stays light
        days = np.arange(self.days) if days is None else np.asarray(days)
        first = self.start.weekday()
        return (first + days) % 7

    def in_windows(self, windows: list[tuple[int, int]]) -> np.ndarray:
        """Boolean mask over the period's days: inside any of the ``[lo, hi)`` windows."""
        import numpy as np  # here, not at the top: the CLI imports this module and stays light
        days = np.arange(self.days)
        mask = np.zeros(self.days, bool)
        for lo, hi in windows:
            mask |= (days >= lo) & (days < hi)
        return mask
