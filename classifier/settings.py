"""All runtime settings in one place, read from the environment (prefix ``CT_``) and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository root: data, templates and models live beside the package in a checkout.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Settings for the service, the CLI and training. Relative paths are taken from `root`."""

    model_config = SettingsConfigDict(env_prefix="CT_", env_file=".env", extra="ignore")

    root: Path = Field(PROJECT_ROOT, description="Directory that relative paths start from.")
    models_dir: Path = Field(Path("models"), description="Versioned model artefacts.")
    training_data: Path = Field(
        Path("training_data/complaints.jsonl"), description="Labelled training records."
    )
    test_data: Path = Field(
        Path("training_data/test.jsonl"), description="Frozen test set, never trained on."
    )
    catalogue: Path = Field(
        Path("training_data/departments.toml"), description="The department catalogue."
    )
    templates_dir: Path = Field(Path("templates"), description="Jinja templates for drafts.")
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8000, description="Port `serve` listens on.")
    seed: int = Field(42, description="Random seed for training and cross-validation.")
    escalation_amount_limit: float = Field(
        1000.0, description="Amount at or over which a complaint is escalated (any currency)."
    )
    escalation_previous_contacts: int = Field(
        3, description="Previous contacts at or over which a complaint is escalated."
    )
    review_margin: float = Field(
        0.1, description="A probability this close to its threshold marks needs_review."
    )
    review_min_words: int = Field(
        3, description="A complaint with fewer words than this is too short to judge."
    )
    max_body_bytes: int = Field(65_536, description="Largest HTTP request body accepted.")
    workday_start_hour: int = Field(9, description="Working hours start (local hour).")
    workday_end_hour: int = Field(17, description="Working hours end (local hour).")
    timezone: str = Field("UTC", description="Time zone of the service levels' working hours.")
    customer_reply_hours: float = Field(
        16.0, description="Working hours to the next customer update when no department acts."
    )

    reload_interval: float = Field(
        2.0,
        description="Seconds between a running server's checks of models/champion; 0 checks"
        " only on SIGHUP.",
    )

    require_keys: bool = Field(
        False,
        description="Require an API key on loopback too; on any other address keys are always"
        " required.",
    )
    rate_limit: str = Field(
        "50/second;2000/minute",
        description="Requests allowed per API key (per client address without a key), in the"
        " `limits` notation; several windows separated by ';'.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit counters live: memory:// counts per worker process,"
        " redis://host:6379 shares them between workers and machines.",
    )
    max_batch_items: int = Field(500, description="Most complaints in one batch request.")
    max_batch_body_bytes: int = Field(
        16_777_216, description="Largest request body accepted by POST /v1/triage/batch."
    )
    mask_stored_text: bool = Field(
        True,
        description="Mask e-mail addresses, phone numbers, card numbers and IBANs in stored"
        " triages and feedback; false keeps the original text (logs are always masked).",
    )
    retention_days: int = Field(
        365, ge=1, description="`purge` deletes triages older than this many days."
    )
    log_format: str = Field(
        "json",
        pattern="^(json|text)$",
        description="Server logs: json (one object per line) or text.",
    )
    log_level: str = Field("info", description="Server log level: debug, info, warning, error.")
    database_busy_timeout: float = Field(
        2.0,
        description="Seconds a write waits for a locked SQLite database before the request"
        " answers 503 with Retry-After.",
    )

    database_url: str = Field(
        "sqlite:///var/complaint-triage.db",
        description="Where triages, feedback and handoffs are stored: a SQLite file (relative"
        " to `root`) or postgresql://user@host:port/database.",
    )

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        for name in ("models_dir", "training_data", "test_data", "catalogue", "templates_dir"):
            value: Path = getattr(self, name)
            if not value.is_absolute():
                setattr(self, name, self.root / value)
        sqlite = "sqlite:///"
        if self.database_url.startswith(sqlite):
            path = self.database_url.removeprefix(sqlite)
            if path and path != ":memory:" and not Path(path).is_absolute():
                self.database_url = f"{sqlite}{self.root / path}"
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings read once from the environment."""
    return Settings()
