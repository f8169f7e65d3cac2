#!/usr/bin/env bash
# Does the GPU do the work? On a machine with an NVIDIA GPU, in under five minutes:
#   1. the large demo panel (1000 symbols, 2.5 million rows) into a temporary registry;
#   2. the MLP and the GRU trained, evaluated and recorded on it in bf16 (`trainer=gpu
#      trainer.precision=bf16-mixed`, 3 epochs each, benchmarks/gpu_run.py, in one process):
#      rows per second, GPU busy share, peak GPU memory, time per phase of the run;
#   3. Lightning against a plain loop, steady-state epoch, GRU and MLP (benchmarks/bench_train.py).
# Run from anywhere; the repository is the working directory. Raw output goes to
# ${OUT:-/tmp}/gpu_check.txt; the summary block is printed last.
cd "$(dirname "$0")/.." || exit 1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
fi
set -uo pipefail
export PYTHONPATH="${PYTHONPATH:-$PWD}"
OUT_DIR="${OUT:-/tmp}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.txt"
: > "$LOG"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
EPOCHS="${GPU_CHECK_EPOCHS:-3}"
START=$SECONDS

step() {  # step NAME TIMEOUT COMMAND...: run, log, keep going on failure
  local name="$1" limit="$2"
  shift 2
  echo "=== $name: $*" | tee -a "$LOG"
  local t=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "SUMMARY step $name: rc $rc, $((SECONDS - t)) s" | tee -a "$LOG"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"
python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning',
lightning.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$LOG"

step demo 60 python3 -m ifns_train.data demo --symbols 1000 --registry-dir "$WORK/registry"
step train 150 python3 benchmarks/gpu_run.py --registry "$WORK/registry" \
  --output "$WORK/outputs" --models mlp gru --epochs "$EPOCHS" --precision bf16-mixed \
  --json "$OUT_DIR/gpu_runs.json"
for model in gru mlp; do
  step "bench_$model" 60 python3 benchmarks/bench_train.py --accelerator gpu --model "$model" \
    --precision bf16-mixed --registry "$WORK/registry" --batch-size 65536 --epochs 5 \
    --repeats 2 --skip-cli --skip-dataloader
done

{
  echo
  echo "===== gpu_check summary ($((SECONDS - START)) s in all) ====="
  grep -h '^SUMMARY' "$LOG" | sed 's/^SUMMARY //'
  echo "(rows/s: training rows x epochs / seconds of fit, validation included; GPU busy:"
  echo " mean utilization.gpu over each run, imports excluded; phases: ifns_train.run.timing)"
} | tee "$WORK/summary.txt"
cat "$WORK/summary.txt" >> "$LOG"
