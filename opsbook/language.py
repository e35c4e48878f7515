"""The language learner-facing messages are written in: "en" (English) or "zh" (Chinese)."""

from __future__ import annotations

import os

LANGUAGES = ("en", "zh")
LANGUAGE_ENV = "OPSBOOK_LANG"
_current = [os.environ.get(LANGUAGE_ENV, "en") if os.environ.get(LANGUAGE_ENV) in LANGUAGES else "en"]


def get() -> str:
    """The current language."""
    return _current[0]


def set(language: str) -> None:  # noqa: A001 - opsbook.language.set reads well
    """Write messages in ``language`` from now on."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    _current[0] = language


def pick(texts: dict[str, str], **fields: object) -> str:
    """The text of the current language (English when missing), formatted with ``fields``."""
    return texts.get(get(), texts["en"]).format(**fields)
