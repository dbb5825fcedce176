#!/usr/bin/env bash
# The detection-quality benchmark (issue 12), shaped like the handbook's simulated
# data (every fraud is charged back): a fixed 7-day chargeback delay, a
# deterministic pattern (every payment above 500 is fraud), the model trained as of
# day 35 with the last 7 days left out (their chargebacks are not in yet), and the
# week after the cut held out. Prints, for the batch model alone and batch + online:
# AUC, AP, CP@100, AP per fraud pattern, blocked / reviewed / allowed frauds, and the
# reviews per day the decision policy produces.
#   bash docs/baseline/quality.sh        (part of `make baseline`)
set -euo pipefail
cd "$(dirname "$0")/../.."
R=${RISKWIRE:-.venv/bin/riskwire}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-var/quality}
DATA=$OUT/data
export RISKWIRE_MODEL_DIR=$OUT/models
rm -rf "$OUT" && mkdir -p "$OUT"

$R simulate --days 42 --chargeback-delay 7 --chargeback-share 1 --amount-threshold 500 --truth --out "$DATA"
$R train --transactions "$DATA/transactions.jsonl" --labels "$DATA/labels.jsonl" \
  --cutoff 2026-02-05 --maturity-days 7 ${TRAIN_FLAGS:-} | tee "$OUT/train.txt"
for variant in batch online; do
  flag=--no-online; [ "$variant" = online ] && flag=--online
  $R replay --transactions "$DATA/transactions.jsonl" --labels "$DATA/labels.jsonl" $flag \
    --out "$OUT/$variant.jsonl" 2> "$OUT/replay-$variant.log"
done
for variant in batch online; do
  name=batch; [ "$variant" = online ] && name=batch+online
  $PY -m evaluation.quality --transactions "$DATA/transactions.jsonl" --decisions "$OUT/$variant.jsonl" \
    --patterns "$DATA/fraud_patterns.txt" --from 2026-02-05 --to 2026-02-11 --name "$name (held-out week)"
done | tee "$OUT/quality.txt"
