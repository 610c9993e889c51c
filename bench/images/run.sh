#!/usr/bin/env bash
# Image-folder loading, moe4's worker against torchvision's ImageFolder +
# DataLoader on the same generated folder of JPEGs with the same threads:
# first load and cached load, images/s (issue 19; targets: >= 3x first,
# >= 20x cached). Writes one JSON object with both sides, the ratios and the
# load average before and after (the figures are only meaningful on an idle
# machine).
#
#   bench/images/run.sh [--images 50000] [--threads N] [--size 64] [--resize 32]
#                       [--json FILE] IMAGE_LOAD_BENCH MAKE_IMAGES
set -euo pipefail
images=50000 threads=$(nproc) size=64 resize=32 json=""
while (($# > 2)); do
  case $1 in
    --images) images=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --resize) resize=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    *) echo "bench/images/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bench=$1 make_images=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/moe4-image-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
classes=10
per_class=$(( images / classes ))
"$make_images" --out "$work/data/ds" --classes $classes --train "$per_class" --test 1 --size "$size" --format jpg >&2
# Both sides read the same files from the OS page cache: warm it once.
find "$work/data/ds" -type f -exec cat {} + >/dev/null
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ours=$("$bench" --dir "$work/data/ds" --data-root "$work/data" --threads "$threads" --resize "$resize")
peer=$(/usr/bin/python3 "$here/torchvision_peer.py" --dir "$work/data/ds" --threads "$threads" --resize "$resize")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
result=$(/usr/bin/python3 - "$ours" "$peer" "$load_before" "$load_after" <<'PY'
import json, sys
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "moe4": ours, "torchvision": peer,
    "first_load_ratio": ours["first_load_images_per_s"] / peer["first_load_images_per_s"],
    "cached_load_ratio": ours["cached_load_images_per_s"] / peer["cached_load_images_per_s"],
    "loadavg_before": sys.argv[3], "loadavg_after": sys.argv[4],
}, indent=1))
PY
)
echo "$result"
[[ -z $json ]] || echo "$result" >"$json"
