#!/usr/bin/env python3
"""Checks that pyarrow (what pandas and polars read Parquet with) reads every Parquet table
trackcorr wrote in PARQUET_DIR to the values of the CSV table of the same name in CSV_DIR,
written by the same run with --format csv.

    python3 -m pip install pyarrow==26.0.1
    python3 tools/parquet/check_pyarrow.py CSV_DIR PARQUET_DIR [CSV_DIR PARQUET_DIR ...]

Exit 0 when every pair agrees (same columns in the same order, same rows, the same numbers
bit for bit, empty CSV fields as nulls); otherwise 1 with the first difference.
"""
import math
import os
import sys

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

TEXT = {"sensor", "sensor_a", "sensor_b", "network"}


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def check(csv_dir, parquet_dir):
    names = sorted(f for f in os.listdir(parquet_dir) if f.endswith(".parquet"))
    if not names:
        sys.exit(f"check_pyarrow: no .parquet file in {parquet_dir}")
    for name in names:
        stem = name[: -len(".parquet")]
        pt = pq.read_table(os.path.join(parquet_dir, name))
        csv_path = os.path.join(csv_dir, stem + ".csv")
        header = open(csv_path).readline().strip().split(",")
        types = {n: pt.schema.field(n).type for n in header if n in pt.schema.names}
        ct = pacsv.read_csv(
            csv_path,
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, null_values=[""]
            ),
        )
        if pt.schema.names != header:
            sys.exit(f"check_pyarrow: {name}: columns {pt.schema.names} != CSV {header}")
        if pt.num_rows != ct.num_rows:
            sys.exit(f"check_pyarrow: {name}: {pt.num_rows} rows != CSV {ct.num_rows}")
        for col in header:
            kind = str(pt.schema.field(col).type)
            expected = "string" if col in TEXT else None
            if expected and kind != expected:
                sys.exit(f"check_pyarrow: {name}: column {col} is {kind}, expected {expected}")
            a, b = pt[col].to_pylist(), ct[col].to_pylist()
            for row, (x, y) in enumerate(zip(a, b)):
                if not same(x, y):
                    sys.exit(f"check_pyarrow: {name}: row {row} column {col}: {x!r} != CSV {y!r}")
        print(f"check_pyarrow: {os.path.join(parquet_dir, name)}: {pt.num_rows} rows, "
              f"{len(header)} columns, same as the CSV")


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    for k in range(0, len(args), 2):
        check(args[k], args[k + 1])


if __name__ == "__main__":
    main()
