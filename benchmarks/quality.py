"""Quality benchmark of the slot models' CPU recipes, with the papers' recipe beside them.

For a registered slot model this trains

* `cpu_demo`: the model's `cpu_demo` preset exactly as `nbs/train_<model>.ipynb` runs it (what a user gets), and
* `official` (with --official): the same architecture and data, but the paper's optimisation recipe: joint dVAE training
  with the Gumbel temperature annealed over 30,000 steps, the paper's learning rates, warm-up, batch and clipping, no
  token dropout, the paper's slot initialisation, gradient and binder input (the CNN), for the same wall-clock budget,

evaluating every `eval_every` steps on held-out scenes. It writes `benchmarks/<model>_quality.json` (command, machine,
load average before and after, steps, wall time, the curve, the final figures beside the trivial baselines), the
figures of each run as `benchmarks/<model>_<variant>_<figure>.png`, and `benchmarks/<model>_quality.png`: FG-ARI and
mBO against training time for both variants, with the 2x2 grid's scores dashed.

    python benchmarks/quality.py svq                 # ~12 min on 2 idle cores
    python benchmarks/quality.py svq --official      # then the paper's recipe for the same time
    python benchmarks/quality.py sysbinder --variant cpu_demo_clevr \
        --overrides '{"run.dataset": "clevr_like", "run.data_kwargs": {"min_objects": 2, "max_objects": 3}}'   # an extra entry
"""
import argparse, json, os, platform, shutil, sys, time
from dataclasses import fields
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import run, get_preset, summary

OUT = ROOT / 'benchmarks'
ARCH_ONLY = ('tau_start', 'tau_final', 'tau_steps', 'token_dropout', 'implicit_grad', 'slot_init', 'dropout', 'encoder_input')
RUN_OPT = ('steps', 'batch_size', 'lr', 'lr_mult', 'constant_groups', 'warmup', 'half_life', 'plateau_patience', 'plateau_rule',
           'clip_norm', 'clip_norm_type', 'tokenizer_steps')


def official_overrides(name:str, minutes:float) -> dict:
    "The paper preset's optimisation recipe on the cpu_demo's architecture and data, for `minutes` of training"
    demo, paper = get_preset(name, 'cpu_demo'), get_preset(name, 'paper')
    ov = {f'model.{k}': getattr(paper.model, k) for k in ARCH_ONLY if hasattr(paper.model, k)}
    ov.update({f'run.{k}': getattr(paper.run, k) for k in RUN_OPT})
    ov['run.steps'] = 10 ** 6
    ov['run.time_limit_min'] = minutes
    ov['run.batch_size'] = min(paper.run.batch_size, demo.run.n_train)
    if paper.run.plateau_patience: ov['run.eval_every'] = demo.run.eval_every
    return ov


def _machine():
    return dict(torch=torch.__version__, threads=torch.get_num_threads(), cpus=os.cpu_count(), machine=platform.machine(),
                processor=platform.processor() or None, python=platform.python_version())


def bench(name:str, variant:str, minutes:float|None, overrides:dict, out_dir:Path, seed:int=0) -> dict:
    la0 = os.getloadavg()
    t0 = time.perf_counter()
    r = run(name, 'cpu_demo', overrides=overrides, out_dir=out_dir, progress=False, seed=seed)
    wall = time.perf_counter() - t0
    la1 = os.getloadavg()
    hist = r.history if isinstance(r.history, dict) else {}
    curve = [{k: v for k, v in e.items() if isinstance(v, (int, float)) and not isinstance(v, bool)} for e in hist.get('eval', [])]
    figs = {}
    for k, p in r.files.items():
        if str(p).endswith(('.png', '.gif')):
            dst = OUT / f'{name}_{variant}_{k}{Path(p).suffix}'; shutil.copy(p, dst); figs[k] = str(dst.relative_to(ROOT))
    print(summary(r.metrics))
    return dict(command='python benchmarks/quality.py ' + ' '.join(sys.argv[1:]), variant=variant, preset='cpu_demo', overrides=overrides, seed=seed,
                machine=_machine(), load_avg_before=[round(x, 2) for x in la0], load_avg_after=[round(x, 2) for x in la1],
                steps=r.metrics.get('steps'), wall_s_total=round(wall, 1), train_wall_s=r.metrics.get('wall_s', round(wall, 1)), curve=curve,
                final={k: v for k, v in r.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
                figures=figs, run_dir=str(out_dir))


def plot(name:str, res:dict):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    res = {k: v for k, v in res.items() if isinstance(v, dict) and 'curve' in v}     # the runs (other keys: notes)
    pref = ('fg_ari', 'mbo', 'psnr', 'codebook_usage', 'factorvae', 'dci_d', 'recall_i2s@1', 'accuracy')
    seen = [k for v in res.values() for e in v['curve'] for k in e if k not in ('step', 'wall_s')]
    keys = [k for k in pref if k in seen][:3] or list(dict.fromkeys(seen))[:3]
    fig, axs = plt.subplots(1, max(1, len(keys)), figsize=(4.5 * max(1, len(keys)), 3.2), squeeze=False)
    for ax, k in zip(axs[0], keys):
        for v, r in res.items():
            pts = [(e['wall_s'] / 60, e[k]) for e in r['curve'] if k in e and 'wall_s' in e]
            if pts: ax.plot(*zip(*pts), marker='o', ms=3, label=v)
            g = r['final'].get(f'{k}_grid2')
        if g is not None: ax.axhline(g, ls='--', c='0.5', lw=1, label='2x2 grid')
        ax.set_xlabel('training time (min)'); ax.set_title(f'{name}: held-out {k}'); ax.legend(fontsize=7)
        if k in ('fg_ari', 'mbo'): ax.set_ylim(0, 1)
    fig.tight_layout(); fig.savefig(OUT / f'{name}_quality.png', dpi=90); plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('name')
    ap.add_argument('--official', action='store_true', help="run the paper's recipe (for the cpu_demo's measured time)")
    ap.add_argument('--minutes', type=float, default=None, help='time budget of the official run (default: the cpu_demo run\'s)')
    ap.add_argument('--overrides', default='{}', help='extra overrides of the cpu_demo run (JSON)')
    ap.add_argument('--variant', default='cpu_demo', help='name of the entry (and run folder) for a cpu_demo run with overrides')
    ap.add_argument('--seed', type=int, default=0, help='seed of the run (initialisation, batch order, noise; the data stay seed 0)')
    ap.add_argument('--runs', default=str(ROOT / 'runs' / 'bench'))
    a = ap.parse_args()
    f = OUT / f'{a.name}_quality.json'
    res = json.loads(f.read_text()) if f.is_file() else {}
    if a.official:
        minutes = a.minutes or (res['cpu_demo']['train_wall_s'] / 60 if 'cpu_demo' in res else 10.0)
        out = Path(a.runs) / f'{a.name}_official'
        if out.exists(): shutil.rmtree(out)
        res['official'] = bench(a.name, 'official', minutes, official_overrides(a.name, minutes), out, a.seed)
    else:
        out = Path(a.runs) / f'{a.name}_{a.variant}'
        if out.exists(): shutil.rmtree(out)
        res[a.variant] = bench(a.name, a.variant, None, json.loads(a.overrides), out, a.seed)
    f.write_text(json.dumps(res, indent=1))
    plot(a.name, res)
    print('wrote', f)


if __name__ == '__main__': main()
