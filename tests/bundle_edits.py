"""Edits to a copy of a real bundle, for the manifest check's tests: each keeps the manifest
consistent (SHA-256, rows) unless the edit is meant to break it."""
import hashlib
import json
import shutil
from pathlib import Path

import duckdb


def rewrite(folder: Path, name: str, select: str) -> None:
    """Replace <name>.parquet with `select` over it, and its manifest entry to match."""
    path = folder / f"{name}.parquet"
    duckdb.sql(f"COPY ({select.format(t=f'read_parquet({str(path)!r})')}) TO '{folder}/new.parquet' (FORMAT parquet)")
    shutil.move(folder / "new.parquet", path)
    relist(folder, f"{name}.parquet")


def relist(folder: Path, file: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][file] = {"rows": duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder / file}')").fetchall()[0][0],
                               "sha256": hashlib.sha256((folder / file).read_bytes()).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def edit_manifest(**changes):
    def edit(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest.update(changes)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return edit


def miscount(folder: Path, file: str, rows: int) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][file]["rows"] = rows
    (folder / "manifest.json").write_text(json.dumps(manifest))


def add_free_text(folder: Path, text: str = "some text") -> None:
    """An indication_texts.parquet with one text, which the manifest lists (free_text unchanged)."""
    duckdb.execute(f"COPY (SELECT ?::VARCHAR AS indication, 9::BIGINT AS orders, 9::BIGINT AS patients) "
                   f"TO '{folder}/indication_texts.parquet' (FORMAT parquet)", [text])
    relist(folder, "indication_texts.parquet")
