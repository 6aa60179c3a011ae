"""Why the CPU recipes train their dVAE first: the reference dVAE schedule squeezed into a few hundred steps collapses
onto a few tokens; a constant temperature with the vocabulary-usage term keeps the vocabulary in use.

Trains the cpu_demo dVAE of a model (SLATE's by default) alone on the preset's synthetic scenes, twice, for the same
steps: `reference` (Gumbel temperature annealed 1 -> 0.1 with the reference's cosine over the run, no usage term) and
`recipe` (the CPU recipe's tokenizer stage: constant temperature, usage weight). Every `--every` steps it records, on
held-out scenes, the reconstruction error of the argmax tokens, how many of the V tokens are used and the token
perplexity. Writes benchmarks/tokenizer_collapse.json and benchmarks/tokenizer_collapse.png.

    python benchmarks/tokenizer_collapse.py --steps 500
"""
import argparse, json, math, os, platform, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import get_preset, build_datasets, create_model, batches
from objcentric.dvae import gumbel_tau


@torch.no_grad()
def _stats(dv, val):
    x = next(batches(val, 256, 256))['image']
    tok = dv.tokens(x)
    mse = float(((dv.decode_tokens(tok) - x) ** 2).mean())
    cnt = torch.bincount(tok.flatten(), minlength=dv.vocab_size).float(); p = cnt / cnt.sum()
    return dict(mse=mse, used=int((cnt > 0).sum()), perplexity=float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum())))


def train(name, variant, steps, every, seed=0):
    p = get_preset(name, 'cpu_demo')
    tr, va = build_datasets(p.run, p.model.image_size)
    torch.manual_seed(seed)
    dv = create_model(name, 'cpu_demo').dvae
    dv.usage_weight = p.run.tokenizer_usage if variant == 'recipe' else 0.0
    opt = torch.optim.Adam(dv.parameters(), lr=p.run.tokenizer_lr)
    g = torch.Generator().manual_seed(seed)
    curve, t0 = [dict(step=0, wall_s=0.0, **_stats(dv.eval(), va))], time.perf_counter()
    dv.train()
    for s in range(1, steps + 1):
        dv.tau = p.run.tokenizer_tau if variant == 'recipe' else gumbel_tau(s, 1.0, 0.1, steps)
        x = tr.get_batch(torch.randint(len(tr), (p.run.tokenizer_batch,), generator=g).tolist())['image']
        loss = dv(x)['loss']
        opt.zero_grad(); loss.backward(); opt.step()
        if s % every == 0:
            curve.append(dict(step=s, wall_s=round(time.perf_counter() - t0, 1), tau=dv.tau, **_stats(dv.eval(), va))); dv.train()
    return curve


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--name', default='slate'); ap.add_argument('--steps', type=int, default=500); ap.add_argument('--every', type=int, default=25)
    a = ap.parse_args()
    la = os.getloadavg()
    res = dict(command='python benchmarks/tokenizer_collapse.py ' + ' '.join(sys.argv[1:]), model=a.name, steps=a.steps,
               machine=dict(torch=torch.__version__, threads=torch.get_num_threads(), cpus=os.cpu_count(), python=platform.python_version()),
               load_avg_before=[round(x, 2) for x in la],
               vocab_size=get_preset(a.name, 'cpu_demo').model.vocab_size,
               curves={v: train(a.name, v, a.steps, a.every) for v in ('reference', 'recipe')})
    res['load_avg_after'] = [round(x, 2) for x in os.getloadavg()]
    (ROOT / 'benchmarks' / 'tokenizer_collapse.json').write_text(json.dumps(res, indent=1))
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(10, 2.8))
    for v, c in res['curves'].items():
        st = [e['step'] for e in c]
        for ax, k in zip(axs, ('used', 'perplexity', 'mse')): ax.plot(st, [e[k] for e in c], marker='o', ms=2.5, label=v)
    for ax, t in zip(axs, (f"tokens used (of {res['vocab_size']})", 'token perplexity', 'reconstruction MSE (argmax tokens)')):
        ax.set_title(t, fontsize=9); ax.set_xlabel('dVAE step'); ax.legend(fontsize=7)
    fig.tight_layout(); fig.savefig(ROOT / 'benchmarks' / 'tokenizer_collapse.png', dpi=90)
    for v, c in res['curves'].items(): print(v, c[-1])


if __name__ == '__main__': main()
