"""Locale packs: every word of the world that is not a code, one data module per locale.

A pack is one dict literal named ``PACK`` in ``<locale>.py`` (``en_US.py``, ``zh_CN.py``):
names by gender, cities, topic words, title and review phrase banks with ``{slots}``,
campaign, group and festival names. Adding a locale means adding a module with the same
keys; the list of supported locales derives from the modules found here, and
``tests/test_world.py`` checks that every pack has the keys and slots of the others.

Templates are ``str.format`` strings; a slot is filled from the pack's ``slots`` bank of the
same name, or from values the generator passes for a row (app version, device, topic ...).
"""

from __future__ import annotations

import importlib
import pkgutil
import string
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

REQUIRED = ("faker_locale", "punctuation", "name", "cities", "topics", "festivals", "months", "date", "devices",
            "slots", "feedback", "feedback_keywords", "praise", "closings", "titles", "thread_titles", "groups",
            "campaigns", "email")


def available() -> tuple[str, ...]:
    """The locales with a pack, sorted (``en_US``, ``zh_CN``, ...)."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


@cache
def pack(locale: str) -> dict:
    """The data of one locale; ``ValueError`` naming the supported ones when there is none."""
    if locale not in available():
        raise ValueError(f"locale must be one of {', '.join(available())} (got {locale!r})")
    data = importlib.import_module(f"{__name__}.{locale}").PACK
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"the {locale} locale pack lacks {', '.join(missing)}")
    return data


def slot_names(template: str) -> list[str]:
    """The ``{slot}`` names of a template, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


class Filler:
    """Fills templates for many rows at once, drawing each slot from its bank with a seeded generator."""

    def __init__(self, banks: dict[str, tuple], rng: np.random.Generator, capitalize: bool = False) -> None:
        self.banks, self.rng, self.capitalize = banks, rng, capitalize

    def fill(self, templates: tuple[str, ...] | list[str], n: int, given: dict | None = None,
             banks: list[dict[str, tuple]] | None = None) -> np.ndarray:
        """``n`` texts: a random template per row, slots from ``given`` (per row), the row's own bank
        (``banks[i]``, e.g. the topic's words) or the shared banks, in that order."""
        import numpy as np  # here, not at the top: the CLI imports this module and stays light

        given = given or {}
        choice = self.rng.integers(0, len(templates), n)
        draws = self.rng.random((n, 4))            # up to four bank slots per template
        out = np.empty(n, dtype=object)
        for i in range(n):
            template = templates[choice[i]]
            values, used = {}, 0
            for name in slot_names(template):
                if name in values:
                    continue
                if name in given:
                    values[name] = given[name][i]
                    continue
                base = name[:-1] if name.endswith("2") else name     # "item2": a second draw from "item"
                bank = (banks[i].get(base) if banks is not None else None) or self.banks[base]
                pick = bank[int(draws[i, used % 4] * len(bank))]
                used += 1
                if base != name and values.get(base) == pick:         # ... that differs from the first
                    pick = bank[(bank.index(pick) + 1) % len(bank)]
                values[name] = pick
            text = template.format(**values)
            out[i] = text[:1].upper() + text[1:] if self.capitalize else text
        return out
