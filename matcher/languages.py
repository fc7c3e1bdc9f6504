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
   identifier is sure it is Chinese (`_ZH_SURE`): on such text it leans to Chinese for want of kana (it
   gave zh for "地震学", "超伝導" and "深層学習"), and hostmatch's texts are about labs in Japan. Either way the
   text is not one the default model reads.
3. Everything else goes to py3langid, restricted to `LANGUAGES` (the languages research is commonly
   written in): without the restriction, short English titles came out as Latin, Kinyarwanda or Nigerian
   Pidgin. On a Latin-script text where it names another language with a probability under `_UNSURE`, the
   text is taken to be English: of 635 English titles cut to their first three words, 118 were given
   another language, all but ten with a probability under 0.4, while short French, German, Spanish,
   Portuguese and Indonesian titles all scored 0.47 or more.
4. A text without letters is `UNDETERMINED` ("und"), which no note warns about.

Why py3langid rather than lingua-language-detector (both measured here, November 2026: the 635 English
publication titles of the sample as it was before its Japanese texts, the same titles cut to their first
three words, 50 short Japanese titles and keywords, 6 English titles quoting Japanese words, and 31 short
titles in French, German, Spanish, Chinese, Korean, Indonesian and Portuguese, all written for the
comparison): py3langid alone, over all its languages, got 632/635 titles, 459/635 three-word titles, 43/50
Japanese (kanji-only ones as Chinese), 5/6 mixed, 30/31 others; restricted and with the rules above,
635/635, 625/635, 50/50, 6/6 and 31/31, at ~0.06 ms a text. lingua, all languages, high-accuracy mode:
601/635, 487/635, 43/50, 5/6, 30/31, at 5.6 ms a text and 1.3 GB of memory; low-accuracy mode 538/635,
319/635, 43/50, 4/6, 29/31, at 1 ms and 86 MB. py3langid costs 75-85 MB of resident memory once loaded (its
byte-level automaton and per-language weights); it is loaded on the first text that needs it, so a serving
process carries it from its first match.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

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
"""What the identifier may answer: py3langid knows 142 languages and dialects; these are the ones research is
commonly written in."""

_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff]")
_KANJI = re.compile(r"[\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_JAPANESE = re.compile(r"[\u3005\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CJK_WEIGHT = 3  # a kana or kanji against Latin letters: about a short word's worth
_ZH_SURE = 0.98  # probability of Chinese over Japanese the identifier must give a kanji-only text
_UNSURE = 0.4  # below this, the identifier's non-English answer on Latin script is not trusted

_identifier: Any = None
_loading = threading.Lock()


def _identify() -> Any:
    """py3langid's identifier over `LANGUAGES`, with probabilities; loaded once per process, on first use."""
    global _identifier
    with _loading:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(LANGUAGES)
            _identifier = identifier
    return _identifier


def language_of(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in (see the module docstring for how), or
    `UNDETERMINED` when it has no letters."""
    text = unicodedata.normalize("NFKC", text)
    kana = len(_KANA.findall(text))
    kanji = len(_KANJI.findall(text))
    letters = len(_LETTER.findall(text))
    if letters == 0:
        return UNDETERMINED
    japanese = kana + kanji
    if japanese and _CJK_WEIGHT * japanese >= letters - japanese:
        if kana:
            return "ja"
        if japanese == letters:  # kanji only: Chinese, or Japanese without kana
            return _chinese_or_japanese(text)
    rest = _JAPANESE.sub(" ", text) if japanese else text
    if not _LETTER.search(rest):
        return UNDETERMINED
    language, probability = _identify().classify(rest)
    if language != "en" and probability < _UNSURE and _LATIN.search(rest):
        return "en"
    return str(language)


def _chinese_or_japanese(text: str) -> str:
    ranked = dict(_identify().rank(text))
    chinese, japanese = ranked.get("zh", 0.0), ranked.get("ja", 0.0)
    sure = chinese / (chinese + japanese) if chinese + japanese > 0 else 0.0
    return "zh" if sure >= _ZH_SURE else "ja"


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
