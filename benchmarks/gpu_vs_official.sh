#!/usr/bin/env bash
# objcentric vs the official SLATE / SysBinder / NLoTM code on one lent GPU (about 8-10 minutes on an H100/H200).
#
# Paper presets (the official default configurations and batch sizes), official and ours with the same weights,
# 50 timed training steps each after 5 warm-up steps (alternating), greedy decoding of 8 images, FLOPs and MFU:
#   1. the same precision (fp32, PyTorch defaults: TF32 convolutions), with the fidelity check, dense and grouped GRU;
#   2. ours in bf16 against the official precision: fp32 (SLATE, SysBinder, the prior), fp16 autocast + GradScaler
#      for NLoTM's SVQ (its README trains with --fp16).
#   3. with --newer (about 6 more minutes): VCT, Visual GPT (needs `transformers` importable), the VQ-GAN before and during
#      its GAN phase, and NSI (with objcentric on cached features), fp32 with the fidelity check, then ours in bf16.
# Rows are appended to $OUT after every model, so a run cut short keeps what it measured.
#
# Needs checkouts of the three repositories (not vendored): $OFFICIAL_DIR/{slate,sysbinder,nlotm} =
# singhgautam/slate, singhgautam/sysbinder, yfw/nlotm (default OFFICIAL_DIR=data/official, a git-ignored path: carry it
# to the device machine, 0.5 MB); --newer also $OFFICIAL_DIR/{vct,visual-gpt,neural-slot-interpreters} = ThomasMrY/VCT,
# yzGuu830/visual-gpt, jha-lab/neural-slot-interpreters (VCT imports gin-config).
#
#   bash benchmarks/gpu_vs_official.sh                       # on the GPU; writes benchmarks/results/vs_official_cuda.json
#   bash benchmarks/gpu_vs_official.sh --device cpu --steps 2  # CPU dry run of every command: the small 'demo' configurations,
#                                                              # batch 1, no warm-up, no decoding, output in /tmp
#   options: --device D  --steps N  --official-dir DIR  --out FILE  --newer
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda STEPS=50 OFF="${OFFICIAL_DIR:-data/official}" OUT="" NEWER=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --official-dir) OFF="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --newer) NEWER=1; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
for r in slate sysbinder nlotm; do
  [ -d "$OFF/$r" ] || { echo "missing checkout $OFF/$r (set OFFICIAL_DIR or --official-dir)" >&2; exit 2; }
done

PY="${PYTHON:-python}"; [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
if [ "$DEVICE" = cpu ]; then      # dry run: the same commands, tiny batches, nothing heavy
  PRESET=demo; BATCH=(--batch-size 1); WARM=0; DEC=(--decode 0); THREADS=(--threads 1); OUT="${OUT:-/tmp/vs_official_dryrun.json}"
  NICE=(nice -n 10); export OMP_NUM_THREADS=1
else
  PRESET=paper; BATCH=(--batch-size slate=50 sysbinder=40 svq=40 alp=40); WARM=5; DEC=(--decode 1 --decode-batch 8); THREADS=()
  OUT="${OUT:-benchmarks/results/vs_official_cuda.json}"; NICE=()
fi
[ -f "$OUT" ] && [ "$DEVICE" = cpu ] && rm -f "$OUT"
run() { ${NICE[@]+"${NICE[@]}"} "$PY" benchmarks/vs_official.py --official-dir "$OFF" --device "$DEVICE" --preset "$PRESET" "${BATCH[@]}" \
          --steps "$STEPS" --warmup "$WARM" ${THREADS[@]+"${THREADS[@]}"} --out "$OUT" --merge "$@"; }

echo "== $(date -u +%FT%TZ) $DEVICE: nvidia-smi"; command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
t0=$SECONDS
echo "== 1. fp32 both sides, fidelity check, dense and grouped block GRU"
run --models slate alp "${DEC[@]}" --precision fp32 --check
run --models sysbinder svq "${DEC[@]}" --precision fp32 --gru-storage dense grouped --check
echo "== 2. ours bf16 vs the official precision (decoding measured in 1)"
run --models slate sysbinder alp --decode 0 --precision bf16 --official-precision fp32 --gru-storage grouped
if [ "$DEVICE" = cpu ]; then
  run --models svq --decode 0 --precision bf16 --official-precision fp32 --gru-storage grouped   # fp16 needs CUDA
else
  run --models svq --decode 0 --precision bf16 --official-precision fp16 --gru-storage grouped
fi
if [ "$NEWER" = 1 ]; then
  echo "== 3. VCT, Visual GPT, VQ-GAN, NSI: fp32 with the fidelity check, then ours in bf16"
  if [ "$DEVICE" = cpu ]; then NB=(--batch-size 2 --vct-tokenizer-steps 10); else NB=(--batch-size vct=32 vgpt=16 vqgan=16 nsi=64); fi
  runn() { ${NICE[@]+"${NICE[@]}"} "$PY" benchmarks/vs_official.py --official-dir "$OFF" --device "$DEVICE" --preset "$PRESET" "${NB[@]}" \
             --steps "$STEPS" --warmup "$WARM" ${THREADS[@]+"${THREADS[@]}"} --out "$OUT" --merge "$@"; }
  M=(vct vqgan nsi); "$PY" -c "import transformers" 2>/dev/null && M=(vct vgpt vqgan nsi) || echo "(no transformers: Visual GPT skipped)"
  runn --models "${M[@]}" "${DEC[@]}" --precision fp32 --check
  runn --models vqgan --gan --decode 0 --precision fp32
  runn --models "${M[@]}" --decode 0 --precision bf16 --official-precision fp32
fi
echo "== done in $((SECONDS - t0)) s: $OUT"
