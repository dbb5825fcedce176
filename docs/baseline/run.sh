#!/usr/bin/env bash
# Reproduces docs/baseline/README.md: the batch model alone vs batch + online,
# on the default simulated dataset with an account-takeover wave from day 14.
#   make baseline            (or: bash docs/baseline/run.sh)
# Everything runs on a private embedded Redis; nothing else is needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
R=${RISKWIRE:-.venv/bin/riskwire}
OUT=${OUT:-var/baseline}
DOCS=docs/baseline
DATA=$OUT/data
export RISKWIRE_MODEL_DIR=$OUT/models
rm -rf "$OUT" && mkdir -p "$OUT" "$DOCS"

# 1. 60 days, 2,000 cards; from 2026-02-15 (day 45) account takeover appears.
$R simulate --days 60 --drift new_pattern --drift-day 45 --out "$DATA"

# 2. The batch model, trained as of the drift day: only labels reported by then
#    (chargebacks take 1-60 days, so the last 12 days before it are left out).
$R train --transactions "$DATA/transactions.jsonl" --labels "$DATA/labels.jsonl" --cutoff 2026-02-15 \
  | tee "$OUT/train.txt"

# 3. Both variants over the whole history, labels in event time.
$R replay --transactions "$DATA/transactions.jsonl" --labels "$DATA/labels.jsonl" --no-online --out "$OUT/batch.jsonl"
$R replay --transactions "$DATA/transactions.jsonl" --labels "$DATA/labels.jsonl" --online --out "$OUT/online.jsonl"

# 4. Quality, overall and per day, and the two side by side.
$R evaluate --transactions "$DATA/transactions.jsonl" --labels "$DATA/labels.jsonl" \
  --decisions "$OUT/batch.jsonl" --json "$OUT/batch.json" --html "$OUT/batch.html" > "$OUT/batch.txt"
$R evaluate --transactions "$DATA/transactions.jsonl" --labels "$DATA/labels.jsonl" \
  --decisions "$OUT/online.jsonl" --name batch+online --compare "batch=$OUT/batch.jsonl" \
  --mark-day 2026-02-15 --compare-png "$DOCS/ap_per_day.png" \
  --json "$OUT/online.json" --html "$OUT/online.html" > "$OUT/online.txt"
cat "$OUT/online.txt"
echo "reports: $OUT/batch.html $OUT/online.html; plot: $DOCS/ap_per_day.png"
