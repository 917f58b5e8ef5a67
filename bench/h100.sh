#!/bin/bash
# The real-GPU figures of BENCHMARKS.md ("Real GPU"), on a machine lent by the device tool.
#
# Here, in the repository root: build, strip into .devbin/ (ignored) and fetch the Vulkan
# loader into .gl/ (the device tool's README, "the .gl recipe"):
#   cargo build --release && cargo bench --no-run
#   mkdir -p .devbin && strip -o .devbin/trackcorr target/release/trackcorr
#   strip -o .devbin/kernels "$(ls -t target/release/deps/kernels-* | grep -v '\.d$' | head -1)"
#   cp ../shared/reference/lap_scipy.txt .devbin/ && cp bench/h100.sh .devbin/
# There, with .gl and .devbin carried: `bash .devbin/h100.sh benches`, `runs`, `e2e` (whole
# runs with their resident size) or `read` (each within a call's 10 minutes); the logs land
# in $OUT.
# bench/h100-log.txt is what six calls of earlier versions of this script printed.
set -u
R=$PWD
B=$R/.devbin/trackcorr
K=$R/.devbin/kernels
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
L=$OUT/log-$1.txt
TIMEFORMAT='   %R s wall, %U s user'
# Runs a command, its output and time into the log.
step() {
    echo "== $*" >>"$L"
    { time "$@" >>"$L" 2>&1; } 2>>"$L"
    echo "   rc $?" >>"$L"
}
# Runs a command, its wall time and largest resident size into the log.
rss() {
    echo "== $*" >>"$L"
    python3 -c "import resource,subprocess,sys,time; t=time.time(); r=subprocess.run(sys.argv[1:]).returncode; print('   rc', r, '%.2f s wall' % (time.time()-t), 'max RSS %.0f MB' % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024))" "$@" >>"$L" 2>&1
}
# 200 replays correlated on both backends, their associations compared.
correlate_200() {
    step "$B" generate --seed 7 --replays 200 --out g200 -q
    for b in gpu cpu; do
        rss "$B" correlate --reports g200/reports.csv --sensors g200/sensors.csv \
            --truth g200/truth.csv --backend $b --out c$b -v
    done
    step cmp cgpu/associations.csv ccpu/associations.csv
}
# 1000 replays made, and correlated on the GPU.
correlate_1000() {
    step "$B" generate --seed 1 --replays 1000 --out g1000 -q
    rss "$B" correlate --reports g1000/reports.csv --sensors g1000/sensors.csv \
        --truth g1000/truth.csv --backend gpu --out c1000 -v
}
mkdir -p /tmp/w && cd /tmp/w || exit 1
case "$1" in
benches)
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv >>"$L"
    nproc >>"$L"
    step "$B" bench pipeline --replays 1000 --backend gpu --json "$OUT/h100-pipeline-1000.json"
    step "$K" --bench --noplot
    TRACKCORR_BENCH_SCALE=64 step "$K" --bench --noplot gpu
    step "$B" bench assign --problems "$R/.devbin/lap_scipy.txt" --solver auction --backend gpu
    ;;
runs)
    correlate_200
    g="--reports g200/reports.csv --sensors g200/sensors.csv"
    # shellcheck disable=SC2086
    step "$B" verify $g
    for m in "" "--one-to-one"; do
        for b in gpu cpu; do
            # shellcheck disable=SC2086
            step "$B" history $g --epoch-interval 2 $m --backend $b -v --out h$b
        done
        step cmp hgpu/history_associations.csv hcpu/history_associations.csv
    done
    step "$B" generate --seed 1 --replays 1000 --out g1000 -q
    for b in cpu gpu; do
        step "$B" track --detections g1000/detections.csv --sensors g1000/sensors.csv --backend $b -v --out t$b
    done
    python3 - >>"$L" 2>&1 <<'PY'
import csv
def keys(p):
    with open(p) as f:
        r = csv.reader(f)
        next(r)
        return [tuple(row[:5]) for row in r]
a, b = keys('tcpu/reports.csv'), keys('tgpu/reports.csv')
print('track reports cpu', len(a), 'gpu', len(b), 'same (replay,time,sensor,track,label):', a == b)
PY
    ;;
read)
    correlate_1000
    ;;
e2e)
    correlate_200
    correlate_1000
    rss "$B" track --detections g1000/detections.csv --sensors g1000/sensors.csv --backend cpu -v --out t1000
    ;;
esac
echo done >>"$L"
