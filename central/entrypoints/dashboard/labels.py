"""The dashboard's words in French and English, from one file (labels.json): `labels(language)[key]`."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Literal, get_args

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"
LANGUAGE_COOKIE = "speedledger_lang"


@functools.cache
def all_labels() -> dict[str, dict[str, str]]:
    """`{language: {key: text}}` as shipped in labels.json."""
    text = resources.files(__package__).joinpath("labels.json").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, str]] = json.loads(text)
    return loaded


def labels(language: Language) -> dict[str, str]:
    return all_labels()[language]


def choose_language(cookie: str | None, accept_language: str | None) -> Language:
    """The language cookie if set, else the first supported language the browser asks for."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
