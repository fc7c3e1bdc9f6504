"""KAKENHI review sections: 11 broad sections (A–K) and their medium sections.

Since FY2018 KAKENHI reviews by 306 basic, 65 medium and 11 broad sections. Broad sections have letters
only; the English medium-section names follow NII's master file (see ../shared/DOMAIN.md, [S37][S38]).
Profiles carry medium-section codes as strings ("61"); section 90 (biomedical engineering) belongs to
both D and I.
"""

from __future__ import annotations

import functools
from types import MappingProxyType

BROAD_SECTIONS: tuple[str, ...] = tuple("ABCDEFGHIJK")

_MEDIUM: dict[str, tuple[str, tuple[str, ...]]] = {
    "1": ("Philosophy and art", ("A",)),
    "2": ("Literature and linguistics", ("A",)),
    "3": ("History and archaeology", ("A",)),
    "4": ("Geography, cultural anthropology and folklore", ("A",)),
    "5": ("Law", ("A",)),
    "6": ("Political science", ("A",)),
    "7": ("Economics and business administration", ("A",)),
    "8": ("Sociology", ("A",)),
    "9": ("Education", ("A",)),
    "10": ("Psychology", ("A",)),
    "11": ("Algebra and geometry", ("B",)),
    "12": ("Analysis and applied mathematics", ("B",)),
    "13": ("Condensed matter physics", ("B",)),
    "14": ("Plasma science", ("B",)),
    "15": ("Particle, nuclear and astrophysics", ("B",)),
    "16": ("Astronomy", ("B",)),
    "17": ("Earth and planetary science", ("B",)),
    "18": ("Mechanics of materials, production engineering and design", ("C",)),
    "19": ("Fluid engineering and thermal engineering", ("C",)),
    "20": ("Mechanical dynamics and robotics", ("C",)),
    "21": ("Electrical and electronic engineering", ("C",)),
    "22": ("Civil engineering", ("C",)),
    "23": ("Architecture and building engineering", ("C",)),
    "24": ("Aerospace and marine engineering", ("C",)),
    "25": ("Social systems, safety and disaster engineering", ("C",)),
    "26": ("Materials engineering", ("D",)),
    "27": ("Chemical engineering", ("D",)),
    "28": ("Nano/micro science", ("D",)),
    "29": ("Applied condensed matter physics", ("D",)),
    "30": ("Applied physics and engineering", ("D",)),
    "31": ("Nuclear engineering, earth resources and energy", ("D",)),
    "32": ("Physical chemistry", ("E",)),
    "33": ("Organic chemistry", ("E",)),
    "34": ("Inorganic, coordination and analytical chemistry", ("E",)),
    "35": ("Polymers and organic materials", ("E",)),
    "36": ("Inorganic materials chemistry and energy", ("E",)),
    "37": ("Biomolecular chemistry", ("E",)),
    "38": ("Agricultural chemistry", ("F",)),
    "39": ("Agricultural and environmental biology", ("F",)),
    "40": ("Forestry and aquatic science", ("F",)),
    "41": ("Agricultural economics and rural sociology, agricultural engineering", ("F",)),
    "42": ("Veterinary medical science and animal science", ("F",)),
    "43": ("Biology at the molecular to cellular levels", ("G",)),
    "44": ("Biology at the cellular to organismal levels", ("G",)),
    "45": ("Biology at the organismal to population levels and anthropology", ("G",)),
    "46": ("Neuroscience", ("G",)),
    "47": ("Pharmaceutical sciences", ("H",)),
    "48": ("Biomedical structure and function", ("H",)),
    "49": ("Pathology, infection and immunology", ("H",)),
    "50": ("Oncology", ("I",)),
    "51": ("Brain sciences", ("I",)),
    "52": ("General internal medicine", ("I",)),
    "53": ("Organ-based internal medicine", ("I",)),
    "54": ("Systemic internal medicine", ("I",)),
    "55": ("Surgery", ("I",)),
    "56": ("Organ-based surgery", ("I",)),
    "57": ("Oral science", ("I",)),
    "58": ("Society medicine and nursing", ("I",)),
    "59": ("Sports sciences, physical education and health sciences", ("I",)),
    "60": ("Information science, computer engineering", ("J",)),
    "61": ("Human informatics", ("J",)),
    "62": ("Applied informatics", ("J",)),
    "63": ("Environmental analyses and evaluation", ("K",)),
    "64": ("Environmental conservation measure", ("K",)),
    "90": ("Biomedical engineering", ("D", "I")),
}

MEDIUM_SECTIONS: MappingProxyType[str, str] = MappingProxyType({code: name for code, (name, _) in _MEDIUM.items()})


@functools.lru_cache(maxsize=1024)  # pure, and called for every scored pair
def normalise_section(code: str | int) -> str:
    """Return the canonical medium-section code ("07" and 7 become "7").

    Raises:
        ValueError: the code is not a KAKENHI medium section.
    """
    text = str(code).strip()
    if text.isdigit():
        text = str(int(text))
    if text not in _MEDIUM:
        raise ValueError(f"{code!r} is not a KAKENHI medium section (1-64 or 90)")
    return text


@functools.lru_cache(maxsize=1024)
def broad_sections_of(medium: str) -> tuple[str, ...]:
    """The broad section letter(s) a medium section belongs to."""
    return _MEDIUM[normalise_section(medium)][1]


def medium_sections_in(broad: str) -> tuple[str, ...]:
    """Every medium section of one broad section, in code order."""
    letter = broad.strip().upper()
    if letter not in BROAD_SECTIONS:
        raise ValueError(f"{broad!r} is not a KAKENHI broad section (A-K)")
    return tuple(code for code, (_, broads) in _MEDIUM.items() if letter in broads)


def broad_section_label(broad: str) -> str:
    """A broad section named for people: its letter and its medium sections, since KAKENHI names broad
    sections by letter only ("J: Information science, computer engineering; Human informatics; Applied
    informatics"). Medium names may hold commas, so they are joined by semicolons.

    Raises:
        ValueError: not a broad section letter.
    """
    letter = broad.strip().upper()
    return f"{letter}: " + "; ".join(MEDIUM_SECTIONS[code] for code in medium_sections_in(letter))
