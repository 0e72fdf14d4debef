from __future__ import annotations

from datetime import UTC, datetime

import pytest

from classifier.working_hours import WorkingHours

HOURS = WorkingHours(9, 17)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)  # 23 Nov 2026 is a Monday


def test_hours_within_the_same_day() -> None:
    assert HOURS.add(at(23, 10), 4) == at(23, 14)


def test_hours_roll_over_to_the_next_morning() -> None:
    assert HOURS.add(at(23, 15), 4) == at(24, 11)


def test_request_before_opening_starts_at_opening() -> None:
    assert HOURS.add(at(23, 6), 2) == at(23, 11)


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    assert HOURS.add(at(27, 16), 8) == at(30, 16)


def test_weekend_request_starts_on_monday() -> None:
    assert HOURS.add(at(28, 12), 1) == at(30, 10)


def test_forty_hours_is_a_working_week() -> None:
    assert HOURS.add(at(23, 9), 40) == at(27, 17)


def test_invalid_working_day_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkingHours(17, 9)
