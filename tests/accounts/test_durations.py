from datetime import timedelta

import pytest

from accounts.templatetags.durations import human_duration


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.875, "0.9 s"), (42, "42 s"), (185, "3 min 5 s"), (7440, "2 h 4 min")]
)
def test_durations_read_like_a_person_would_say_them(seconds, text):
    assert human_duration(timedelta(seconds=seconds)) == text
