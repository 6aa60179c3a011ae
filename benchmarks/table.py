"""The quality table of benchmarks/README.md, from the `*_quality.json` files written by benchmarks/quality.py.

    python benchmarks/table.py            # prints the markdown table
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


def main():
    print('| model | run | steps | wall (min, all stages) | load avg (1 min) before | held-out figures | file |')
    print('|---|---|---|---|---|---|---|')
    for r in rows(): print('| ' + ' | '.join('' if x is None else str(x) for x in r) + ' |')


if __name__ == '__main__': main()
