"""Service levels are in working hours (Monday to Friday, within the working day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta


@dataclass(frozen=True)
class WorkingHours:
    start_hour: int = 9
    end_hour: int = 17

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError("working hours need 0 <= start_hour < end_hour <= 24")

    def _day_bounds(self, day: datetime) -> tuple[datetime, datetime]:
        opening = datetime.combine(day.date(), time(self.start_hour), tzinfo=day.tzinfo)
        return opening, opening + timedelta(hours=self.end_hour - self.start_hour)

    def _next_opening(self, moment: datetime) -> datetime:
        """`moment` itself if it is within working hours, else the next opening time."""
        opening, closing = self._day_bounds(moment)
        if moment.weekday() < 5 and opening <= moment < closing:
            return moment
        day = moment if moment < opening else moment + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self._day_bounds(day)[0]

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `start`."""
        if hours < 0:
            raise ValueError("hours must not be negative")
        remaining = timedelta(hours=hours)
        moment = self._next_opening(start)
        while True:
            closing = self._day_bounds(moment)[1]
            if moment + remaining <= closing:
                return moment + remaining
            remaining -= closing - moment
            moment = self._next_opening(closing)
