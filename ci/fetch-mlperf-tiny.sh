#!/usr/bin/env bash
# The model tier's default models, MLPerf Tiny's int8 models (mlcommons/tiny, Apache-2.0), for a
# machine that has no ../shared/models/mlperf-tiny beside the checkout (a CI runner):
#     bash ci/fetch-mlperf-tiny.sh DIR && utvm ci presubmit --models-dir DIR
# Files already in DIR that match ci/mlperf-tiny.sha256 are kept; anything fetched must match it.
set -euo pipefail
dir=${1:?usage: fetch-mlperf-tiny.sh DIR}
sums="$(cd "$(dirname "$0")" && pwd)/mlperf-tiny.sha256"
commit=${MLPERF_TINY_COMMIT:-1afd2c9}  # the commit ../shared/models/mlperf-tiny was copied from
base="https://raw.githubusercontent.com/mlcommons/tiny/$commit/benchmark/training"
declare -A source=(
  [kws01.tflite]=keyword_spotting/trained_models/kws_ref_model.tflite
  [vww01.tflite]=visual_wake_words/trained_models/vww_96_int8.tflite
  [ic01.tflite]=image_classification/trained_models/pretrainedResnet_quant.tflite
  [ad01.tflite]=anomaly_detection/trained_models/ad01_int8.tflite
)
mkdir -p "$dir"
cd "$dir"
for name in "${!source[@]}"; do
  if grep " $name\$" "$sums" | sha256sum --quiet -c - 2>/dev/null; then
    continue
  fi
  curl -fsSL --retry 3 -o "$name" "$base/${source[$name]}"
done
sha256sum -c "$sums"
