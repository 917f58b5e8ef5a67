#!/usr/bin/env bash
# trackcorr's Parquet outputs read by pyarrow (pandas' and polars' reader) to the values of
# its CSV outputs, for generate, correlate, track and history, from the repository root:
#
#     python3 -m pip install pyarrow==26.0.1
#     cargo build --release            # or TRACKCORR=path/to/trackcorr
#     bash tools/parquet/test_pyarrow.sh
set -euo pipefail

PYTHON=${PYTHON:-python3}
TRACKCORR=${TRACKCORR:-target/release/trackcorr}
tc() { "$TRACKCORR" -q "$@"; }

"$PYTHON" -c 'import pyarrow.parquet' 2>/dev/null ||
    { echo "test_pyarrow: pyarrow is not installed: $PYTHON -m pip install pyarrow==26.0.1" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in csv parquet; do
    tc generate --seed 3 --replays 2 --duration 200 --format $f --out "$tmp/g-$f"
    tc correlate --reports "$tmp/g-$f/reports.$f" --sensors "$tmp/g-$f/sensors.csv" \
        --truth "$tmp/g-$f/truth.$f" --backend cpu --format $f --out "$tmp/c-$f"
    tc track --detections "$tmp/g-$f/detections.$f" --sensors "$tmp/g-$f/sensors.csv" \
        --backend cpu --format $f --out "$tmp/t-$f"
    tc history --reports "$tmp/g-$f/reports.$f" --epoch-interval 2 --backend cpu \
        --format $f --out "$tmp/h-$f"
done
"$PYTHON" "$(dirname "$0")/check_pyarrow.py" \
    "$tmp/g-csv" "$tmp/g-parquet" "$tmp/c-csv" "$tmp/c-parquet" \
    "$tmp/t-csv" "$tmp/t-parquet" "$tmp/h-csv" "$tmp/h-parquet"
echo "test_pyarrow: ok"
