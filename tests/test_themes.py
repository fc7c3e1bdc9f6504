import pytest

from models.themes import check_theme, themes


def test_every_scheme_is_there():
    schemes = {theme.scheme for theme in themes().values()}
    assert schemes == {"uk-jp", "jeupiste", "sdg", "kakenhi"}
    assert sum(theme.scheme == "sdg" for theme in themes().values()) == 17
    assert themes()["uk-jp:quantum"].name_ja == "量子技術"


@pytest.mark.parametrize(
    ("written", "meant"),
    [(" uk-jp:quantum ", "uk-jp:quantum"), ("KAKENHI:j", "kakenhi:J"), ("kakenhi:61", "kakenhi:61")],
)
def test_check_theme_forgives_case_and_spaces(written, meant):
    assert check_theme(written) == meant


def test_an_unknown_theme_names_the_schemes():
    with pytest.raises(ValueError, match="schemes: jeupiste, kakenhi, sdg, uk-jp"):
        check_theme("uk-jp:fishing")
