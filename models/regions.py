"""Japan's 47 prefectures grouped into the eight customary regions, for region filters."""

from __future__ import annotations

REGIONS: dict[str, tuple[str, ...]] = {
    "Hokkaido": ("Hokkaido",),
    "Tohoku": ("Aomori", "Iwate", "Miyagi", "Akita", "Yamagata", "Fukushima"),
    "Kanto": ("Ibaraki", "Tochigi", "Gunma", "Saitama", "Chiba", "Tokyo", "Kanagawa"),
    "Chubu": ("Niigata", "Toyama", "Ishikawa", "Fukui", "Yamanashi", "Nagano", "Gifu", "Shizuoka", "Aichi"),
    "Kansai": ("Mie", "Shiga", "Kyoto", "Osaka", "Hyogo", "Nara", "Wakayama"),
    "Chugoku": ("Tottori", "Shimane", "Okayama", "Hiroshima", "Yamaguchi"),
    "Shikoku": ("Tokushima", "Kagawa", "Ehime", "Kochi"),
    "Kyushu": ("Fukuoka", "Saga", "Nagasaki", "Kumamoto", "Oita", "Miyazaki", "Kagoshima", "Okinawa"),
}

_REGION_OF = {prefecture.casefold(): region for region, members in REGIONS.items() for prefecture in members}
_SUFFIXES = ("-ken", " prefecture", "-fu", "-to", "-do")


def region_of(prefecture: str) -> str | None:
    """The region of a prefecture ("Kyoto", "Kyoto-fu" and "kyoto" all give "Kansai"); None if unknown."""
    name = prefecture.strip().casefold()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in _REGION_OF:
            name = name.removesuffix(suffix)
            break
    return _REGION_OF.get(name)
