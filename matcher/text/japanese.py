"""Terms of Japanese text, for `matcher.ranking.terms`: nouns and compound nouns, cut by a real tokenizer.

Japanese does not separate words with spaces, so `matcher.ranking.terms`' English rule (words between spaces)
finds nothing in it. Here each run of Japanese characters (kana, kanji; after NFKC, which also widens
half-width katakana) is cut into words by MeCab through `fugashi`, with the UniDic dictionary of
`unidic-lite`, and the words are read by their part of speech:

- a compound is a run of nouns (not numerals) with the prefixes and noun-like suffixes attached to them,
  and a verb stem or an adjectival noun directly before a noun: 沈み込み + 帯, スロー + スリップ, 非 + 線形;
- particles, verbs, auxiliaries, symbols and the nouns of `STOP_WORDS` (formal nouns such as こと and
  ため, and words every research text uses, such as 研究 and 手法) end a compound and are dropped (a
  suffix such as 性 or 間 is kept: it never stands alone, and 原子間力 needs it).

The terms of a compound of tokens t1 ... tn are its nouns of two characters or more (as English keeps
words of two letters or more), and each run of two to `MAX_COMPOUND` neighbouring tokens; the whole
compound too when it is longer. Their tokens are joined by a space, so that `TermStats.shared` treats them
as it treats English bigrams: a longer compound counts as one and shadows the shorter ones inside it. It
shows them without the space (`shown`): 沈み込み帯, スロースリップ.

Kanji-only text (no kana) may be Chinese: it is cut only when `matcher.text.languages.language_of` calls it
Japanese. MeCab is loaded on the first Japanese text a process sees (`fugashi` is imported then, not
before): 13 MB more resident memory here, its dictionary a memory-mapped file of which a process touches
what its texts use. Cutting is the cost: ~0.2 ms per 100 characters of Japanese (the sample's ten
Japanese-only labs, 7,700 characters, take 14 ms), where English words cost ~7 µs per 100 characters. A
corpus of 10,000 Japanese labs of 20 abstracts would spend a few minutes on its term statistics at start.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

import numpy as np

from matcher.text.languages import language_of

MAX_COMPOUND = 4
"""Longest run of tokens taken as a term besides the whole compound."""

_STOP_LIST = """
    こと もの ため よう ところ とき ほう はず わけ うち まま ほか これ それ あれ どれ ここ そこ
    本 本研究 研究 本稿 本論文 論文 報告 結果 目的 方法 手法 提案 検討 考察 議論 場合 以上 以下 今回 近年
    我々 私 私達 当 各 他 際 点 方 上 中 間 後 前 時 等 的 者 性 化 可能 必要 重要 様々 多く 一方 利用 使用
    実施 発生 明らか 対象 関係 影響 特徴 問題 課題 成果 内容 基礎 応用 現在 従来 今後 全体 部分 一部 程度 種類
"""
STOP_WORDS = frozenset(_STOP_LIST.split())

_RUN = re.compile(r"[\u3005\u3006\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_FIRST_JAPANESE = 0x3005  # 々, the lowest code point `_RUN` matches
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff]")
_BETWEEN = re.compile(r"(?<=[^\x00-\u2fff]) (?=[^\x00-\u2fff])")  # a space between two CJK characters

_tagger: Any = None
_loading = threading.Lock()


def _tag(text: str) -> Any:
    """fugashi's tokens of `text` (MeCab with UniDic lite), the tagger made on first use."""
    global _tagger
    with _loading:
        if _tagger is None:
            import fugashi

            _tagger = fugashi.Tagger()
    return _tagger(text)


def has_japanese(text: str) -> bool:
    """Whether `text` has any kana or kanji. English text is spared the regular expression: its largest
    code point, read from its UTF-32 form by numpy, is below every Japanese character's (on the sample's
    host texts, 0.3 ms for all of them against 4.4 ms for the expression, 1% of counting their terms)."""
    if text.isascii():
        return False
    if int(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).max()) < _FIRST_JAPANESE:
        return False
    return _RUN.search(text) is not None


def japanese_terms(text: str) -> set[str]:
    """The terms of the Japanese in `text` (see the module docstring); none when it has no kana and the
    language identifier does not call its kanji Japanese."""
    runs = _RUN.findall(unicodedata.normalize("NFKC", text))
    if not runs or (not any(_KANA.search(run) for run in runs) and language_of(" ".join(runs)) != "ja"):
        return set()
    found: set[str] = set()
    for compound in _compounds(_tag(" ".join(runs))):  # one call: per run, MeCab took twice as long
        found.update(_compound_terms(compound))
    return found


# What a token may be inside a compound: a noun, a prefix (before a noun), a noun-like suffix (after
# one), a verb stem or an adjectival noun (before a noun). Anything else ends the compound.
_NOUN, _PREFIX, _SUFFIX, _MODIFIER = "noun", "prefix", "suffix", "modifier"


def _kind(word: Any) -> str | None:
    feature = word.feature
    if feature.pos1 == "名詞":
        return None if feature.pos2 == "数詞" or word.surface in STOP_WORDS else _NOUN
    if feature.pos1 == "接頭辞":
        return _PREFIX
    if feature.pos1 == "接尾辞":
        return _SUFFIX if feature.pos2 == "名詞的" else None
    if feature.pos1 == "形状詞" or (feature.pos1 == "動詞" and str(feature.cForm).startswith("連用形")):
        return _MODIFIER
    return None


def _compounds(words: Any) -> list[list[tuple[str, str]]]:
    """The compounds among tagged words, each as [(surface, kind)], trimmed so that each starts with a
    noun, a prefix or a modifier and ends with a noun or a suffix. A space before a word (between two runs
    of Japanese) ends a compound."""
    compounds: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for word in [*words, None]:
        kind = _kind(word) if word is not None else None
        apart = word is not None and bool(word.white_space)
        if apart or kind is None or (kind in (_PREFIX, _MODIFIER) and current and current[-1][1] == _SUFFIX):
            while current and current[-1][1] in (_PREFIX, _MODIFIER):
                current.pop()
            if current:
                compounds.append(current)
            current = []
            if kind is None:
                continue
        if kind == _SUFFIX and not current:
            continue  # a suffix with nothing to attach to
        current.append((word.surface, kind))
    return compounds


def _compound_terms(compound: list[tuple[str, str]]) -> set[str]:
    surfaces = [surface for surface, _ in compound]
    found = {s for s, kind in compound if kind == _NOUN and len(s) >= 2}
    n = len(surfaces)
    for size in range(2, min(n, MAX_COMPOUND) + 1):
        found.update(" ".join(surfaces[i : i + size]) for i in range(n - size + 1))
    if n > MAX_COMPOUND:
        found.add(" ".join(surfaces))
    return found


def shown(term: str) -> str:
    """A term as a person reads it: a Japanese compound without the spaces between its tokens."""
    return term if term.isascii() else _BETWEEN.sub("", term)
