#!/usr/bin/env bash
# GPU readiness (issue 14): one prepared script for a machine with a GPU, one table at the end.
#
#   bash bench/gpu.sh [--smoke] [--compile]
#
# Parts, each in its own process under its own timeout; a part that fails, crashes or runs out
# of time gives a FAIL row with the reason and the script goes on:
#   trainer  our Trainer vs the Hugging Face Trainer, bf16, SDPA, fused AdamW (bench/gpu_bench.py)
#   mfu      BERT-base-shaped model in our Trainer: tokens/s, TFLOP/s, MFU against the GPU's peak
#   oom      the OOM-halving guard on a real CUDA out-of-memory
#   ddp      torchrun --standalone --nproc_per_node=<GPUs> bench/gpu_ddp.py: nccl all_reduce
#            (bandwidth) and a DDP step (one GPU: one nccl process, still init + all_reduce)
# Worst case, every timeout spent: about 9.5 minutes (T_TRAINER, T_MFU, T_OOM, T_DDP override). Without CUDA (or with --smoke) every part runs
# its CPU variant at tiny sizes (under a minute), rows marked CPU, and the script exits 0.
# --compile: torch.compile in the trainer and mfu parts. Python: $WB_PYTHON, else .venv/bin/python,
# else python3; where .venv's torch sees no GPU but python3's does, python3. Wheels in .whl/ (if
# any) are installed into a scratch folder first (packages the GPU machine's Python lacks).
set -u
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

SMOKE=0
COMPILE=()
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    --compile) COMPILE=(--compile) ;;
    *) echo "usage: bash bench/gpu.sh [--smoke] [--compile]" >&2; exit 2 ;;
  esac
done

sees_cuda() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

PY_NOTE=""
if [ -n "${WB_PYTHON:-}" ]; then
  PY="$WB_PYTHON"
elif [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
  if [ "$SMOKE" = 0 ] && command -v nvidia-smi >/dev/null 2>&1 && ! sees_cuda "$PY" \
      && command -v python3 >/dev/null 2>&1 && sees_cuda python3; then
    PY=python3
    PY_NOTE=" (.venv's torch sees no GPU; python3's does)"
  fi
else
  PY=python3
fi

if compgen -G ".whl/*.whl" >/dev/null; then
  SITE="${TMPDIR:-/tmp}/wb-gpu-site"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl && export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

INFO=$("$PY" - "$SMOKE" <<'EOF' 2>&1
import sys
try:
    import torch
except Exception as exc:
    print(f"0 no torch ({exc})")
    raise SystemExit
n = torch.cuda.device_count() if torch.cuda.is_available() else 0
names = ", ".join(torch.cuda.get_device_name(i) for i in range(n)) or "none"
print(n, f"torch {torch.__version__} (CUDA {torch.version.cuda}), GPUs: {names}")
EOF
)
GPUS=${INFO%% *}
case "$GPUS" in ''|*[!0-9]*) GPUS=0 ;; esac
echo "python: $PY$PY_NOTE; ${INFO#* }"
if [ "$GPUS" = 0 ] || [ "$SMOKE" = 1 ]; then
  if [ "$GPUS" = 0 ]; then
    echo "NO CUDA GPU on this machine: running the --smoke CPU variant of each part (tiny sizes);"
    echo "these rows check the script, not a GPU. Run it on a machine with a GPU for figures."
  else
    echo "--smoke: the CPU variant of each part (tiny sizes), the GPU left alone."
  fi
  SMOKE=1
  MODE=(--smoke)
  T_SMOKE=90 T_DDP=60
else
  MODE=()
  # seconds per part, each settable from the environment (a --compile run may want more)
  T_TRAINER=${T_TRAINER:-200} T_MFU=${T_MFU:-140} T_OOM=${T_OOM:-110} T_DDP=${T_DDP:-80}
fi

ROWS=$(mktemp "${TMPDIR:-/tmp}/wb-gpu-rows.XXXXXX")
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/wb-gpu-logs.XXXXXX")
trap 'rm -f "$ROWS"' EXIT

# a FAIL row for a part that wrote none (it crashed or ran out of time): its last stderr line
fail_row() {  # part, exit code, seconds allowed, log
  local why
  if [ "$2" = 124 ] || [ "$2" = 137 ]; then
    why="timed out after $3 s"
  else
    why="exit $2: $(grep -v '^\s*$' "$4" | tail -n 1 | cut -c1-300)"
  fi
  "$PY" - "$ROWS" "$1" "$why" <<'EOF'
import json, sys
with open(sys.argv[1], "a") as fh:
    fh.write(json.dumps({"part": sys.argv[2], "name": sys.argv[2], "status": "FAIL",
                         "value": "", "detail": sys.argv[3]}) + "\n")
EOF
}

run_part() {  # parts (comma-separated), seconds, command...
  local parts=$1 secs=$2 rc p
  shift 2
  echo "== $parts (at most $secs s)"
  timeout -k 10 "$secs" "$@" >"$LOGS/$parts.out" 2>"$LOGS/$parts.err"
  rc=$?
  for p in ${parts//,/ }; do
    if ! grep -q "\"part\": \"$p\"" "$ROWS"; then
      fail_row "$p" "$rc" "$secs" "$LOGS/$parts.err"
      tail -n 20 "$LOGS/$parts.err" >&2
    fi
  done
}

if [ "$SMOKE" = 1 ]; then  # one process for the three: on 2 busy cores the imports dominate
  run_part trainer,mfu,oom "$T_SMOKE" "$PY" -m bench.gpu_bench --part trainer,mfu,oom \
    --rows "$ROWS" "${MODE[@]}" "${COMPILE[@]}"
else
  for part in trainer mfu oom; do
    secs_var="T_${part^^}"
    run_part "$part" "${!secs_var}" "$PY" -m bench.gpu_bench --part "$part" --rows "$ROWS" \
      "${MODE[@]}" "${COMPILE[@]}"
  done
fi

# DDP: one process per GPU with nccl; the smoke test, two CPU processes with gloo
NPROC=$([ "$SMOKE" = 1 ] && echo 2 || echo "$GPUS")
run_part ddp "$T_DDP" "$PY" -m torch.distributed.run --standalone --nproc_per_node="$NPROC" \
  bench/gpu_ddp.py --rows "$ROWS" "${MODE[@]}"

echo
"$PY" -m bench.gpu_bench --table "$ROWS"
echo "(logs: $LOGS)"
exit 0
