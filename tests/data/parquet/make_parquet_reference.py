#!/usr/bin/env python3
# Writes the Parquet files of tests/data/parquet/ from reports.csv beside it (the first 400
# reports of `trackcorr generate --seed 1`), the ways other tools write Parquet, for
# tests/parquet.rs: trackcorr must read each to the same reports as the CSV, or refuse it with
# a clear message.
#
# Run by hand (not by CI). The committed files were produced with exactly:
#
#   python3 -m pip install pyarrow==26.0.1
#   python3 tests/data/parquet/make_parquet_reference.py
#
# Files:
#   pandas.parquet      pyarrow's defaults, which pandas' DataFrame.to_parquet uses: Snappy,
#                       dictionary encoding, data page v1, one row group; `truth` nullable.
#   zstd_pages.parquet  Zstandard (polars' default codec), data page v2, no dictionary,
#                       row groups of 64 rows and pages of about 1 KiB.
#   narrow.parquet      replay uint32, track int32, truth uint16, sensor dictionary-encoded
#                       (a pandas category), time as timestamp[ms] since 1970 (so seconds),
#                       columns in another order.
#   nan.parquet         as pandas.parquet with vx of row 5 NaN: an error at row 5, column 9.
#   gzip.parquet        GZIP, row groups of 100 rows.
#   lz4.parquet         LZ4 (LZ4_RAW).
#   brotli.parquet      Brotli: trackcorr reads Snappy, Zstandard, GZIP, LZ4 and none only.
#   nested.parquet      a list column: trackcorr reads flat tables only.
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    names = open(os.path.join(HERE, "reports.csv")).readline().strip().split(",")
    types = {n: pa.float64() for n in names}
    types.update(replay=pa.int64(), track=pa.int64(), truth=pa.int64(), sensor=pa.string())
    table = pacsv.read_csv(
        os.path.join(HERE, "reports.csv"),
        convert_options=pacsv.ConvertOptions(column_types=types),
    )

    def out(name):
        return os.path.join(HERE, name)

    pq.write_table(table, out("pandas.parquet"))
    pq.write_table(
        table,
        out("zstd_pages.parquet"),
        compression="zstd",
        data_page_version="2.0",
        use_dictionary=False,
        row_group_size=64,
        data_page_size=1024,
    )

    narrow = table.set_column(
        names.index("replay"), "replay", pc.cast(table["replay"], pa.uint32())
    )
    narrow = narrow.set_column(names.index("track"), "track", pc.cast(table["track"], pa.int32()))
    narrow = narrow.set_column(names.index("truth"), "truth", pc.cast(table["truth"], pa.uint16()))
    narrow = narrow.set_column(names.index("sensor"), "sensor", pc.dictionary_encode(table["sensor"]))
    ms = pc.cast(pc.round(pc.multiply(table["time"], 1000.0)), pa.int64())
    narrow = narrow.set_column(names.index("time"), "time", pc.cast(ms, pa.timestamp("ms")))
    order = names[5:] + names[:5]
    pq.write_table(narrow.select(order), out("narrow.parquet"))

    vx = table["vx"].to_pylist()
    vx[5] = float("nan")
    pq.write_table(
        table.set_column(names.index("vx"), "vx", pa.array(vx, pa.float64())),
        out("nan.parquet"),
    )

    pq.write_table(table, out("gzip.parquet"), compression="gzip", row_group_size=100)
    pq.write_table(table, out("lz4.parquet"), compression="lz4")
    pq.write_table(table, out("brotli.parquet"), compression="brotli")

    lists = pa.array([[i, i + 1] for i in range(table.num_rows)], pa.list_(pa.int64()))
    pq.write_table(table.append_column("extra", lists), out("nested.parquet"))


if __name__ == "__main__":
    main()
