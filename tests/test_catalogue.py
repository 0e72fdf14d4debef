from __future__ import annotations

from pathlib import Path

import pytest

from classifier.catalogue import DEPARTMENT_IDS, Catalogue, CatalogueError, load_catalogue
from classifier.settings import Settings


def test_catalogue_describes_all_nine_departments(catalogue: Catalogue) -> None:
    assert catalogue.ids == DEPARTMENT_IDS
    for department in catalogue.departments.values():
        assert department.name and department.function.endswith(".")
        assert department.needs and department.service_level_hours > 0
        assert department.escalated_service_level_hours <= department.service_level_hours


def test_missing_field_is_named(tmp_path: Path, project_settings: Settings) -> None:
    text = project_settings.catalogue.read_text(encoding="utf-8")
    broken = tmp_path / "departments.toml"
    broken.write_text(text.replace('name = "Finance"\n', ""), encoding="utf-8")
    with pytest.raises(CatalogueError, match="departments.finance.name: missing"):
        load_catalogue(broken)


def test_unknown_department_is_refused(tmp_path: Path, project_settings: Settings) -> None:
    text = project_settings.catalogue.read_text(encoding="utf-8")
    broken = tmp_path / "departments.toml"
    broken.write_text(text.replace("[departments.sales]", "[departments.billing]"), "utf-8")
    with pytest.raises(CatalogueError, match=r"unknown \['billing'\], missing \['sales'\]"):
        load_catalogue(broken)
