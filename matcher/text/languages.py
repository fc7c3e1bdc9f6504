"""The language of a text: `language_of(text)` gives an ISO 639-1 code ("en", "ja", ...).

The packaged encoder (all-MiniLM-L6-v2) reads English only (`READ_BY_DEFAULT`): a text in another language
gets a vector, but not one that says what the text means. So every text hostmatch embeds is tagged: a
host's documents when they are indexed (the tag is kept in the index's row metadata), a researcher's texts
when they are matched (a note then names those the model cannot read: `unread_note`).

How a text is told:

1. Scripts first, on the NFKC form. Kana exist only in Japanese, so a text whose Japanese characters (kana
   and kanji, each weighing as much as `_CJK_WEIGHT` Latin letters, about a short word) outweigh its other
   letters is Japanese when it has any kana: "GNSS-A観測による日本海溝の固着分布" is ja, "Nishida's basho
   (場所) and the place of nothingness" is not (its Latin letters outweigh the two kanji, and it is
   identified with them left out).
2. Kanji without kana (a short title such as "地震学", a keyword, or Chinese) is Japanese unless the
   identifier reliably says Chinese: hostmatch's texts are about labs in Japan. Either way the text is not
   one the default model reads.
3. Everything else goes to CLD2 (Chromium's compact language detector, through `pycld2`), restricted to
   `LANGUAGES` (the languages research is commonly written in): its first answer among them is taken. On
   Latin script, an answer CLD2 itself calls unreliable, or none among `LANGUAGES`, is English: fragments
   of scientific English ("Tritium and strontium-90") otherwise come out as Latin, Volapük or Irish.
4. A text without letters is `UNDETERMINED` ("und"), which no note warns about.

Why CLD2 (`python -m scripts.bench.languages` measures all of this): on the sample's 505 English
publication titles it names every one English, and 500 of them cut to their first three words; the short
titles in other languages and scripts of `tests/test_languages.py`, kanji-only ones included, all right; at
~0.01 ms a text and ~4 MB of memory. py3langid, restricted and with rules of its own, was as accurate
(499 of the 505 three-word titles) at ~0.1 ms, but cost a serving process 80 MB once loaded (its automaton
as Python objects and its weights twice over), which pushed the service past its memory target;
lingua-language-detector was less accurate on short titles and 86 MB to 1.3 GB.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence

READ_BY_DEFAULT: frozenset[str] = frozenset({"en"})
"""Languages the packaged encoder reads. A configured encoder that reads others says so through
`matcher.engine.MatchSettings.languages_read`."""

UNDETERMINED = "und"
"""The tag of a text with no letters to tell its language by (BCP 47's "undetermined")."""

_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "az": "Azerbaijani", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan",
    "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish",
    "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh",
    "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mn": "Mongolian", "ms": "Malay",
    "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip

LANGUAGES = tuple(sorted(_NAMES))
"""What the identifier may answer: CLD2 knows many more languages; these are the ones research is commonly
written in."""

_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff]")
_JAPANESE = re.compile(r"[\u3005\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CJK_WEIGHT = 3  # a kana or kanji against Latin letters: about a short word's worth

_ALLOWED = frozenset(LANGUAGES)

_IDENTIFY_CHARS = 600
"""CLD2 reads a text's first 600 characters (about a hundred words), which tell its language as well as the
whole (`python -m scripts.bench.languages --data ../shared/eval/goldstandard`: the 815 archive abstracts of
sample d_20_1 longer than that all get the same tag; 0.09 ms each instead of 0.23 ms). Identifying the
documents was most of what a re-index from the cache cost."""


def _identify(text: str) -> tuple[str, bool]:
    """CLD2's first language among `LANGUAGES` for a text ("un" when none), and whether CLD2 calls its answer
    reliable."""
    import pycld2

    try:
        reliable, _, details = pycld2.detect(text[:_IDENTIFY_CHARS], bestEffort=True)[:3]
    except pycld2.error:  # text it cannot take (e.g. invalid UTF-8 after NFKC): no answer
        return "un", False
    for _, code, _, _ in details:
        language = code.split("-")[0]  # zh-Hant is Chinese
        if language in _ALLOWED:
            return language, bool(reliable)
    return "un", False


def language_of(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in (see the module docstring for how), or
    `UNDETERMINED` when it has no letters."""
    text = unicodedata.normalize("NFKC", text)
    runs = "".join(_JAPANESE.findall(text))
    rest = text
    if runs:  # letters are counted only then: counting them in every text took most of a re-index's time
        japanese, letters = len(runs), len(_LETTER.findall(text))
        if _CJK_WEIGHT * japanese >= letters - japanese:
            if _KANA.search(runs):
                return "ja"
            if japanese == letters:  # kanji only: Chinese, or Japanese without kana
                return _chinese_or_japanese(text)
        rest = _JAPANESE.sub(" ", text)
    if not _LETTER.search(rest):
        return UNDETERMINED
    language, reliable = _identify(rest)
    if _LATIN.search(rest) and (language == "un" or (language != "en" and not reliable)):
        return "en"
    return language if language != "un" else UNDETERMINED


def _chinese_or_japanese(text: str) -> str:
    language, reliable = _identify(text)
    return "zh" if language == "zh" and reliable else "ja"


def language_name(code: str) -> str:
    """The English name of a language code ("ja": "Japanese"); the code itself when it is not known here."""
    return _NAMES.get(code, code)


def reads(language: str, read: Collection[str]) -> bool:
    """Whether an encoder that reads `read` reads a text in `language` (an undetermined one always passes)."""
    return language == UNDETERMINED or language in read


def unread_note(texts: Sequence[tuple[str, str]], read: Collection[str]) -> str | None:
    """What to tell a researcher whose texts are not all in a language the encoder reads, or None.

    Args:
        texts: (how the text is named to its author, its language), e.g. ("your research statement", "ja").
        read: the languages the encoder reads.
    """
    unread = [(name, language) for name, language in texts if not reads(language, read)]
    if not unread:
        return None
    readable = _joined(sorted(language_name(code) for code in read))
    model = f"The matching model reads {readable} only."
    advice = "or ask the service to enable the multilingual encoder."
    if len(unread) == 1:
        name, language = unread[0]
        return (
            f"{model} {_capitalised(name)} is in {language_name(language)}, so the labs below were not matched "
            f"on what it says. Add an English abstract, {advice}"
        )
    listed = "; ".join(f"{name} ({language_name(language)})" for name, language in unread)
    every = "None of your texts is" if len(unread) == len(texts) else "Some of your texts are not"
    return (
        f"{model} {every} in {readable}, so the labs below were not matched on what they say: {listed}. "
        f"Add English abstracts, {advice}"
    )


def _joined(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
