"""KAKENHI sections named for people."""

from __future__ import annotations

import pytest

from models.taxonomy import BROAD_SECTIONS, MEDIUM_SECTIONS, broad_section_label, medium_sections_in


def test_a_broad_section_is_named_by_its_medium_sections() -> None:
    assert broad_section_label("J") == (
        "J: Information science, computer engineering; Human informatics; Applied informatics"
    )
    assert broad_section_label(" k ") == (
        "K: Environmental analyses and evaluation; Environmental conservation measure"
    )


def test_every_broad_section_has_a_label_naming_all_its_medium_sections() -> None:
    for letter in BROAD_SECTIONS:
        label = broad_section_label(letter)
        assert label.startswith(f"{letter}: ")
        assert label.count(";") == len(medium_sections_in(letter)) - 1
        assert all(MEDIUM_SECTIONS[code] in label for code in medium_sections_in(letter))
    assert "Biomedical engineering" in broad_section_label("D") and "Biomedical engineering" in broad_section_label("I")


def test_an_unknown_letter_is_refused() -> None:
    with pytest.raises(ValueError, match="not a KAKENHI broad section"):
        broad_section_label("Q")
