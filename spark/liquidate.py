#!/usr/bin/env python3
"""The liquidation of a claims batch on Apache Spark, by the engine itself (issue #15).

    python spark/liquidate.py --claims DAY-CLAIMS --refs REFS --out OUT [--master local[2]]
                              [--partitions N] [--pseudonym-key-file F] [--check-duplicates]

* DAY-CLAIMS: claims Parquet written by `liquidator convert` (formats/claims-arrow.md);
* REFS: the reference set (with its compiled `refs.snapshot`, `liquidator refs compile`), at the same
  path on every worker (see README, "Spark": on a cluster, a node-local copy or `--files`);
* OUT: written here: `OUT/liquidated_lines/` (Parquet, layout formats/parquet.md, one file per task,
  each in file order), `OUT/summary.json` (the fields of `liquidator run`'s summary.json, summed over
  the tasks and checked with the engine's own identities), `OUT/reconciliation.json` (every check).

Order semantics (formats/claims-arrow.md, "Order"): the rows are repartitioned by beneficiary — a
beneficiary's running state (caps, daily counters, sessions) stays on one task — and sorted by input
position within each partition, so each task sees its beneficiaries' claims in file order; across
beneficiaries order does not matter. Duplicate transmissions (R030, same practitioner and claim number
across beneficiaries) are flagged by `convert` over the whole batch; `--check-duplicates` verifies
the flag with a window function before liquidating.

The liquidation itself is the Rust entry point (`import liquidator`, crates/py), called from
`mapInArrow`: no rule is written in Python or SQL.
"""

import argparse
import json
import os
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

KEY_ENV = "LIQUIDATOR_PSEUDONYM_KEY"

# summary.json fields and identities about outputs this path does not write (per-insurer files, the
# SEPA payment orders: aggregations per insurer or payee over the whole batch).
NOT_PRODUCED = ("amc_files", "payment_orders", "payment_orders_cents", "payments_held", "payments_held_cents", "payees_nothing_due")
NOT_PRODUCED_IDENTITIES = ("payment_orders",)

# Integer fields of summary.json that add up over tasks; the maps add up key by key.
SUMMED_MAPS = ("rejections_by_code", "line_rejections_by_code", "warnings_by_code")


def ipc_bytes(batch):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    return sink.getvalue().to_pybytes()


def ipc_batches(data):
    return list(pa.ipc.open_stream(pa.py_buffer(data)))


def ipc_schema(data):
    return pa.ipc.open_stream(pa.py_buffer(data)).schema


def spark_type(t):
    from pyspark.sql import types as T

    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return T.StringType()
    if pa.types.is_int32(t):
        return T.IntegerType()
    if pa.types.is_int64(t):
        return T.LongType()
    if pa.types.is_boolean(t):
        return T.BooleanType()
    if pa.types.is_date32(t):
        return T.DateType()
    if pa.types.is_decimal(t):
        return T.DecimalType(t.precision, t.scale)
    raise TypeError(f"no Spark type for {t}")


def spark_schema(arrow_schema):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, spark_type(f.type), True) for f in arrow_schema])


def add_summaries(total, part):
    """Sums two summary.json dicts (counts and cents add; the batch fields must agree)."""
    if not total:
        return dict(part)
    out = dict(total)
    for k, v in part.items():
        if k in ("batch_number", "batch_date"):
            if out.get(k) != v:
                raise ValueError(f"summaries of two batches: {k} {out.get(k)} and {v}")
        elif k in SUMMED_MAPS:
            m = dict(out.get(k, {}))
            for code, n in v.items():
                m[code] = m.get(code, 0) + n
            out[k] = m
        elif k == "conservation":
            continue
        elif isinstance(v, int):
            out[k] = out.get(k, 0) + v
    return out


def liquidate_partitions(refs_dir, key, acc):
    """The mapInArrow function: one `liquidator.Liquidator` per partition (task), fed in order."""

    def run(batches):
        import liquidator  # the extension, imported in the worker process

        claims_schema = ipc_schema(liquidator.claims_schema_ipc())
        refs = liquidator.open_refs(refs_dir)  # once per worker process, then shared
        lq = liquidator.Liquidator(refs, key)
        for b in batches:
            if b.num_rows == 0:
                continue
            t = pa.Table.from_batches([b]).select(claims_schema.names).cast(claims_schema)
            for cb in t.to_batches():
                for out in ipc_batches(lq.push(ipc_bytes(cb))):
                    if out.num_rows:
                        yield out
        for out in ipc_batches(lq.finish()):
            if out.num_rows:
                yield out
        parts = json.loads(lq.summaries_json())
        acc.add({"summaries": parts, "tasks": 1, "refs_loaded": liquidator.refs_loaded()})

    return run


def make_accumulator(sc):
    from pyspark.accumulators import AccumulatorParam

    class Totals(AccumulatorParam):
        def zero(self, value):
            return {"summaries": [], "tasks": 0, "refs_loaded": 0}

        def addInPlace(self, a, b):
            return {
                "summaries": a["summaries"] + b["summaries"],
                "tasks": a["tasks"] + b["tasks"],
                "refs_loaded": max(a["refs_loaded"], b["refs_loaded"]),
            }

    return sc.accumulator({"summaries": [], "tasks": 0, "refs_loaded": 0}, Totals())


def check_duplicates(df):
    """The `duplicate` column against its definition (formats/claims-arrow.md): among claims with a
    readable header, every claim after the first in file order of its (batch, practitioner, claim
    number) is a duplicate. Returns the number of claims where the column disagrees."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    claims = (
        df.where(F.col("row_kind") != "ORPHAN")
        .select("batch_number", "claim_offset", "practitioner", "claim_no", "duplicate")
        .dropDuplicates(["batch_number", "claim_offset"])
    )
    w = Window.partitionBy("batch_number", "practitioner", "claim_no").orderBy("claim_offset")
    expected = F.when(F.col("practitioner").isNull(), F.lit(False)).otherwise(F.row_number().over(w) > 1)
    return claims.withColumn("expected", expected).where(F.col("expected") != F.col("duplicate")).count()


def reconcile(spark, claims_dir, lines_dir, summary, manifest):
    """The identities of summary.json (the engine's `Summary::check`), then summary.json against the
    written Parquet (formats/parquet.md, "Reconciliation") and against the claims as read (the
    batch trailer's totals kept by convert). Returns (checks, all_ok)."""
    import liquidator
    from pyspark.sql import functions as F

    checked = json.loads(liquidator.check_summary(json.dumps(summary)))
    # Payment orders (SEPA, per payee over the whole batch) are not produced on this path: their
    # identity is not checked here (formats/claims-arrow.md, "Not produced").
    checks = [
        {"check": f"conservation.{k}", "ok": bool(v)}
        for k, v in checked["conservation"].items()
        if k not in NOT_PRODUCED_IDENTITIES
    ]
    lines = spark.read.parquet(lines_dir)

    def cents(c):
        return F.coalesce(F.sum(F.col(c) * 100).cast("long"), F.lit(0))

    by_status = {
        r["status"]: r
        for r in lines.groupBy("status")
        .agg(
            F.count(F.lit(1)).alias("n"),
            cents("billed").alias("billed"),
            *[cents(c).alias(c) for c in AMOUNTS],
        )
        .collect()
    }

    def get(status, field):
        r = by_status.get(status)
        return int(r[field]) if r is not None else 0

    pairs = [
        ("count PAID = lines_paid", get("PAID", "n"), summary["lines_paid"]),
        ("count REJECTED = claims_rejected", get("REJECTED", "n"), summary["claims_rejected"]),
        ("count REJECTED_LINE = line_rejections", get("REJECTED_LINE", "n"), summary["line_rejections"]),
        ("count ORPHAN = orphan_records", get("ORPHAN", "n"), summary["orphan_records"]),
        ("sum billed PAID = paid_billed_cents", get("PAID", "billed"), summary["paid_billed_cents"]),
        (
            "sum billed REJECTED* = rejected_billed_cents",
            get("REJECTED", "billed") + get("REJECTED_LINE", "billed"),
            summary["rejected_billed_cents"],
        ),
        ("sum billed ORPHAN = orphan_billed_cents", get("ORPHAN", "billed"), summary["orphan_billed_cents"]),
    ]
    for col, key in AMOUNTS.items():
        pairs.append((f"sum {col} = {key}", get("PAID", col), summary[key]))
    if manifest is not None:
        claims = spark.read.parquet(claims_dir)
        n_claims = claims.where(F.col("row_kind") != "ORPHAN").select("batch_number", "claim_offset").distinct().count()
        pairs += [
            ("claims in the claims Parquet = claims_read", n_claims, summary["claims_read"]),
            ("trailer claims (convert) = claims_read", manifest["claims"], summary["claims_read"]),
            (
                "trailer total (convert) = billed_cents + orphan_billed_cents",
                manifest["billed_cents"],
                summary["billed_cents"] + summary["orphan_billed_cents"],
            ),
            ("orphan records (convert) = orphan_records", manifest["orphan_records"], summary["orphan_records"]),
        ]
    for name, got, want in pairs:
        checks.append({"check": name, "parquet_or_input": got, "summary": want, "ok": got == want})
    return checks, all(c["ok"] for c in checks)


# Amount columns of formats/parquet.md and their summary.json fields.
AMOUNTS = {
    "base": "base_cents",
    "amo_gross": "amo_gross_cents",
    "amo_paid": "amo_paid_cents",
    "amc": "amc_cents",
    "patient": "patient_cents",
    "participation": "participations_cents",
    "franchise": "franchises_cents",
    "heavy_forfait": "heavy_forfait_cents",
    "excess": "excess_cents",
}


def read_key(path):
    if path:
        with open(path, "rb") as f:
            return f.read().rstrip(b"\r\n")
    v = os.environb.get(KEY_ENV.encode())
    if v is None:
        sys.exit(f"liquidate.py: a pseudonym key is needed: --pseudonym-key-file FILE or {KEY_ENV} (formats/parquet.md)")
    return v


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--claims", required=True, help="claims Parquet directory (liquidator convert)")
    p.add_argument("--refs", required=True, help="reference set directory (same path on every worker)")
    p.add_argument("--out", required=True)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--partitions", type=int, default=None, help="tasks (default: 2 × cores of the master)")
    p.add_argument("--pseudonym-key-file", default=None)
    p.add_argument("--check-duplicates", action="store_true")
    p.add_argument("--batch-rows", type=int, default=10000, help="rows per Arrow batch handed to a task")
    a = p.parse_args(argv)

    # Workers run the driver's interpreter (the venv with pyarrow and the extension) unless told
    # otherwise; on a cluster, PYSPARK_PYTHON names the executors' environment.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    key = read_key(a.pseudonym_key_file)
    refs_dir = os.path.abspath(a.refs)
    claims_dir = os.path.abspath(a.claims)
    out = os.path.abspath(a.out)
    spark = (
        SparkSession.builder.master(a.master)
        .appName("liquidator")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(a.batch_rows))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    t0 = time.time()
    import liquidator

    out_schema = ipc_schema(liquidator.liquidated_lines_schema_ipc())
    parts = a.partitions or 2 * spark.sparkContext.defaultParallelism
    claims = spark.read.parquet(claims_dir)
    if a.check_duplicates:
        bad = check_duplicates(claims)
        if bad:
            sys.exit(f"liquidate.py: {bad} claims whose `duplicate` flag disagrees with the batch (formats/claims-arrow.md)")
    acc = make_accumulator(spark.sparkContext)
    # State stays on one task: every row of a beneficiary (of a batch) in one partition; rows without
    # a beneficiary (unreadable headers, orphans) have a null key and share a partition. Then file
    # order within the partition.
    ordered = claims.repartition(parts, "batch_number", "beneficiary_key").sortWithinPartitions(
        "batch_number", "offset"
    )
    lines = ordered.mapInArrow(liquidate_partitions(refs_dir, key, acc), spark_schema(out_schema))
    lines_dir = os.path.join(out, "liquidated_lines")
    lines.write.mode("overwrite").parquet(lines_dir)
    t_liq = time.time() - t0

    summaries = acc.value["summaries"]
    summary = {}
    for s in summaries:
        summary = add_summaries(summary, s)
    for k in NOT_PRODUCED:
        summary[k] = 0
    summary = json.loads(liquidator.check_summary(json.dumps(summary)))
    manifest_path = os.path.join(claims_dir, "_convert.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else None
    checks, ok = reconcile(spark, claims_dir, lines_dir, summary, manifest)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(out, "reconciliation.json"), "w") as f:
        json.dump(
            {
                "ok": ok,
                "tasks": acc.value["tasks"],
                "partitions": parts,
                "max_refs_loaded_per_worker": acc.value["refs_loaded"],
                "liquidation_seconds": round(t_liq, 2),
                "checks": checks,
            },
            f,
            indent=2,
        )
    spark.stop()
    print(
        f"liquidated {summary['claims_read']} claims in {parts} tasks ({t_liq:.1f} s): "
        f"{summary['lines_paid']} lines paid, {summary['claims_rejected']} claims rejected; "
        f"reconciliation {'OK' if ok else 'FAILED'} ({out}/reconciliation.json)",
        file=sys.stderr,
    )
    return 0 if ok else 7


if __name__ == "__main__":
    sys.exit(main())
