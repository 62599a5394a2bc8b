"""Prefect settings that must be in place before prefect is imported: state in the project's
out/ folder and no outbound calls (analytics and telemetry off). Set by the user, they win."""
import os
from pathlib import Path


def configure(out_dir: Path, quiet_failures: bool = False) -> None:
    """quiet_failures: for one-off runs from the command line, which print a failure as one line
    themselves, Prefect does not log the failed flow and task runs with their tracebacks."""
    os.environ.setdefault("PREFECT_HOME", str((out_dir / "prefect").resolve()))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    if quiet_failures:
        for logger in ("FLOW_RUNS", "TASK_RUNS"):
            os.environ.setdefault(f"PREFECT_LOGGING_LOGGERS_PREFECT_{logger}_LEVEL", "CRITICAL")
