#!/usr/bin/env bash
# The main job on the bundled data: the quick cats-vs-dogs study (see README.md, "Studies").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data=${CONVKIT_DATA:-../shared/data/cats_and_dogs_small}
if [[ ! -d $data ]]; then
  echo "convkit demo: data folder $data not found; set CONVKIT_DATA to a folder with train/, validation/ and test/ class folders" >&2
  exit 2
fi
out=${CONVKIT_OUT:-out/cats-vs-dogs}
node --no-concurrent-marking bin/convkit.js study cats-vs-dogs --data "$data" --out "$out" --profile "${CONVKIT_PROFILE:-quick}" "$@"
echo "convkit demo: the report is $(cd "$out" && pwd)/index.html (try the best model in try.html beside it)"
