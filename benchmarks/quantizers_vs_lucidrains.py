"""Side-by-side: objcentric's quantizers vs lucidrains' vector-quantize-pytorch on the same small autoencoder and data.

For each variant (plain VQ, EMA, EMA + dead-code revival, cosine search, low-dimensional codes, the rotation trick,
FSQ) the same convolutional autoencoder (same initial weights, same batches) is trained twice, once with each
library's quantizer, and judged on held-out images: codebook usage (share of codes used at least once), perplexity,
reconstruction MSE, and step time (whole training step, and the quantizer alone forward+backward).

vector-quantize-pytorch is a benchmark-only dependency (not in settings.ini). Install it with its client, e.g.

    pip install vector-quantize-pytorch                       # into the active environment, or without touching it:
    pip install --target /tmp/vqp --no-deps vector-quantize-pytorch einx frozendict loguru torch-einops-utils
    PYTHONPATH=/tmp/vqp python benchmarks/quantizers_vs_lucidrains.py

Usage: nice -n 10 python benchmarks/quantizers_vs_lucidrains.py [--steps 600] [--only ema,fsq] [--threads 1]
Writes benchmarks/results/quantizers_vs_lucidrains.json, .md (the table) and .png (the figure).
"""
import argparse, json, math, os, platform, sys, time
from pathlib import Path
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.quantizers import VectorQuantizer, CodeSearch, EMAUpdate, Revival, FSQ
from objcentric.data import SpritesDataset

try:
    import vector_quantize_pytorch as vqp
    from vector_quantize_pytorch import VectorQuantize as LVQ, FSQ as LFSQ
except ImportError:
    sys.exit("vector-quantize-pytorch is not installed: `pip install vector-quantize-pytorch` (benchmark-only; see this file's docstring)")

OUT = ROOT / 'benchmarks' / 'results'
D, K, LEVELS = 32, 512, [8, 8, 8]            # latent width, codebook size, FSQ levels (8*8*8 = 512 codes)


def autoencoder():
    "A small conv autoencoder: 32 px -> 8x8 latents of width D -> 32 px"
    enc = nn.Sequential(nn.Conv2d(3, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 3, 1, 1), nn.ReLU(),
                        nn.Conv2d(64, D, 1))
    dec = nn.Sequential(nn.Conv2d(D, 64, 3, 1, 1), nn.ReLU(), nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(),
                        nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 3, 3, 1, 1))
    return enc, dec


class Ours(nn.Module):
    "objcentric quantizer on [B,N,D]: returns (z_q, indices, aux loss)"
    def __init__(self, q): super().__init__(); self.q = q
    def forward(self, z):
        zq, o = self.q(z); return zq, o.indices, o.loss


class Theirs(nn.Module):
    "lucidrains VectorQuantize: (quantized, indices, loss)"
    def __init__(self, q): super().__init__(); self.q = q
    def forward(self, z):
        zq, idx, loss = self.q(z); return zq, idx, loss.sum()


class FSQWrap(nn.Module):
    "FSQ of either library between the same learned projections D -> len(levels) -> D"
    def __init__(self, q, ours):
        super().__init__(); self.q, self.ours = q, ours
        self.pin, self.pout = nn.Linear(D, len(LEVELS)), nn.Linear(len(LEVELS), D)
    def forward(self, z):
        h = self.pin(z)
        if self.ours: q, o = self.q(h); idx = o.indices
        else: q, idx = self.q(h)
        return self.pout(q), idx, z.new_zeros(())


def variants():
    "name -> (description, ours factory, theirs factory); both sides use the same semantics where the libraries allow"
    def L(**kw):
        base = dict(dim=D, codebook_size=K, rotation_trick=False, kmeans_init=False)
        base.update(kw); return lambda: Theirs(LVQ(**base))
    return {
        'plain': ('learned codebook, straight-through, loss |z - e|^2 on both sides (beta 1)',
                  lambda: Ours(VectorQuantizer(D, K, beta=1.0, init='kaiming')),
                  L(learnable_codebook=True, ema_update=False, commitment_weight=1.0)),
        'ema': ('EMA codebook (decay 0.99), commitment 0.25',
                lambda: Ours(VectorQuantizer(D, K, beta=0.25, update=EMAUpdate(0.99), init='kaiming')),
                L(decay=0.99, commitment_weight=0.25)),
        'ema_revival': ('EMA codebook + dead-code replacement from the batch',
                        lambda: Ours(VectorQuantizer(D, K, beta=0.25, update=EMAUpdate(0.99), revival=Revival(threshold=1.0), init='kaiming')),
                        L(decay=0.99, commitment_weight=0.25, threshold_ema_dead_code=1)),
        'cosine': ('EMA codebook, cosine search (ours: raw codeword out, as Visual-GPT; theirs: unit codeword)',
                   lambda: Ours(VectorQuantizer(D, K, beta=0.25, update=EMAUpdate(0.99), search=CodeSearch(cosine=True), init='kaiming')),
                   L(decay=0.99, commitment_weight=0.25, use_cosine_sim=True)),
        'lowdim': ('EMA codebook of width 8 behind learned projections 32 -> 8 -> 32',
                   lambda: Ours(VectorQuantizer(D, K, beta=0.25, update=EMAUpdate(0.99), codebook_dim=8, init='kaiming')),
                   L(decay=0.99, commitment_weight=0.25, codebook_dim=8)),
        'rotation': ('EMA codebook, rotation trick instead of straight-through',
                     lambda: Ours(VectorQuantizer(D, K, beta=0.25, update=EMAUpdate(0.99), estimator='rotation', init='kaiming')),
                     L(decay=0.99, commitment_weight=0.25, rotation_trick=True)),
        'fsq': (f'FSQ levels {LEVELS} ({math.prod(LEVELS)} codes) between learned projections',
                lambda: FSQWrap(FSQ(LEVELS), True), lambda: FSQWrap(LFSQ(LEVELS), False)),
    }


def data(n_train, n_val, seed=0):
    kw = dict(image_size=32, min_objects=1, max_objects=3, background='colour')
    tr = SpritesDataset('train', n=n_train, seed=seed, **kw).get_batch(range(n_train))['image']
    va = SpritesDataset('val', n=n_val, seed=seed, **kw).get_batch(range(n_val))['image']
    return tr, va


def train_one(make_q, X, V, steps, bs, lr, seed=0):
    torch.manual_seed(seed)
    enc, dec = autoencoder()
    torch.manual_seed(seed + 1)
    q = make_q()
    params = list(enc.parameters()) + list(dec.parameters()) + [p for p in q.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr)
    g = torch.Generator().manual_seed(seed)
    def fwd(x):
        z = enc(x * 2 - 1); B, C, H, W = z.shape
        zq, idx, aux = q(z.permute(0, 2, 3, 1).reshape(B, H * W, C))
        r = dec(zq.reshape(B, H, W, C).permute(0, 3, 1, 2))
        return F.mse_loss((r + 1) / 2, x), aux, idx
    curve, t_step = [], []
    for s in range(steps):
        x = X[torch.randint(0, len(X), (bs,), generator=g)]
        t0 = time.perf_counter()
        q.train(); rec, aux, _ = fwd(x)
        opt.zero_grad(); (rec + aux).backward(); opt.step()
        t_step.append(time.perf_counter() - t0)
        if (s + 1) % max(1, steps // 10) == 0: curve.append((s + 1, float(rec)))
    q.eval(); enc.eval(); dec.eval()
    with torch.no_grad():
        mse, idx = [], []
        for i in range(0, len(V), 128):
            r, _, ix = fwd(V[i:i + 128]); mse.append(float(r) * len(V[i:i + 128])); idx.append(ix.reshape(-1))
    idx = torch.cat(idx).long()
    n = math.prod(LEVELS) if isinstance(q, FSQWrap) else K
    c = torch.bincount(idx, minlength=n).double(); p = c / c.sum()
    ppl = float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))
    # the quantizer alone: forward + backward on a fixed [bs, 64, D] tensor
    zt = torch.randn(bs, 64, D, requires_grad=True); q.train()
    for _ in range(3): zq, _, aux = q(zt); (zq.sum() + aux).backward()
    t0 = time.perf_counter(); reps = 20
    for _ in range(reps): zq, _, aux = q(zt); (zq.sum() + aux).backward()
    tq = (time.perf_counter() - t0) / reps
    st = sorted(t_step[5:]) or t_step
    return dict(val_mse=sum(mse) / len(V), usage=float((c > 0).double().mean()), perplexity=ppl, num_codes=n,
                step_ms=1000 * st[len(st) // 2], quantizer_ms=1000 * tq, curve=curve)


def figure(res, path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = list(res)
    fig, axs = plt.subplots(1, 3, figsize=(10, 2.8))
    x = torch.arange(len(names)).float()
    for ax, (k, t) in zip(axs, (('usage', 'held-out codebook usage'), ('perplexity', 'held-out perplexity'), ('val_mse', 'held-out MSE'))):
        ax.bar(x - 0.2, [res[n]['objcentric'][k] for n in names], 0.4, label='objcentric')
        ax.bar(x + 0.2, [res[n]['lucidrains'][k] for n in names], 0.4, label='vector-quantize-pytorch')
        ax.set_xticks(x.tolist()); ax.set_xticklabels(names, rotation=40, fontsize=7); ax.set_title(t, fontsize=8); ax.tick_params(labelsize=7)
    axs[0].legend(fontsize=6)
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def table(res):
    rows = ['| variant | library | usage | perplexity | held-out MSE | step ms | quantizer ms |', '|---|---|---|---|---|---|---|']
    for n, r in res.items():
        for lib in ('objcentric', 'lucidrains'):
            m = r[lib]
            rows.append(f"| {n} | {lib} | {m['usage']:.1%} | {m['perplexity']:.1f} | {m['val_mse']:.5f} | {m['step_ms']:.1f} | {m['quantizer_ms']:.2f} |")
    return '\n'.join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=600); ap.add_argument('--bs', type=int, default=32); ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--n_train', type=int, default=5000); ap.add_argument('--n_val', type=int, default=512)
    ap.add_argument('--only', default=''); ap.add_argument('--threads', type=int, default=1); ap.add_argument('--out', default=str(OUT / 'quantizers_vs_lucidrains'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    X, V = data(a.n_train, a.n_val)
    vs = variants()
    if a.only: vs = {k: v for k, v in vs.items() if k in a.only.split(',')}
    res, t0 = {}, time.perf_counter()
    load0 = os.getloadavg()
    for name, (desc, ours, theirs) in vs.items():
        res[name] = dict(description=desc)
        for lib, mk in (('objcentric', ours), ('lucidrains', theirs)):
            res[name][lib] = train_one(mk, X, V, a.steps, a.bs, a.lr)
            m = res[name][lib]
            print(f"{name:12s} {lib:11s} usage {m['usage']:.3f} ppl {m['perplexity']:7.1f} mse {m['val_mse']:.5f} step {m['step_ms']:.1f} ms q {m['quantizer_ms']:.2f} ms", flush=True)
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(benchmark='objcentric quantizers vs lucidrains/vector-quantize-pytorch on the same autoencoder and data',
                command=' '.join(['python'] + sys.argv), machine=platform.processor() or platform.machine(),
                cpus=os.cpu_count(), threads=a.threads, torch=torch.__version__, vector_quantize_pytorch=getattr(vqp, '__version__', None) or _version(),
                load_average_start=load0, load_average_end=os.getloadavg(), wall_s=round(time.perf_counter() - t0, 1),
                data='sprites 32 px, 1-3 sprites on a plain random colour, 5000 train / 512 held-out', steps=a.steps, batch_size=a.bs, lr=a.lr,
                latent=f'8x8 grid of width {D}', codebook=K, notes='step_ms: median wall time of one training step (whole autoencoder); '
                'quantizer_ms: forward+backward of the quantizer alone on [bs,64,D]. Times are wall-clock on a shared machine: compare within a run.')
    (out.with_suffix('.json')).write_text(json.dumps(dict(meta, results=res), indent=1))
    (out.with_suffix('.md')).write_text(f"# {meta['benchmark']}\n\n{meta['data']}; {a.steps} steps of batch {a.bs}, Adam {a.lr}; "
                                        f"load average {load0[0]:.1f} at the start.\n\n" + table(res) + '\n')
    figure(res, out.with_suffix('.png'))
    print(table(res))


def _version():
    try:
        from importlib.metadata import version; return version('vector-quantize-pytorch')
    except Exception: return None


if __name__ == '__main__': main()
