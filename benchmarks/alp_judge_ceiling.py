"""How much of ALP's generation accuracy the tokenizer allows: the automatic judge on real held-out scenes, on the
SVQ run's tokenizer reconstructions of them and on its reconstructions through the slots.

    python benchmarks/alp_judge_ceiling.py [--svq runs/bench/svq_cpu_demo]     # seconds; writes results/alp_judge_ceiling.json

`count_checked` is the judge as the ALP recipe applies it (the data's rule and object count); `no_count` drops the count
check, under which an image in which no object is found passes any colour rule (the recipe did this before the object
counts of cached datasets were kept); `zero_objects` is the share of images in which the parser finds no object.
"""
import argparse, json, os, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import load_pretrained, build_datasets, RunConfig, batches
from objcentric.metrics import parse_objects, generation_accuracy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--svq', default=str(ROOT / 'runs' / 'bench' / 'svq_cpu_demo'))
    ap.add_argument('--n', type=int, default=128)
    a = ap.parse_args()
    la0, t0 = os.getloadavg(), time.perf_counter()
    d = Path(a.svq); meta = json.loads((d / 'run.json').read_text()); rc = RunConfig.from_dict(meta['run_config'])
    svq = load_pretrained(d / 'model').eval()
    _, va = build_datasets(rc, svq.cfg.image_size, meta.get('data_path'), meta.get('seed', 0))
    rule, nobj = va.rule, (va.min_objects, va.max_objects)
    x = next(batches(va, a.n, a.n))['image'].float()
    with torch.no_grad():
        sets = dict(real=x, tokenizer_reconstruction=svq.dvae.decode_tokens(svq.dvae.tokens(x)).clamp(0, 1),
                    slot_reconstruction=svq.reconstruct(x, generator=torch.Generator().manual_seed(0)).clamp(0, 1))
    res = {k: dict(count_checked=generation_accuracy(im, rule, nobj), no_count=generation_accuracy(im, rule, None),
                   zero_objects=float((parse_objects(im)['valid'].sum(1) == 0).float().mean())) for k, im in sets.items()}
    for k, v in res.items(): print(f'{k:26s}', {n: round(f, 3) for n, f in v.items()})
    out = dict(command='python benchmarks/alp_judge_ceiling.py ' + ' '.join(sys.argv[1:]), svq_run=str(d), rule=rule, num_objects=nobj,
               n_images=a.n, load_avg_before=[round(v, 2) for v in la0], wall_s=round(time.perf_counter() - t0, 1), results=res)
    f = ROOT / 'benchmarks' / 'results' / 'alp_judge_ceiling.json'
    f.write_text(json.dumps(out, indent=1)); print('wrote', f)


if __name__ == '__main__': main()
