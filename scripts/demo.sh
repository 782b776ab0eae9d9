#!/usr/bin/env bash
# The main job on the bundled data: see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data=${CONVKIT_DATA:-../shared/data/cats_and_dogs_small}
if [[ ! -d $data ]]; then
  echo "convkit demo: data folder $data not found; set CONVKIT_DATA to a folder with train/ and validation/ class folders" >&2
  exit 2
fi
mkdir -p out
node bin/convkit.js preview --data "$data/train" --out out/preview.png --seed 1
echo "convkit demo: wrote out/preview.png"
