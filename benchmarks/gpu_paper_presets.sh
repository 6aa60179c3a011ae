#!/usr/bin/env bash
# The paper presets on a lent GPU, each for a bounded time, on the built-in synthetic analogues of the papers' data.
# Records per model: step time, peak memory, and the held-out figures reached (FG-ARI / mBO beside the grid
# baselines, DCI, codebook use; for ALP held-out NLL and generation figures) in benchmarks/results/gpu_paper_presets.json.
# Budget: about 10 minutes in all on one H100/H200 (MINUTES per model, plus data rendering and evaluation).
#   bash benchmarks/gpu_paper_presets.sh            # MINUTES=1.5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-1.5}
OUT=${OUT:-runs/gpu_paper}
export OBJCENTRIC_CACHE=${OBJCENTRIC_CACHE:-$OUT/cache}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
for m in slate sysbinder svq; do
  objcentric train $m --preset paper --device cuda --precision bf16 --out-dir $OUT/$m --no-figures --no-progress \
    --set run.n_train=20000 --set run.n_val=256 --set run.n_eval=256 --set run.n_recon=8 --set run.eval_every=0 \
    --set run.time_limit_min=$MINUTES --set run.ckpt_every=100000 | tail -n 40 > $OUT/$m.log
done
objcentric train alp --preset paper --device cuda --precision bf16 --out-dir $OUT/alp --no-figures --no-progress \
  --set svq_dir=$OUT/svq --set run.time_limit_min=$MINUTES --set n_samples=64 | tail -n 40 > $OUT/alp.log
# VCT on Shapes3D: its VQ-VAE stage first (bounded), which the VCT run then finds in its out_dir/vqvae and reuses
objcentric train vqvae --preset paper_shapes3d --device cuda --precision bf16 --out-dir $OUT/vct/vqvae --no-figures --no-progress \
  --set run.n_train=20000 --set run.n_val=1000 --set run.time_limit_min=$MINUTES --set run.ckpt_every=100000 | tail -n 20 > $OUT/vqvae.log
objcentric train vct --preset paper_shapes3d --device cuda --precision bf16 --out-dir $OUT/vct --no-figures --no-progress \
  --set run.n_train=20000 --set run.n_val=1000 --set run.time_limit_min=$MINUTES --set run.ckpt_every=100000 | tail -n 40 > $OUT/vct.log
# NSI's paper preset (frozen DINO ViT-B/8, 15 slots, batch 128) on CLEVRTex-like scenes. The GPU machine cannot download:
# DINO_WEIGHTS=/path/vit_base_patch8_224.dino.safetensors gives the real backbone; without it the same architecture runs
# on its frozen initialisation (require_backbone off), which measures step time and memory only, not quality.
if [ -n "${DINO_WEIGHTS:-}" ] && [ -f "$DINO_WEIGHTS" ]; then NSI_BB=(--set backbone_weights="$DINO_WEIGHTS"); else NSI_BB=(--set opts.require_backbone=false); fi
objcentric train nsi --preset paper --device cuda --precision bf16 --out-dir $OUT/nsi --no-figures --no-progress "${NSI_BB[@]}" \
  --set run.n_train=5000 --set run.n_val=256 --set run.n_eval=256 --set run.n_eval_during=256 --set run.eval_every=0 \
  --set opts.n_property_eval=256 --set run.time_limit_min=$MINUTES --set run.ckpt_every=100000 | tail -n 40 > $OUT/nsi.log || true
python - "$OUT" <<'PY'
import json, sys, os, torch
from pathlib import Path
out = Path(sys.argv[1]); res = dict(device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu', torch=torch.__version__, models={})
for m in ('slate', 'sysbinder', 'svq', 'alp', 'vct', 'nsi'):
    f = out / m / 'metrics.json'
    if f.is_file(): res['models'][m] = json.loads(f.read_text())
Path('benchmarks/results/gpu_paper_presets.json').write_text(json.dumps(res, indent=1)); print(json.dumps(res, indent=1)[:3000])
PY
