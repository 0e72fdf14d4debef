"""The department catalogue: display names, functions, handoff needs and service levels."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The nine department ids of the annotation guide, in the order the model uses.
DEPARTMENT_IDS: tuple[str, ...] = (
    "engineering_qc",
    "finance",
    "legal_compliance",
    "logistics_operations",
    "marketing_pr",
    "product_management",
    "sales",
    "senior_management",
    "technical_support",
)

_TEXT_FIELDS = ("name", "function", "contact", "ask", "customer_step")
_HOUR_FIELDS = ("service_level_hours", "escalated_service_level_hours")


class CatalogueError(ValueError):
    """The catalogue file is missing, unreadable or incomplete."""


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    function: str
    contact: str
    ask: str
    customer_step: str
    needs: tuple[str, ...]
    service_level_hours: float
    escalated_service_level_hours: float

    def service_level(self, *, escalated: bool) -> float:
        """Working hours this department has to answer a handoff."""
        return self.escalated_service_level_hours if escalated else self.service_level_hours


@dataclass(frozen=True)
class Catalogue:
    departments: dict[str, Department]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.departments)

    def __getitem__(self, department_id: str) -> Department:
        return self.departments[department_id]

    def name(self, department_id: str) -> str:
        return self.departments[department_id].name


def _department(dept_id: str, raw: dict[str, Any], path: Path) -> Department:
    for field in _TEXT_FIELDS:
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise CatalogueError(f"{path}: departments.{dept_id}.{field}: missing or empty text")
    for field in _HOUR_FIELDS:
        value = raw.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise CatalogueError(f"{path}: departments.{dept_id}.{field}: must be hours > 0")
    needs = raw.get("needs")
    if not isinstance(needs, list) or not needs or not all(isinstance(n, str) for n in needs):
        raise CatalogueError(f"{path}: departments.{dept_id}.needs: must be a list of text")
    return Department(
        id=dept_id,
        name=raw["name"],
        function=raw["function"],
        contact=raw["contact"],
        ask=raw["ask"],
        customer_step=raw["customer_step"],
        needs=tuple(needs),
        service_level_hours=float(raw["service_level_hours"]),
        escalated_service_level_hours=float(raw["escalated_service_level_hours"]),
    )


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate the catalogue; it must describe exactly the nine department ids."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML: {exc}") from exc
    table = raw.get("departments")
    if not isinstance(table, dict):
        raise CatalogueError(f"{path}: a [departments.<id>] table is required")
    unknown = sorted(set(table) - set(DEPARTMENT_IDS))
    missing = sorted(set(DEPARTMENT_IDS) - set(table))
    if unknown or missing:
        raise CatalogueError(f"{path}: departments: unknown {unknown}, missing {missing}")
    return Catalogue({d: _department(d, table[d], path) for d in DEPARTMENT_IDS})
