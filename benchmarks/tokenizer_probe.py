"""Probe: how fast does a slot model's CPU dVAE learn the objects' colours, alone, on the demo scenes?

Trains the `cpu_demo` dVAE of a slot model alone with the settings of the recipe's tokenizer stage (constant
temperature, usage weight, the preset's rate and batch) in a plain Adam loop, evaluated as it goes, for each variant (dVAE fields changed, the usage weight, the rate, the temperature, a
straight-through one-hot), and reports every `--eval-every` steps on 256 held-out scenes the reconstruction MSE of
the argmax tokens over the whole image and over the object pixels only (the colour the slots and any prior need),
the tokens in use, and on sprites the automatic generation judge's acceptance of the reconstructions (the ceiling of
ALP's generation accuracy on that tokenizer). Results are added to benchmarks/results/tokenizer_probe.json under
`--tag` (other tags are kept).

    python benchmarks/tokenizer_probe.py --model svq --steps 1500 --variants recipe --tag sprites_1500        # ~3.5 min
    python benchmarks/tokenizer_probe.py --model sysbinder --data clevr_like --steps 500 --tag clevr_like_500  # ~6 min, four variants
"""
import argparse, json, os, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import get_preset, build_datasets, create_model, batches
from objcentric.metrics import generation_accuracy

# name: (dVAE fields, training options: usage, lr, tau, hard); an option left out = the preset's, 'x2' = twice the preset's dvae_hidden
VARIANTS = {'recipe': ({}, {}), 'no_usage_term': ({}, dict(usage=0.0)), 'vocab_256': ({'vocab_size': 256}, {}),
            'hidden_x2': ({'dvae_hidden': 'x2'}, {}), 'lr_1e-3': ({}, dict(lr=1e-3)), 'tau_0.5': ({}, dict(tau=0.5)),
            'straight_through': ({}, dict(hard=True))}


@torch.no_grad()
def stats(dv, b, rule=None, counts=None):
    "Held-out MSE over the image and over object pixels, tokens used, and (sprites) the judge on the reconstructions"
    x, m = b['image'], b['masks'][:, 1:].any(1, keepdim=True).float()        # object pixels (every mask but the background's)
    tok = dv.tokens(x); r = dv.decode_tokens(tok); se = (r - x) ** 2
    out = dict(mse=round(float(se.mean()), 5), mse_objects=round(float((se * m).sum() / (3 * m.sum())), 5), used=int(torch.unique(tok).numel()))
    if counts is not None: out['judge_on_reconstructions'] = round(generation_accuracy(r.clamp(0, 1), rule, counts), 4)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', default='svq', help='slot model whose cpu_demo dVAE is probed (slate, sysbinder, svq)')
    ap.add_argument('--data', default=None, help="'clevr_like' (2-3 objects) instead of the preset's scenes")
    ap.add_argument('--steps', type=int, default=500); ap.add_argument('--eval-every', type=int, default=250)
    ap.add_argument('--variants', default=','.join(list(VARIANTS)[:4]), help=f'comma-separated, of {list(VARIANTS)}')
    ap.add_argument('--tag', required=True, help='key of this run in the results file')
    a = ap.parse_args()
    p = get_preset(a.model, 'cpu_demo'); run = p.run
    if a.data: run = run.replace(dataset=a.data, data_kwargs={'min_objects': 2, 'max_objects': 3})
    tr, va = build_datasets(run, p.model.image_size)
    vb = next(batches(va, 256, 256))
    judge = (getattr(va, 'rule', None), (va.min_objects, va.max_objects)) if run.dataset == 'sprites' else (None, None)
    res = dict(command='python benchmarks/tokenizer_probe.py ' + ' '.join(sys.argv[1:]), model=a.model, dataset=run.dataset,
               load_avg_before=[round(v, 2) for v in os.getloadavg()], steps=a.steps, variants={})
    for name in a.variants.split(','):
        fields, o = VARIANTS[name]
        fields = {k: (2 * p.model.dvae_hidden if v == 'x2' else v) for k, v in fields.items()}
        torch.manual_seed(0)
        dv = create_model(a.model, 'cpu_demo', **fields).dvae
        dv.usage_weight = o.get('usage', run.tokenizer_usage); dv.tau = o.get('tau', run.tokenizer_tau)
        opt = torch.optim.Adam(dv.parameters(), lr=o.get('lr', run.tokenizer_lr)); g = torch.Generator().manual_seed(0)
        t0, curve = time.perf_counter(), []
        for s in range(1, a.steps + 1):
            dv.train()
            x = tr.get_batch(torch.randint(len(tr), (run.tokenizer_batch,), generator=g).tolist())['image']
            l = dv(x, hard=o.get('hard', False))['loss']; opt.zero_grad(); l.backward(); opt.step()
            if s % a.eval_every == 0 or s == a.steps:
                curve.append(dict(step=s, wall_s=round(time.perf_counter() - t0, 1), **stats(dv.eval(), vb, *judge)))
                print(name, curve[-1], flush=True)
        res['variants'][name] = dict(fields=fields, options=o, usage_weight=dv.usage_weight, curve=curve, **curve[-1])
    res['load_avg_after'] = [round(v, 2) for v in os.getloadavg()]
    f = ROOT / 'benchmarks' / 'results' / 'tokenizer_probe.json'
    allres = json.loads(f.read_text()) if f.is_file() else {}
    allres[a.tag] = res; f.write_text(json.dumps(allres, indent=1)); print('wrote', f, 'tag', a.tag)


if __name__ == '__main__': main()
