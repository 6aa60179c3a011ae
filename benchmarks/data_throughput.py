"""Single-core generation throughput of the synthetic datasets (images per second, 64x64 unless noted).

Usage (from the repository root):
    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/data_throughput.py [--images 8192] [--batch 256] [--out benchmarks/results/data_throughput.json]

Each measurement renders `--images` items with `get_batch` in batches of `--batch` (items as the DataLoader receives
them: float32 images, bool masks, factors), after one warm-up batch, on one thread pinned to one core, and takes
the best of `--repeats` runs (the machine may be shared; the load average is recorded with the result).
"""
import argparse, json, os, platform, sys, time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.data import SpritesDataset, ClevrLikeDataset, Shapes3DLikeDataset  # noqa: E402


def measure(ds, n_images, batch, repeats):
    "Best-of-`repeats` images per second of `ds.get_batch` over `n_images` items"
    ds.get_batch(range(min(batch, len(ds))))                      # warm-up (allocations, caches)
    best = 0.0
    for r in range(repeats):
        start = (r * n_images) % max(1, len(ds) - n_images)
        t = time.perf_counter(); done = 0
        while done < n_images:
            k = min(batch, n_images - done)
            b = ds.get_batch(range(start + done, start + done + k))
            done += k
        best = max(best, done / (time.perf_counter() - t))
    assert b['image'].dtype == torch.float32 and b['masks'].dtype == torch.bool
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--images', type=int, default=8192, help='sprite images per run')
    ap.add_argument('--batch', type=int, default=256)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'data_throughput.json'))
    a = ap.parse_args()
    torch.set_num_threads(1)
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None
    load0 = os.getloadavg()
    n3 = max(a.batch, a.images // 8)                               # the 3D scenes are slower: fewer images
    cases = [
        ('sprites_64_plain', SpritesDataset('train', n=10 ** 6), a.images),
        ('sprites_64_textured', SpritesDataset('train', n=10 ** 6, background='textured'), a.images),
        ('sprites_128_plain', SpritesDataset('train', n=10 ** 6, image_size=128), a.images // 4),
        ('clevr_like_64', ClevrLikeDataset('train', n=10 ** 6), n3),
        ('clevr_like_128', ClevrLikeDataset('train', n=10 ** 6, image_size=128), n3 // 4),
        ('clevrtex_like_64', ClevrLikeDataset('train', n=10 ** 6, textures=True), n3),
        ('shapes3d_like_64', Shapes3DLikeDataset('all'), n3),
    ]
    results = {}
    for name, ds, n in cases:
        results[name] = round(measure(ds, n, a.batch, a.repeats), 1)
        print(f'{name:22s} {results[name]:10.1f} images/s')
    out = dict(
        metric='images per second, one thread on one core, get_batch (image float32 [B,3,H,W], masks bool, factors)',
        images_per_second=results,
        sprites_64_target=2000, sprites_64_meets_target=bool(results['sprites_64_plain'] >= 2000),
        command='OMP_NUM_THREADS=1 taskset -c 0 python ' + ' '.join(['benchmarks/data_throughput.py'] + sys.argv[1:]),
        batch=a.batch, repeats=a.repeats, images=a.images, cpu_affinity=cores,
        load_average_before=[round(x, 2) for x in load0], load_average_after=[round(x, 2) for x in os.getloadavg()],
        cpu_count=os.cpu_count(), processor=platform.processor() or platform.machine(), python=platform.python_version(),
        numpy=np.__version__, torch=torch.__version__, date=time.strftime('%Y-%m-%d %H:%M:%S'))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1) + '\n')
    print('wrote', a.out)


if __name__ == '__main__':
    main()
