#!/bin/sh
# Seeds fuzz/corpus/readers from the bad-input corpus, a small generated scenario in CSV and
# in Parquet, and tests/data/parquet: every file once per reader (the first byte picks the reader and strict or lenient).
#   fuzz/seed.sh [path/to/trackcorr]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/trackcorr}
out=$here/corpus/readers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" generate --replays 1 --objects 2 --duration 60 --out "$tmp/g" 2>/dev/null
"$bin" generate --replays 1 --objects 1 --duration 20 --format parquet --out "$tmp/p" 2>/dev/null
mkdir -p "$out"
i=0
for f in "$here"/../tests/data/bad/*.csv "$tmp"/g/*.csv "$tmp"/p/*.parquet \
    "$here"/../tests/data/parquet/*.parquet; do
    case $f in
        *.parquet) cp "$f" "$tmp/cut" ;;   # whole: its footer is at the end
        *) head -c 20000 "$f" > "$tmp/cut" ;;
    esac
    for b in 000 040 100 120 160 200 240 320; do   # octal: 0x00 0x20 0x40 0x50 0x70 0x80 0xa0 0xd0
        { printf "\\$b"; cat "$tmp/cut"; } > "$out/seed_${i}_$b"
    done
    i=$((i + 1))
done
echo "$(ls "$out" | wc -l) seeds in $out"
