"""Spark local[2] against the single-machine run (issue #15, scripts/test-spark).

For the sample day and a generated day: `liquidator run --parquet --threads 2` on the B2 file, and
`liquidator convert` + `spark/liquidate.py` on the same file, must give the same rows (every column,
compared after ordering by `byte_offset`: Spark writes one file per task), the same summary.json
totals, and a reconciliation where every identity holds.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "liquidator"
KEY = "spark test secret, not for production"


def env():
    e = dict(os.environ)
    e["LIQUIDATOR_PSEUDONYM_KEY"] = KEY
    return e


def sh(*args):
    r = subprocess.run([str(a) for a in args], env=env(), capture_output=True, text=True)
    assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stderr[-4000:]}"
    return r


def single_machine(claims, refs, out):
    sh(BIN, "run", "--claims", claims, "--refs", refs, "--out", out, "--parquet", "--threads", "2", "--quiet")
    return out


def on_spark(claims, refs, tmp, buckets, partitions, *extra):
    conv = tmp / "claims-parquet"
    sh(BIN, "convert", "--claims", claims, "--out", conv, "--buckets", buckets)
    out = tmp / "spark"
    sh(
        sys.executable, ROOT / "spark" / "liquidate.py", "--claims", conv, "--refs", refs, "--out", out,
        "--master", "local[2]", "--partitions", partitions, *extra,
    )
    return out


def assert_same(run_dir, spark_dir):
    want = pq.read_table(run_dir / "liquidated_lines.parquet")
    got = pq.read_table(spark_dir / "liquidated_lines")
    assert got.num_rows == want.num_rows
    offsets = want["byte_offset"].to_pylist()
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets), "run: one row per record, in file order"
    got = got.sort_by("byte_offset")
    assert got.column_names == want.column_names
    for name in want.column_names:
        w, g = want[name].to_pylist(), got[name].to_pylist()
        if w != g:
            i = next(i for i, (a, b) in enumerate(zip(w, g)) if a != b)
            pytest.fail(f"column {name}, row at byte {offsets[i]}: run {w[i]!r}, spark {g[i]!r}")
    run_summary = json.loads((run_dir / "summary.json").read_text())
    spark_summary = json.loads((spark_dir / "summary.json").read_text())
    # Not produced on the Spark path (formats/claims-arrow.md, "Not produced"): per-insurer files,
    # payment orders; and so the payment-order identity.
    for k in ("amc_files", "payment_orders", "payment_orders_cents", "payments_held", "payments_held_cents", "payees_nothing_due"):
        run_summary.pop(k, None)
        spark_summary.pop(k, None)
    run_summary["conservation"].pop("payment_orders", None)
    spark_summary["conservation"].pop("payment_orders", None)
    assert spark_summary == run_summary
    rec = json.loads((spark_dir / "reconciliation.json").read_text())
    assert rec["ok"], [c for c in rec["checks"] if not c["ok"]]
    assert all(c["ok"] for c in rec["checks"]) and len(rec["checks"]) >= 20
    # One reference load per Python worker, whatever the number of tasks it ran.
    assert rec["max_refs_loaded_per_worker"] == 1
    return want.num_rows


def test_sample_day_on_spark_local2_gives_the_rows_and_totals_of_run(tmp_path):
    claims, refs = ROOT / "fixtures/sample/claims.b2", ROOT / "fixtures/sample/refs"
    run_dir = single_machine(claims, refs, tmp_path / "run")
    spark_dir = on_spark(claims, refs, tmp_path, 16, 6)
    assert assert_same(run_dir, spark_dir) > 500


def test_generated_day_on_spark_local2_gives_the_rows_and_totals_of_run(tmp_path):
    day = tmp_path / "day"
    sh(BIN, "gen", "--claims", 20000, "--beneficiaries", 3000, "--seed", 15, "--out", day)
    sh(BIN, "refs", "compile", day / "refs")  # the unit shipped to workers: the compiled snapshot
    claims, refs = day / "claims.b2", day / "refs"
    run_dir = single_machine(claims, refs, tmp_path / "run")
    spark_dir = on_spark(claims, refs, tmp_path, 8, 4, "--check-duplicates")
    assert assert_same(run_dir, spark_dir) > 30000
