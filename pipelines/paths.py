"""Where the project's data files live, and where a run writes by default."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
GUIDELINE_DIR = PROJECT_ROOT / "guideline"
SAMPLE_DIR = PROJECT_ROOT / "sample_data"

DEFAULT_OUT = Path("out")
DEFAULT_DB = DEFAULT_OUT / "ivig_audit.duckdb"
DEFAULT_RULESET = "aan-2012-ivig-nmd"
