"""Diagnostics of a trained Visual GPT run: where its generation accuracy is lost.

On the run folders written by `python benchmarks/quality.py vgpt` (the GPT, its tokenizer and its classifier) this measures,
on held-out scenes:

* `tokens_carry_class`: the classifier's accuracy on the tokenizer's reconstructions (the ceiling for any GPT over these
  tokens, as the classifier judges), and the GPT used as a classifier of the held-out token sequences
  (argmax over classes of the sequence likelihood given the class token): how much of the class the GPT has learned;
* `nll_true_vs_wrong`: the held-out NLL per image with the true class token and with a wrong one;
* `sampling`: the plain generation accuracy under several sampling settings (temperature, top-k, top-p and, for a GPT
  trained with class dropout, classifier-free guidance scales), same seed;
* `step_time_s` (with --step-times): the training step (forward, backward, AdamW) of GPTs of this run's width over its
  token grid, batch 16, with attention/residual dropout 0.1 and 0, at 4 and 2 layers (median of 10 steps after 3).

It writes benchmarks/results/vgpt_diagnostics.json (command, machine, load average, figures).

    python benchmarks/vgpt_diagnostics.py --vgpt-dir runs/bench/vgpt_cpu_demo --step-times     # ~1.5 minutes on 2 cores
"""
import argparse, json, os, platform, sys, time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import RunConfig
from objcentric.visual_gpt import VisualGPT, rejection_sample
from objcentric.zoo_vqgan import labelled_datasets, load_vgpt, _accuracy, batches


def step_times(cfg, batch:int=16, n:int=10) -> dict:
    "Median training-step time of GPTs like `cfg` with dropout 0.1 / 0 and 4 / 2 layers on random tokens of its grid"
    out = {}
    for layers, p in ((4, 0.1), (4, 0.0), (2, 0.0)):
        torch.manual_seed(0); g = VisualGPT(cfg.replace(num_layers=layers, dropout=p)).train()
        opt = torch.optim.AdamW(g.parameters(), 1e-3)
        b = dict(tokens=torch.randint(0, cfg.num_codes, (batch, cfg.seq_len)), label=torch.randint(0, cfg.num_classes, (batch,)))
        ts = []
        for i in range(n + 3):
            t0 = time.perf_counter(); l = g(b)['loss']; opt.zero_grad(); l.backward(); opt.step(); ts.append(time.perf_counter() - t0)
        out[f'layers{layers}_dropout{p}'] = round(sorted(ts[3:])[n // 2], 3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--vgpt-dir', default=str(ROOT / 'runs/bench/vgpt_cpu_demo'), help='a vgpt run folder (with model/ and classifier/)')
    ap.add_argument('--n', type=int, default=256, help='held-out scenes and samples')
    ap.add_argument('--step-times', action='store_true', help='also time training steps with and without dropout')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks/results/vgpt_diagnostics.json'))
    a = ap.parse_args()
    d = Path(a.vgpt_dir)
    meta = json.loads((d / 'run.json').read_text())
    vq_dir = Path(meta['vqgan_dir'])
    s = load_vgpt(d)
    gpt, vq, C = s.gpt, s.vqgan, s.gpt.cfg.num_classes
    classify = lambda x: s.classifier.logits(x.float())
    vq_meta = json.loads((vq_dir / 'run.json').read_text())
    _, va, names = labelled_datasets(RunConfig.from_dict(vq_meta['run_config']), vq.cfg.image_size, vq_meta.get('data_path'))
    b = next(batches(va, a.n, a.n)); x, y = b['image'].float(), b['label'].long()
    la0, t0 = os.getloadavg(), time.perf_counter()
    out = dict(command='python benchmarks/vgpt_diagnostics.py ' + ' '.join(sys.argv[1:]), vgpt_dir=str(d), vqgan_dir=str(vq_dir),
               machine=dict(torch=torch.__version__, threads=torch.get_num_threads(), cpus=os.cpu_count(), machine=platform.machine()),
               load_avg_before=[round(v, 2) for v in la0], n=len(y), classes=list(names))
    with torch.no_grad():
        t = vq.tokens(x)
        rec = vq.decode_indices(t)
        nll = lambda lab: F.cross_entropy(gpt.logits(t, lab).flatten(0, 1).float(), t.flatten(), reduction='none').view(len(t), -1).sum(1)
        per_class = torch.stack([nll(torch.full_like(y, c)) for c in range(C)], 1)         # [n, C] NLL of each sequence given each class
    out['tokens_carry_class'] = dict(classifier_on_real=_accuracy(classify, x, y), classifier_on_reconstructions=_accuracy(classify, rec, y),
                                     gpt_as_classifier=float((per_class.argmin(1) == y).float().mean()), chance=1 / C)
    out['nll_true_vs_wrong'] = dict(true_class=float(per_class.gather(1, y[:, None]).mean()),
                                    wrong_class=float(per_class.gather(1, ((y + 1) % C)[:, None]).mean()), unit='nats per image')
    want = torch.arange(C).repeat(a.n // C + 1)[:a.n]
    out['sampling'] = []
    sweep = [dict(temperature=1.0), dict(temperature=0.7), dict(temperature=0.5), dict(temperature=1.0, top_k=10), dict(temperature=1.0, top_p=0.8)]
    if gpt.cfg.class_dropout > 0: sweep += [dict(temperature=1.0, guidance=s) for s in (1.5, 2.0, 3.0)] + [dict(temperature=0.7, guidance=2.0)]
    for kw in sweep:
        r = rejection_sample(gpt, vq.decode_indices, classify, want, accept_n=1, generator=torch.Generator().manual_seed(0), **kw)
        out['sampling'].append(dict(**kw, gen_accuracy=_accuracy(classify, r['images'], want)))
    if a.step_times: out['step_time_s'] = dict(batch=16, **step_times(gpt.cfg))
    out['wall_s'] = round(time.perf_counter() - t0, 1); out['load_avg_after'] = [round(v, 2) for v in os.getloadavg()]
    Path(a.out).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k in ('tokens_carry_class', 'nll_true_vs_wrong', 'sampling', 'step_time_s')}, indent=1))


if __name__ == '__main__':
    main()
