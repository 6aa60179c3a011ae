"""Speed (and agreement) benchmark for `objcentric.metrics` on CPU.

Usage: python benchmarks/metrics_speed.py [--n 10000] [--threads 1] [--out benchmarks/results/metrics_speed.json] [--quick]

Times each metric on N 64x64 scenes (ground truth from the sprite generator; predictions are noisy soft
masks at 16x16 patch resolution and at 64x64) and on codes of N points, and writes a JSON record with the
machine's load, so figures can be compared across runs.
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
from objcentric.metrics import (segmentation_metrics, codebook_stats, dci, mig, factorvae_score, betavae_score,
                                retrieval_recall, frechet_distance, feature_stats, generation_accuracy)
from objcentric.data import SpritesDataset

def timed(fn, *a, **kw):
    t = time.perf_counter(); out = fn(*a, **kw); return out, time.perf_counter() - t

def noisy_soft_masks(masks, slots, size, g):
    "Soft slot masks [N,slots,size,size]: ground-truth objects (shuffled into slots) + noise, downsampled"
    N, C = masks.shape[:2]
    m = F.pad(masks.float(), (0, 0, 0, 0, 0, slots - C))           # [N,slots,H,W]
    perm = torch.argsort(torch.rand(N, slots, generator=g), 1)
    m = m.gather(1, perm[:, :, None, None].expand_as(m))
    m = F.adaptive_avg_pool2d(m, size) if size != masks.shape[-1] else m
    return (4 * m + torch.rand(m.shape, generator=g)).softmax(1)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=10000)
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'metrics_speed.json'))
    ap.add_argument('--quick', action='store_true', help='skip the slow reference DCI (sklearn GradientBoostingClassifier defaults)')
    ap.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    N = args.n; g = torch.Generator().manual_seed(0); rng = np.random.default_rng(0)
    res = dict(n=N, image_size=64, torch_threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
               load_avg_before=os.getloadavg(), platform=platform.platform(), processor=platform.processor(),
               torch=torch.__version__, timings_s={}, values={})
    T, V = res['timings_s'], res['values']
    ds = SpritesDataset('test', n=N, seed=0, image_size=64, max_objects=4)
    batch, T['make_sprites_gt'] = timed(ds.get_batch, list(range(N)))
    masks = batch['masks']                                          # [N,5,64,64] bool
    for size in (16, 64):
        pred = noisy_soft_masks(masks, 7, size, g)
        r, t = timed(segmentation_metrics, masks, pred)
        T[f'segmentation_metrics_pred{size}'] = t; V[f'segmentation_pred{size}'] = r
    r, t = timed(segmentation_metrics, batch['masks'].float().argmax(1), masks.float().argmax(1)[:, ::4, ::4].contiguous())
    T['segmentation_metrics_int_labels_pred16'] = t
    idx = torch.randint(0, 1024, (N, 256), generator=g)
    r, T['codebook_stats_N_x_256_tokens'] = timed(codebook_stats, idx, 1024)
    V['codebook_perplexity_uniform1024'] = r['codebook_perplexity']
    # codes: 10 dims; dims 0-4 a noisy, partly mixed copy of 5 factors; dims 5-9 noise
    fac = rng.integers(0, 8, (N, 5))
    codes = np.concatenate([fac + 0.3 * rng.standard_normal((N, 5)) + 0.3 * fac[:, ::-1], rng.standard_normal((N, 5))], 1)
    for reg in ['gbt_fast', 'rf'] + ([] if args.quick else ['gbt']):
        r, t = timed(dci, codes, fac, regressor=reg)
        T[f'dci_{reg}_N_x_10'] = t; V[f'dci_{reg}'] = r
    r, T['mig_N_x_10'] = timed(mig, codes, fac); V['mig'] = r['mig']
    r, T['factorvae_score_10k_5k_votes'] = timed(factorvae_score, codes, fac); V['factorvae'] = r
    r, T['betavae_score_10k_5k_points'] = timed(betavae_score, codes, fac); V['betavae'] = r
    sim = torch.randn(1000, 1000, generator=g) + 3 * torch.eye(1000)
    r, T['retrieval_recall_1000x1000'] = timed(retrieval_recall, sim); V['retrieval_recall_at_1'] = r['recall_at_1']
    f1, f2 = torch.randn(N, 2048, generator=g), torch.randn(N, 2048, generator=g) + 0.1
    (s1, s2), t1 = timed(lambda: (feature_stats(f1), feature_stats(f2)))
    d, t2 = timed(frechet_distance, *s1, *s2)
    T['fid_from_2048d_features'] = t1 + t2; V['fid_shifted_gaussians'] = d
    gen = SpritesDataset('test', n=1000, seed=1, rule='distinct_colours').get_batch(list(range(1000)))['image']
    r, T['generation_accuracy_1000_colour_rule'] = timed(generation_accuracy, gen, 'distinct_colours')
    V['generation_accuracy_gt_distinct_colours'] = r
    gen = SpritesDataset('test', n=1000, seed=1, rule='distinct_shapes').get_batch(list(range(1000)))['image']
    r, T['generation_accuracy_1000_shape_rule'] = timed(generation_accuracy, gen, 'distinct_shapes')
    V['generation_accuracy_gt_distinct_shapes'] = r
    res['load_avg_after'] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1, default=float))
    for k, v in T.items(): print(f'{k:45s} {v:8.2f} s')
    print(json.dumps(V, indent=1, default=float))

if __name__ == '__main__': main()
