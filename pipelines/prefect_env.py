"""Prefect settings that must be in place before prefect is imported: state in the project's
out/ folder and no outbound calls (analytics and telemetry off). Set by the user, they win."""
import os
from pathlib import Path


def configure(out_dir: Path) -> None:
    os.environ.setdefault("PREFECT_HOME", str((out_dir / "prefect").resolve()))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
