"""Probe: how fast a small Visual GPT learns the class on a trained tokenizer's tokens, for a fixed number of steps.

Encodes the training and held-out images of a `vqgan` run folder once, trains a judge (the recipe's `train_classifier` on
the real images and the tokenizer's reconstructions of them, 800 steps), then trains a GPT of the `vgpt` `cpu_demo` shape
(changed by `--model` JSON) with AdamW (0.9, 0.98), warm-up 100 and cosine decay, batch 16, and reports the held-out
NLL, the GPT used as a classifier of held-out token sequences, and the share of 256 samples the judge assigns to the
asked class, plain and with classifier-free guidance scales 2, 3, 5 (when the GPT was trained with class_dropout).
Outside the recipe (no run folder); results are appended to benchmarks/results/vgpt_probe.json.

    python benchmarks/vgpt_probe.py cfg01 --model '{"class_dropout": 0.1}' --steps 7000      # ~8 minutes on 2 cores
"""
import argparse, json, math, os, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import RunConfig, batches, load_pretrained, get_preset
from objcentric.visual_gpt import VisualGPT, rejection_sample
from objcentric.zoo_vqgan import labelled_datasets, _accuracy, train_classifier


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('tag'); ap.add_argument('--model', default='{}', help='VisualGPTConfig fields changed from the cpu_demo preset, as JSON')
    ap.add_argument('--vqgan-dir', default=str(ROOT / 'runs/bench/vqgan_cpu_demo')); ap.add_argument('--steps', type=int, default=2400)
    ap.add_argument('--lr', type=float, default=None, help='peak learning rate (default: the preset\'s)')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks/results/vgpt_probe.json'))
    a = ap.parse_args()
    d = Path(a.vqgan_dir); vq = load_pretrained(d / 'model').eval()
    meta = json.loads((d / 'run.json').read_text())
    tr, va, names = labelled_datasets(RunConfig.from_dict(meta['run_config']), vq.cfg.image_size, meta.get('data_path'))
    X, V = (next(batches(ds, len(ds), len(ds))) for ds in (tr, va))
    xt, yt, xv, yv = X['image'].float(), X['label'].long(), V['image'].float()[:256], V['label'].long()[:256]
    la0, t0 = os.getloadavg(), time.time()
    with torch.no_grad():
        enc = lambda f, x: torch.cat([f(x[i:i + 250]) for i in range(0, len(x), 250)])
        tt, tv = enc(vq.tokens, xt).flatten(1), enc(vq.tokens, xv).flatten(1)
    judge = train_classifier(tr, len(names), steps=800, n=len(tr), reconstruct=vq.reconstruct)     # the recipe's 'real+recon' judge
    classify = lambda x: judge.logits(x.float())
    p = get_preset('vgpt', 'cpu_demo')
    cfg = p.model.replace(num_codes=vq.cfg.num_codes, grid=tuple(vq.cfg.grid), num_classes=len(names), **json.loads(a.model))
    lr, steps = a.lr or p.run.lr, a.steps
    torch.manual_seed(0); g = VisualGPT(cfg)
    opt = torch.optim.AdamW(g.parameters(), lr, betas=(0.9, 0.98), weight_decay=1e-5)
    sch = lambda s: min(1, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1)))
    gen, t1 = torch.Generator().manual_seed(0), time.time()
    for s in range(steps):
        for pg in opt.param_groups: pg['lr'] = lr * sch(s)
        i = torch.randint(0, len(yt), (16,), generator=gen)
        l = g({'tokens': tt[i], 'label': yt[i]})['loss']; opt.zero_grad(); l.backward(); opt.step()
    res = dict(tag=a.tag, command='python benchmarks/vgpt_probe.py ' + ' '.join(sys.argv[1:]), vqgan_dir=str(d),
               load_avg_before=[round(v, 2) for v in la0], steps=steps, train_s=round(time.time() - t1, 1), lr=lr)
    with torch.no_grad():
        g.eval(); res['val_nll'] = float(g({'tokens': tv, 'label': yv})['nll'])
        per = torch.stack([F.cross_entropy(g.logits(tv, torch.full_like(yv, c)).flatten(0, 1), tv.flatten(), reduction='none').view(len(yv), -1).sum(1)
                           for c in range(len(names))], 1)
        res['gpt_as_classifier'] = float((per.argmin(1) == yv).float().mean())
        res['judge_on_real'], res['judge_on_reconstructions'] = _accuracy(classify, xv, yv), _accuracy(classify, enc(vq.reconstruct, xv), yv)
        want = torch.arange(len(names)).repeat(256 // len(names) + 1)[:256]
        for sc in ((None, 2.0, 3.0, 5.0) if cfg.class_dropout > 0 else (None,)):
            r = rejection_sample(g, vq.decode_indices, classify, want, accept_n=1, generator=torch.Generator().manual_seed(0), guidance=sc)
            res[f'gen_accuracy_guidance_{sc}'] = _accuracy(classify, r['images'], want)
    res['wall_s'] = round(time.time() - t0, 1); res['load_avg_after'] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(res), flush=True)
    out = Path(a.out); allr = json.loads(out.read_text()) if out.is_file() else {}
    allr[a.tag] = res; out.write_text(json.dumps(allr, indent=1))


if __name__ == '__main__': main()
