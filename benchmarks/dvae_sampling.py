"""The dVAE's sampling before and after stop 32: the same tokens and loss, bit for bit, in less time.

`before` is the formula objcentric used until stop 31 and the official code uses: Gumbel noise out of place, the hard
sample as softmax((logits + g) / tau), one-hot of its argmax, straight-through sums. `after` is `DVAE.forward` as it is
now: the noise in place (chapter 00) and the hard sample's index by `gumbel_argmax` (chapters 03, 05). For each noise
path (the default `exponential_` and `fast_noise`), both sides are first run from the same seed and checked to give
equal tokens and equal loss. Then forward + backward alternate on one thread and the medians are reported. Writes
benchmarks/results/dvae_sampling.json.

    python benchmarks/dvae_sampling.py            # SLATE's paper dVAE: V = 1024, 64 px (16 x 16 tokens), batch 8
"""
import argparse, json, os, platform, statistics, sys, time
from datetime import datetime, timezone
from pathlib import Path
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.core import fast_noise, fast_noise_enabled
from objcentric.dvae import DVAE

TINY = torch.finfo(torch.float32).tiny

def noise_before(like):
    "gumbel_noise until stop 31"
    if fast_noise_enabled():
        return torch.rand(like.shape).add_(TINY).log_().neg_().add_(TINY).log_().neg_()
    return -torch.log(torch.empty_like(like).exponential_() + TINY)

def gumbel_softmax_before(logits, tau, hard=False, dim=1):
    "gumbel_softmax until stop 31 (the official formula)"
    y = F.softmax((logits.float() + noise_before(logits)) / tau, dim=dim)
    if not hard: return y
    return torch.zeros_like(y).scatter_(dim, y.argmax(dim, keepdim=True), 1.0) - y.detach() + y

def forward_before(m, x):
    "DVAE.forward until stop 31 (no usage term)"
    lp = m.encode(x); recon = m.decode(gumbel_softmax_before(lp, m._tau))
    tokens = gumbel_softmax_before(lp, m._tau, hard=True).detach().argmax(1).flatten(1)
    return dict(loss=((x - recon) ** 2).sum() / x.shape[0], tokens=tokens)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--vocab', type=int, default=1024); ap.add_argument('--image-size', type=int, default=64)
    ap.add_argument('--batch', type=int, default=8); ap.add_argument('--rounds', type=int, default=30)
    ap.add_argument('--out', default=str(ROOT / 'benchmarks/results/dvae_sampling.json'))
    a = ap.parse_args()
    torch.set_num_threads(1); torch.manual_seed(0)
    m = DVAE(a.vocab); x = torch.rand(a.batch, 3, a.image_size, a.image_size)
    load0, rows = os.getloadavg(), []
    for fast in (False, True):
        with fast_noise(fast):
            torch.manual_seed(1); b = forward_before(m, x); torch.manual_seed(1); n = m(x)
            same = bool(torch.equal(b['tokens'], n['tokens']) and torch.equal(b['loss'], n['loss']))
            t, r = dict(before=[], after=[]), []
            for i in range(a.rounds + 3):                       # 3 warm-up rounds; the side that goes first alternates
                for k in (('before', 'after') if i % 2 else ('after', 'before')):
                    m.zero_grad(); s = time.perf_counter()
                    (forward_before(m, x) if k == 'before' else m(x))['loss'].backward(); t[k].append(time.perf_counter() - s)
                if i >= 3: r.append(t['after'][-1] / t['before'][-1])
            row = dict(fast_noise=fast, same_tokens_and_loss=same, ms_before=round(1e3 * statistics.median(t['before'][3:]), 1),
                       ms_after=round(1e3 * statistics.median(t['after'][3:]), 1), ratio_paired=round(statistics.median(r), 3))
            print(row); rows.append(row)
    out = dict(benchmark=__doc__.split('\n')[0], command='python benchmarks/dvae_sampling.py ' + ' '.join(sys.argv[1:]),
               machine=f'{platform.machine()}, {os.cpu_count()} cores', torch=torch.__version__, threads=1,
               config=dict(vocab=a.vocab, image_size=a.image_size, batch=a.batch, rounds=a.rounds),
               date=datetime.now(timezone.utc).isoformat(timespec='seconds'), loadavg_start=[round(v, 2) for v in load0],
               loadavg_end=[round(v, 2) for v in os.getloadavg()], rows=rows)
    Path(a.out).write_text(json.dumps(out, indent=1) + '\n'); print('wrote', a.out)
