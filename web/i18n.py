"""Message catalogues: Korean first, English second, chosen per request."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
_CATALOGUE_DIR = Path(__file__).parent / "i18n"


@cache
def catalogue(language: str) -> dict[str, str]:
    path = _CATALOGUE_DIR / f"{language}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def choose_language(query_lang: str | None, cookie_lang: str | None, accept: str) -> str:
    """An explicit choice (query, then cookie) wins; else the browser's first known language."""
    for choice in (query_lang, cookie_lang):
        if choice in LANGUAGES:
            return choice
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
