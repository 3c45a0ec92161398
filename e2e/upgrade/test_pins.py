"""The previous-Django pins differ from requirements.txt in the Django line only."""

from .conftest import PINNED_DJANGO, PREVIOUS_DJANGO, PREVIOUS_REQUIREMENTS, ROOT, pinned_django


def pins(path) -> dict[str, str]:
    lines = (ROOT / path).read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


def test_the_previous_pins_are_the_pinned_ones_but_one_django_patch_release_back():
    current, previous = pins("requirements.txt"), pins(PREVIOUS_REQUIREMENTS)
    assert pinned_django() == current["Django"] == PINNED_DJANGO
    assert previous == {**current, "Django": PREVIOUS_DJANGO}
