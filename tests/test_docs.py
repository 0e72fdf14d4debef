"""The README must match behaviour: every setting and every command is documented."""

from __future__ import annotations

import typer

from classifier.cli import app
from classifier.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


def test_every_setting_is_documented_with_its_variable() -> None:
    missing = [
        f"CT_{name.upper()}"
        for name in Settings.model_fields
        if f"`CT_{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_cli_command_and_option_is_documented() -> None:
    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None) or {"": command}
        for sub_name, sub in subcommands.items():
            usage = f"complaint-triage {name} {sub_name}".strip()
            if f"`{usage}" not in README:
                missing.append(usage)
            for param in sub.params:
                for opt in getattr(param, "opts", []):
                    if opt.startswith("--") and opt != "--help" and opt not in README:
                        missing.append(f"{usage} {opt}")
    assert missing == []
