"""Probe: does SysBinder's CPU dVAE keep the objects' colours on CLEVR-like scenes?

Trains the `sysbinder` `cpu_demo` dVAE alone (the recipe's tokenizer stage: constant temperature, Adam, the preset's
rate and batch) on CLEVR-like scenes of 2-3 objects at the preset's size, for each variant (dVAE fields changed, or
the usage weight), and reports on 256 held-out scenes the reconstruction MSE of the argmax tokens over the whole
image and over the object pixels only (the colour the slots would need), and the tokens in use. Results are written
to benchmarks/results/clevr_tokenizer_probe.json.

    python benchmarks/clevr_tokenizer_probe.py --steps 500        # ~6 minutes on 2 cores for the four variants
"""
import argparse, json, os, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import get_preset, build_datasets, create_model, batches

VARIANTS = {'recipe': ({}, None), 'no_usage_term': ({}, 0.0), 'vocab_256': ({'vocab_size': 256}, None),
            'hidden_x2': ({'dvae_hidden': None}, None)}


@torch.no_grad()
def stats(dv, b):
    x, m = b['image'], b['masks'][:, 1:].any(1, keepdim=True).float()        # object pixels (every mask but the background's)
    tok = dv.tokens(x); se = (dv.decode_tokens(tok) - x) ** 2
    return dict(mse=float(se.mean()), mse_objects=float((se * m).sum() / (3 * m.sum())), used=int(torch.unique(tok).numel()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0]); ap.add_argument('--steps', type=int, default=500)
    a = ap.parse_args()
    p = get_preset('sysbinder', 'cpu_demo')
    run = p.run.replace(dataset='clevr_like', data_kwargs={'min_objects': 2, 'max_objects': 3})
    tr, va = build_datasets(run, p.model.image_size)
    vb = next(batches(va, 256, 256))
    res = dict(command='python benchmarks/clevr_tokenizer_probe.py ' + ' '.join(sys.argv[1:]), load_avg_before=[round(v, 2) for v in os.getloadavg()],
               steps=a.steps, variants={})
    for name, (fields, usage) in VARIANTS.items():
        if 'dvae_hidden' in fields: fields = {'dvae_hidden': 2 * p.model.dvae_hidden}
        torch.manual_seed(0)
        dv = create_model('sysbinder', 'cpu_demo', **fields).dvae
        dv.usage_weight = p.run.tokenizer_usage if usage is None else usage; dv.tau = p.run.tokenizer_tau
        opt = torch.optim.Adam(dv.parameters(), lr=p.run.tokenizer_lr); g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter(); dv.train()
        for s in range(a.steps):
            x = tr.get_batch(torch.randint(len(tr), (p.run.tokenizer_batch,), generator=g).tolist())['image']
            l = dv(x)['loss']; opt.zero_grad(); l.backward(); opt.step()
        res['variants'][name] = dict(fields=fields, usage_weight=dv.usage_weight, wall_s=round(time.perf_counter() - t0, 1), **stats(dv.eval(), vb))
        print(name, res['variants'][name], flush=True)
    res['load_avg_after'] = [round(v, 2) for v in os.getloadavg()]
    (ROOT / 'benchmarks/results/clevr_tokenizer_probe.json').write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
