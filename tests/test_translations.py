"""The Japanese catalogue covers every text of the pages, keeps their placeholders, and is compiled."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).parents[1]
CATALOGUE = ROOT / "service" / "web" / "translations" / "ja" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The texts the pages use today, extracted from the templates and code as the README says."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    command = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "lazy_gettext",
               "--no-location", "-o", str(pot), "."]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as handle:
        return read_po(handle)


def _texts(catalogue: object) -> dict[object, object]:
    """Source text -> translation; plural forms as tuples (the .mo reader gives lists)."""

    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {frozen(m.id): frozen(m.string) for m in catalogue if m.id}  # type: ignore[attr-defined]


def test_every_text_of_the_pages_has_a_japanese_translation(template: object) -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        japanese = _texts(read_po(handle))
    missing = [text for text in _texts(template) if not japanese.get(text)]
    assert not missing, f"translate these in {CATALOGUE / 'messages.po'}: {missing}"


def test_translations_keep_every_placeholder() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        for source, target in _texts(read_po(handle)).items():
            sources = source if isinstance(source, tuple) else (source,)
            targets = target if isinstance(target, tuple) else (target,)
            wanted = set().union(*(PLACEHOLDER.findall(str(s)) for s in sources))
            for text in targets:
                assert set(PLACEHOLDER.findall(str(text))) == wanted, (source, text)


def test_the_compiled_catalogue_is_the_catalogue() -> None:
    with (CATALOGUE / "messages.po").open("rb") as po, (CATALOGUE / "messages.mo").open("rb") as mo:
        written, compiled = _texts(read_po(po)), _texts(read_mo(mo))
    assert compiled == written, "run: pybabel compile -d service/web/translations"
