"""The quality table of benchmarks/README.md, from the `*_quality.json` files written by benchmarks/quality.py, and the
speed table, from `results/vs_official_cpu.json` written by benchmarks/vs_official.py.

    python benchmarks/table.py            # prints the quality table (markdown)
    python benchmarks/table.py --speed    # prints the speed and loss tables of vs_official.py
    python benchmarks/table.py --speed benchmarks/results/vs_official_cpu_bf16.json   # the same for another results file
"""
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent
# the figures each model is judged by (first found are shown), with the trivial baselines where they exist
KEYS = ('fg_ari', 'mbo', 'slot_ce_gain', 'gen_accuracy', 'gen_accuracy_rejection', 'classifier_accuracy_recon', 'baseline_gen_accuracy', 'gen_accuracy_dvae', 'nll', 'baseline_nll', 'fid', 'fid_dvae', 'psnr',
        'codebook_usage', 'factorvae', 'dci_d', 'mig', 'accuracy', 'accuracy_rejection', 'i2s_recall_at_1', 's2i_recall_at_1', 'prop_acc')


def _fmt(v): return f'{v:.3g}' if isinstance(v, float) else str(v)


def rows():
    for f in sorted(OUT.glob('*_quality.json')):
        res = json.loads(f.read_text())
        for variant, r in res.items():
            if not isinstance(r, dict) or 'final' not in r: continue
            m = r['final']
            figs = []
            for k in KEYS:
                if k in m:
                    g = m.get(f'{k}_grid2')
                    figs.append(f'{k} {_fmt(m[k])}' + (f' (2x2 grid {_fmt(g)})' if g is not None else ''))
            la = r.get('load_avg_before', [None])[0]
            yield (f.stem.replace('_quality', ''), variant, r.get('steps'), round(r.get('wall_s_total', 0) / 60, 1), la, '; '.join(figs),
                   f'`{f.name}`')


def config_label(r) -> str:
    "The preset, with the GRU storage (SysBinder, SVQ), the token grid (Visual GPT) or the adversarial phase (VQ-GAN)"
    c = r.get('config', {})
    extra = [f"{r['gru_storage']} GRU"] if r.get('gru_storage') else []
    if r['model'] == 'vgpt': extra.append(f"{c['grid'][0]}x{c['grid'][1]} tokens")
    if r['model'] == 'vqgan': extra.append('GAN phase' if c.get('disc_start') == 0 else 'before the GAN starts')
    return ', '.join([r['preset']] + extra)


def speed(path=OUT / 'results' / 'vs_official_cpu.json'):
    "Markdown tables of the step times, ratios and losses of vs_official.py"
    res = json.loads(Path(path).read_text())
    print('| model | config | batch | params (official = ours) | official step (ms) | ours (ms) | ours / official | ours + fast noise (ms) | ours + fast noise / official | greedy decoding speed-up | load avg before |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    rt = lambda p: '' if not p else f"**{p['median']:.2f}** ({p['q1']:.2f}-{p['q3']:.2f})"
    for r in res['runs']:
        if not r.get('step_ms_official'): continue
        cfg = config_label(r)
        fast = r.get('step_ms_ours_fast')
        dec = f"{r['decode_speedup_ours']}x" if r.get('decode_speedup_ours') else ''
        eq = f"{r['params_official']:,}" + ('' if r['params_equal'] else ' (differ!)')
        print(f"| {r['model']} | {cfg} | {r['batch']} | {eq} | {r['step_ms_official']:,.0f} | {r['step_ms_ours']:,.0f} | "
              f"{rt(r.get('step_ratio_paired_ours'))} | {'' if fast is None else f'{fast:,.0f}'} | {rt(r.get('step_ratio_paired_ours_fast'))} | {dec} | {r['loadavg_start'][0]} |")
        if r.get('step_ms_ours_cached'):                       # NSI: objcentric's step on cached backbone features
            print(f"| {r['model']} | {cfg}, ours on cached features | {r['batch']} | | {r['step_ms_official']:,.0f} | {r['step_ms_ours_cached']:,.0f} | "
                  f"{rt(r.get('step_ratio_paired_ours_cached'))} | | | | {r['loadavg_start'][0]} |")
    print()
    print('| model | config | steps | seeds | loss reached: official | ours | ours + fast noise |')
    print('|---|---|---|---|---|---|---|')
    for r in res['runs']:
        l = r.get('loss_after_steps')
        if not l: continue
        cell = lambda k: f"{l['last10_mean_' + k]:.4g} ± {l['last10_sd_' + k] or 0:.2g}" if 'last10_mean_' + k in l else ''
        cfg = config_label(r)
        print(f"| {r['model']} | {cfg} | {l['steps']} | {len(l['seeds'])} | {cell('official')} | {cell('ours')} | {cell('ours_fast')} |")


def main():
    import sys
    if '--speed' in sys.argv:   # --speed [results file], e.g. benchmarks/results/vs_official_cpu_bf16.json
        i = sys.argv.index('--speed')
        return speed(sys.argv[i + 1]) if len(sys.argv) > i + 1 else speed()
    print('| model | run | steps | wall (min, all stages) | load avg (1 min) before | held-out figures | file |')
    print('|---|---|---|---|---|---|---|')
    for r in rows(): print('| ' + ' | '.join('' if x is None else str(x) for x in r) + ' |')


if __name__ == '__main__': main()
