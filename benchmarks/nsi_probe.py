"""Probe: how fast NSI's slots and broadcast decoder learn to reconstruct the frozen features alone (no contrastive term).

Builds the `nsi` `cpu_demo` preset (changed by `--model` JSON), its data and its pre-trained ViT (from the shared cache,
trained first if absent), computes the features of 2,048 training and 256 held-out scenes once, then trains only the
image side (pre-MLP, slot attention, decoder) on the feature MSE with Adam and reports, every `--eval-every` steps,
the held-out MSE beside two references (predicting each position's mean feature, and the best piecewise-constant
reconstruction that knows the true objects), the decoder's and slot attention's FG-ARI / mBO, and the biggest slot's
share. Outside the recipe (no run folder); results are appended to benchmarks/results/nsi_probe.json.

    python benchmarks/nsi_probe.py std_pos --model '{"standardize": true, "sa_pos": true, "dec_pos": "fourier"}' --lr 1e-3
"""
import argparse, dataclasses, json, os, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import get_preset, build_datasets, batches, _data_key
from objcentric.metrics import segmentation_metrics
from objcentric.nsi import NSI
from objcentric.zoo_nsi import with_schema, pretrain_backbone


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('tag'); ap.add_argument('--model', default='{}', help='NSIConfig fields changed, as JSON')
    ap.add_argument('--steps', type=int, default=600); ap.add_argument('--eval-every', type=int, default=200)
    ap.add_argument('--lr', type=float, default=4e-4); ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--out', default=str(ROOT / 'benchmarks/results/nsi_probe.json'))
    a = ap.parse_args()
    p = get_preset('nsi', 'cpu_demo')
    c = dataclasses.replace(p.model, **json.loads(a.model)); c.validate()
    tr, va = build_datasets(p.run, c.image_size, None)
    torch.manual_seed(0); m = NSI(c)

    ctx = argparse.Namespace(run_cfg=p.run, data_path=None, model_cfg=c)      # what the recipe's cache key reads
    pretrain_backbone(m, with_schema(tr, c.schema), p.opts, _data_key(ctx), progress=False, seed=0)
    if c.standardize: m.backbone.fit_stats(b['image'] for b in batches(tr, p.opts.stats_images, 128))
    feats = lambda ds, n: torch.cat([m.backbone(b['image']) for b in batches(ds, n, 128)])
    ft, fv = feats(tr, 2048), feats(va, 256)
    true = next(batches(va, 256, 256))['masks'].float()
    lab = F.adaptive_avg_pool2d(true, m.grid).argmax(1).flatten(1)          # the true segment of every token
    oh = F.one_hot(lab, true.shape[1]).float()
    seg_mean = torch.einsum('bno,bnd->bod', oh, fv) / oh.sum(1)[..., None].clamp(min=1)
    ref = dict(position_mean=((fv - ft.mean(0, keepdim=True)) ** 2).sum(-1).mean().item(),
               true_segments=((torch.einsum('bno,bod->bnd', oh, seg_mean) - fv) ** 2).sum(-1).mean().item())
    mods = torch.nn.ModuleList([x for x in (m.sa_pos, m.pre_mlp, m.slot_attn, m.decoder) if x is not None])
    opt = torch.optim.Adam(mods.parameters(), lr=a.lr)
    curve, t0, g = [], time.perf_counter(), torch.Generator().manual_seed(0)
    load = os.getloadavg()
    for step in range(1, a.steps + 1):
        f = ft[torch.randint(0, len(ft), (a.batch_size,), generator=g)]
        rec = m.decoder(m.slots(f)[0])[0]
        loss = ((rec - f) ** 2).sum(-1).mean()
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(mods.parameters(), 1.0); opt.step()
        if step % a.eval_every == 0 or step == a.steps:
            with torch.no_grad():
                s, att = m.slots(fv); rec, alpha, _ = m.decoder(s)
                dec, sa = segmentation_metrics(true, m.masks_from_attn(alpha)), segmentation_metrics(true, m.masks_from_attn(att))
            e = dict(step=step, wall_s=round(time.perf_counter() - t0, 1), val_mse=round(((rec - fv) ** 2).sum(-1).mean().item(), 3),
                     fg_ari=round(dec['fg_ari'], 3), mbo=round(dec['mbo'], 3), sa_fg_ari=round(sa['fg_ari'], 3), sa_mbo=round(sa['mbo'], 3),
                     dominant_slot_share=round(alpha.mean(-1).max(-1).values.mean().item(), 3))
            curve.append(e); print(a.tag, e, flush=True)
    res = dict(tag=a.tag, command=' '.join(['python', 'benchmarks/nsi_probe.py'] + sys.argv[1:]), model=json.loads(a.model), lr=a.lr,
               batch_size=a.batch_size, load_avg_before=[round(x, 2) for x in load], references=ref, curve=curve)
    print(a.tag, 'references', ref)
    out = Path(a.out); old = json.loads(out.read_text()) if out.is_file() else {}
    old[a.tag] = res; out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(old, indent=1))


if __name__ == '__main__':
    main()
