"""How often the CIDP review's verdict matches the history each generated CIDP patient was drawn
with (pipelines/generate.py, CIDP_HISTORIES), over several seeds.

    .venv/bin/python benchmarks/cidp_agreement.py --orders 8000 --seeds 8
"""
import argparse
import hashlib
import hmac
import tempfile
from pathlib import Path

import polars as pl

from pipelines import analyse, classify, db, ingest, pseudonym, reference
from pipelines.generate import generate
from pipelines.profile import SiteProfile

KEY = b"agreement"


def judge(n_orders: int, seed: int, work: Path, loaded: reference.Reference) -> pl.DataFrame:
    """Generate, ingest and review one synthetic hospital; per whole CIDP history: the history, the
    verdict it was drawn with (`suspected`) and the review's (`judged`, null if not reviewed)."""
    extracts = generate(n_orders, seed)
    extracts.orders.write_csv(work / "orders.csv")
    extracts.assessments.write_csv(work / "assessments.csv")
    con = db.connect(work / f"audit_{seed}.duckdb")
    try:
        ingest.prepare(con, loaded)
        for name in ("orders.csv", "assessments.csv"):
            ingest.ingest_file(con, work / name, SiteProfile(), pseudonym.hmac_pads(KEY))
        classify.classify_orders(con, "aan-2012-ivig-nmd")
        analyse.analyse_treatment(con)
        judged = con.sql("SELECT patient_key, overuse_suspected AS judged, reasons FROM cidp_review").pl()
    finally:
        con.close()
    keys = [hmac.new(KEY, f"{site}\x1f{patient}".encode(), hashlib.sha256).hexdigest()
            for site, patient in extracts.cidp_truth.select("site", "patient_id").iter_rows()]
    return extracts.cidp_truth.with_columns(patient_key=pl.Series(keys)).join(judged, on="patient_key", how="left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=8000)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    loaded = reference.load_reference()
    with tempfile.TemporaryDirectory() as work:
        verdicts = pl.concat(judge(args.orders, seed, Path(work), loaded) for seed in range(1, args.seeds + 1))
    table = (verdicts.group_by("history", "suspected")
             .agg(patients=pl.len(), agree=(pl.col("judged") == pl.col("suspected")).sum())
             .sort("history"))
    with pl.Config(tbl_rows=-1, tbl_width_chars=120, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
        print(table)
    print(f"agreement: {table['agree'].sum()} of {table['patients'].sum()} CIDP patients "
          f"({args.seeds} seeds x {args.orders:,} orders)")
    for row in verdicts.filter(pl.col("judged") != pl.col("suspected")).iter_rows(named=True):
        print(f"- {row['history']}: judged {row['judged']}: {row['reasons'] or 'no reasons'}")


if __name__ == "__main__":
    main()
