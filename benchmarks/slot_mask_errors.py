"""Where the slot models' remaining FG-ARI is lost: merged objects, per-image FG-ARI, the masks' upsampling, more
slot-attention iterations at evaluation only (the trained weights unchanged), and the ceiling of the 12x12 token grid
(the ground truth pooled to the grid and brought back).

    python benchmarks/slot_mask_errors.py [RUN ...]   # ~30 s; reads runs/bench/{slate,sysbinder,svq}_cpu_demo (and runs/bench/RUN), updates results/slot_mask_errors.json
"""
import json, os, sys, time
from pathlib import Path
import torch, torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.core import grid_masks
from objcentric.recipes import load_pretrained, build_datasets, RunConfig, batches
from objcentric.metrics import segmentation_metrics


def _seg(t, m): return {k: round(v, 4) for k, v in segmentation_metrics(t, m).items() if k in ('fg_ari', 'mbo')}


def _attn(model, va, n:int, iters:int|None=None):
    "Soft attention masks of n held-out images (fixed noise), optionally with `iters` slot-attention iterations"
    mods = [m for m in model.modules() if hasattr(m, 'num_iters') and hasattr(m, 'num_slots')]
    was = [m.num_iters for m in mods]; g = torch.Generator().manual_seed(0); A, T = [], []
    try:
        for m in mods: m.num_iters = iters or m.num_iters
        with torch.no_grad():
            for b in batches(va, n, 64):
                A.append(model.encode(b['image'].float(), generator=g).attn.float()); T.append(b['masks'])
    finally:
        for m, w in zip(mods, was): m.num_iters = w
    return torch.cat(A), torch.cat(T)


def model_errors(run_dir:Path) -> tuple:
    meta = json.loads((run_dir / 'run.json').read_text()); rc = RunConfig.from_dict(meta['run_config'])
    model = load_pretrained(run_dir / 'model').eval()
    _, va = build_datasets(rc, model.cfg.image_size, meta.get('data_path'), meta.get('seed', 0))
    a, t = _attn(model, va, rc.n_eval); S = model.cfg.image_size
    near, bil = grid_masks(a, S, 'nearest'), grid_masks(a, S, 'bilinear')
    pred, tl = near.argmax(1), t.float().argmax(1)
    merged = in_bg = n_obj = 0
    for i in range(len(t)):
        bg = torch.mode(pred[i][tl[i] == 0]).values
        maj = [int(torch.mode(pred[i][tl[i] == o]).values) for o in range(1, t.shape[1]) if (tl[i] == o).any()]
        n_obj += len(maj); merged += len(maj) - len(set(maj)); in_bg += sum(s == bg for s in maj)
    per = torch.tensor([segmentation_metrics(t[i:i + 1], near[i:i + 1])['fg_ari'] for i in range(len(t))])
    q = per.nan_to_num(1.0).quantile(torch.tensor([.1, .5, .9]))
    return dict(objects=n_obj, merged=merged, in_background_slot=int(in_bg), per_image_fg_ari_10_50_90=[round(float(v), 3) for v in q],
                nearest=_seg(t, near), bilinear=_seg(t, bil),
                bilinear_eval_iters={k: _seg(t, grid_masks(_attn(model, va, rc.n_eval, k)[0], S, 'bilinear')) for k in (5, 7)}), t


def grid_ceiling(t, size:int, grid:int) -> dict:
    "The ground-truth object masks pooled to the grid (background down-weighted 100x) and brought back"
    oh = t.float(); w = torch.ones(oh.shape[1]); w[0] = 0.01
    pooled = F.adaptive_avg_pool2d(oh, grid) * w[None, :, None, None]
    return dict(nearest=_seg(t, grid_masks(pooled, size, 'nearest')), bilinear=_seg(t, grid_masks(pooled, size, 'bilinear')))


def main():
    la0, t0 = os.getloadavg(), time.perf_counter()
    f = ROOT / 'benchmarks' / 'results' / 'slot_mask_errors.json'
    prev = json.loads(f.read_text()) if f.is_file() else {}
    res = dict(prev.get('results', {}))                    # runs not found here keep their earlier entries
    runs = dict(prev.get('runs', {}))                      # which command (and load) measured each entry
    extra, new = sys.argv[1:], []                          # further run folders under runs/bench, e.g. svq_cpu_demo_tok1500
    cmd = ' '.join(['python benchmarks/slot_mask_errors.py', *extra])
    for name in ('slate', 'sysbinder', 'svq', *extra):
        d = ROOT / 'runs' / 'bench' / (name if name in extra else f'{name}_cpu_demo')
        if not (d / 'model').is_dir(): print(f'{d}: no run (python benchmarks/quality.py {name}); its earlier entry is kept'); continue
        res[name], t = model_errors(d); new.append(name); print(name, res[name])
        runs[name] = dict(command=cmd, load_avg_before=[round(v, 2) for v in la0], date=time.strftime('%Y-%m-%d'))
    if new: res['grid_ceiling_12x12'] = grid_ceiling(t, t.shape[-1], 12); print('ceiling', res['grid_ceiling_12x12'])
    out = dict(command=cmd, load_avg_before=[round(v, 2) for v in la0], wall_s=round(time.perf_counter() - t0, 1), results=res, runs=runs)
    f.write_text(json.dumps(out, indent=1)); print('wrote', f)


if __name__ == '__main__': main()
