"""Benchmark: ALP (NLoTM stage 2) generation and the prior's improvements, each against the original behaviour.

Sections (each merges its results into benchmarks/results/alp_generation.json):

* `speed`: end-to-end generation of N images (ALP sampling -> code lookup -> SVQ token decoding -> dVAE
  decoder) with the KV caches (`use_cache=True`) against the original path (`use_cache=False`: every
  prior step and every decoder step re-runs the whole prefix, as the reference code does). Both paths are
  run in full, with the same seed, and must return identical tokens and images. Also the prior alone
  at the official size (3,964,608 parameters, 64 tokens). Speed does not depend on training, so the
  models are randomly initialised (or loaded from a run with --alp-run).
* `masking`: the block-masked prior against the original unmasked one, trained identically on the same
  code sequences: held-out NLL per token, the unmasked softmax's mass outside the block, and the fraction
  of sampled sequences that contain a code from the wrong block.
* the generation accuracy of ALP next to the dVAE-token prior on a trained SVQ is the `alp` recipe's own
  evaluation (`run('alp', ...)`, recorded by `python benchmarks/quality.py alp` in benchmarks/alp_quality.json).
* `oracle`: ALP over ideal object codes (ground-truth sprite factors quantised per block, random slot
  order), rendered by the sprite renderer and judged the same way: the prior's share of the claim, without
  the SVQ decoder; with objects drawn independently as the no-dependency reference, masked vs original.

Usage:
    python benchmarks/alp_generation.py speed --n 64 --threads 1
    python benchmarks/alp_generation.py masking --steps 800 --threads 1
    python benchmarks/alp_generation.py oracle --steps 2000 --layers 3
"""
import argparse, json, math, os, platform, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from objcentric.core import count_params, seed_everything
from objcentric.alp import ALP, ALPConfig, ALPGenerator, LatentDataset, prior_nll
from objcentric.recipes import create_model, get_preset

OUT = Path(__file__).resolve().parent / 'results' / 'alp_generation.json'


def _env(args):
    return dict(device=str(args.device), torch=torch.__version__, threads=torch.get_num_threads(), cpus=os.cpu_count(),
                machine=platform.machine(), python=platform.python_version(),
                load_avg=[round(x, 2) for x in os.getloadavg()] if hasattr(os, 'getloadavg') else None,
                command='python benchmarks/alp_generation.py ' + ' '.join(sys.argv[1:]))


def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def _timed(fn, dev):
    "(wall seconds, process CPU seconds, result)"
    _sync(dev); t, c = time.perf_counter(), time.process_time(); out = fn(); _sync(dev)
    return time.perf_counter() - t, time.process_time() - c, out


def _width(preset):
    "The width fields of an ALP preset (vocabulary, length and blocks come from the SVQ)"
    c = get_preset('alp', preset).model
    return dict(d_model=c.d_model, num_layers=c.num_layers, num_heads=c.num_heads, ffn_dim=c.ffn_dim, dropout=c.dropout)


def _models(args):
    "(svq, prior, description): from an ALP run folder when given, else randomly initialised at the preset sizes"
    dev = torch.device(args.device)
    if args.alp_run:
        from objcentric.zoo_slots import load_alp
        gen = load_alp(args.alp_run, device=dev)
        return gen.svq, gen.prior, f'trained: {args.alp_run}'
    torch.manual_seed(0)
    svq = create_model('svq', args.svq_preset).to(dev).eval(); s = svq.cfg
    prior = ALP(ALPConfig(vocab_size=s.num_codes, seq_len=s.num_slots * s.num_blocks, num_blocks=s.num_blocks,
                          **_width(args.alp_preset))).to(dev).eval()
    return svq, prior, f'random init: SVQ preset {args.svq_preset!r}, ALP preset {args.alp_preset!r}'


@torch.inference_mode()
def bench_speed(args):
    dev = torch.device(args.device)
    svq, prior, desc = _models(args)
    s, c = svq.cfg, prior.cfg
    gen = ALPGenerator(prior, svq)
    gen.generate(2, batch_size=2, seed=1)                                        # warm-up
    res = dict(models=desc, n_images=args.n, image_size=s.image_size, dvae_tokens=(s.image_size // 4) ** 2,
               prior_tokens=c.seq_len, prior_params=count_params(prior), svq_params=count_params(svq),
               svq_decoder_layers=getattr(s, 'dec_layers', None), svq_d_model=s.d_model,
               prior_sampling='temperature 1.0 (multinomial)', decoder_sampling='greedy')
    t_c, c_c, (img_c, tok_c) = _timed(lambda: gen.generate(args.n, batch_size=args.n, seed=0, return_tokens=True), dev)
    print(f'end-to-end, cached: {t_c:.2f} s', flush=True)
    t_u, c_u, (img_u, tok_u) = _timed(lambda: gen.generate(args.n, batch_size=args.n, seed=0, use_cache=False, return_tokens=True), dev)
    print(f'end-to-end, uncached (original): {t_u:.2f} s', flush=True)
    res.update(end_to_end=dict(cached_s=round(t_c, 3), uncached_s=round(t_u, 3), speedup=round(t_u / t_c, 2),
                               cached_cpu_s=round(c_c, 3), uncached_cpu_s=round(c_u, 3), speedup_cpu_time=round(c_u / c_c, 2),
                               cached_images_per_s=round(args.n / t_c, 3), uncached_images_per_s=round(args.n / t_u, 3),
                               identical_tokens=bool(torch.equal(tok_c, tok_u)),
                               max_abs_image_diff=float((img_c - img_u).abs().max())))
    # the prior alone at the official size
    torch.manual_seed(0)
    paper = ALP(ALPConfig(**_width('paper'))).to(dev).eval()
    g = lambda: torch.Generator(device=dev).manual_seed(0)
    paper.sample(2, generator=g())
    t_pc, c_pc, a = _timed(lambda: paper.sample(args.n, generator=g()), dev)
    t_pu, c_pu, b = _timed(lambda: paper.sample(args.n, use_cache=False, generator=g()), dev)
    res.update(prior_only_official=dict(params=count_params(paper), tokens=paper.cfg.seq_len, n_sequences=args.n,
                                        cached_s=round(t_pc, 3), uncached_s=round(t_pu, 3), speedup=round(t_pu / t_pc, 2),
                                        cached_cpu_s=round(c_pc, 3), uncached_cpu_s=round(c_pu, 3), speedup_cpu_time=round(c_pu / c_pc, 2),
                                        identical_tokens=bool(torch.equal(a, b))))
    print(json.dumps(res, indent=1))
    return res


def _train(prior, data, steps, bs, lr, seed, val=None, eval_at=()):
    "Plain Adam training of a prior on a LatentDataset (identical data order for a given seed); held-out NLL at `eval_at`"
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(prior.parameters(), lr=lr); prior.train(); curve = {}
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(data), (bs,), generator=g)
        loss = prior(data.tokens[idx])['loss']
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(prior.parameters(), 0.05, norm_type=float('inf'))   # the reference's clipping
        opt.step()
        if val is not None and step in eval_at:
            ev = prior_nll(prior, val); curve[step] = dict(val_nll=round(ev['val_nll'], 4), val_oob_mass=round(ev['val_oob_mass'], 5))
            print(step, curve[step], flush=True)
    return prior.eval(), curve


def bench_masking(args):
    "Masked vs original (unmasked) prior, same init, same data order, same steps"
    if args.alp_run:
        lat = Path(args.alp_run) / 'latents'
        tr, va = LatentDataset(lat / 'train.pt'), LatentDataset(lat / 'val.pt')
        src = f'SVQ codes of {args.alp_run}'
    else:                                                  # a synthetic block language: colour codes distinct across slots
        N, M, K, n = 4, 8, 16, 4000
        g = torch.Generator().manual_seed(0)
        def make(n):
            base = torch.randint(0, K, (n, N, M), generator=g)
            base[..., 0] = torch.stack([torch.randperm(K, generator=g)[:N] for _ in range(n)])
            base[..., 1] = base[..., 0] % 4                                              # block 1 determined by block 0
            return base + torch.arange(M) * K
        tr, va = LatentDataset(make(n)), LatentDataset(make(n // 4))
        src = 'synthetic block language (4 slots x 8 blocks x 16 codes; block 0 distinct across slots, block 1 = block 0 mod 4)'
    model = dict(d_model=args.d_model, num_layers=args.layers, num_heads=4, ffn_dim=4 * args.d_model, dropout=0.0)
    eval_at = sorted({int(x) for x in args.eval_at.split(',')} | {args.steps})
    out = dict(data=src, steps=args.steps, batch_size=args.batch, lr=args.lr, clip='inf-norm 0.05', prior=dict(model),
               seq_len=tr.seq_len, num_blocks=tr.num_blocks, codes_per_block=tr.codes_per_block,
               uniform_nll_masked=round(math.log(tr.codes_per_block), 4), uniform_nll_unmasked=round(math.log(tr.vocab_size), 4))
    for mask in (False, True):
        torch.manual_seed(0)
        prior = ALP(tr.alp_config(**{**model, 'mask_blocks': mask}))
        t = time.perf_counter()
        _, curve = _train(prior, tr, args.steps, args.batch, args.lr, seed=0, val=va, eval_at=eval_at)
        smp = prior.sample(1000, generator=torch.Generator().manual_seed(0))
        oob = (~prior.allowed[torch.arange(prior.cfg.seq_len), smp]).any(1).float().mean().item()
        out['masked' if mask else 'original_unmasked'] = dict(curve=curve, oob_sample_fraction=round(oob, 4),
                                                             train_s=round(time.perf_counter() - t, 1))
        print(mask, out['masked' if mask else 'original_unmasked'], flush=True)
    return out



@torch.no_grad()
def bench_oracle(args):
    """ALP over ideal object codes: each sprite's ground-truth factors quantised into one code per block
    (shape, colour, size, x bin, y bin; an extra 'absent' code), slots in a random order per scene (as SVQ's
    slot order is arbitrary). Samples are rendered by the sprite renderer and judged like generated images.
    This isolates the prior's part of the paper's claim from the quality of the SVQ decoder."""
    from objcentric.data import get_dataset, render_sprites, SPRITE_SHAPES, SPRITE_COLOURS, SPRITE_SIZES
    from objcentric.metrics import generation_accuracy
    S, O, NB = 32, 4, 16                                         # image side, object slots, position bins
    vals = (len(SPRITE_SHAPES), len(SPRITE_COLOURS), len(SPRITE_SIZES), NB, NB)
    M, K = len(vals), max(vals) + 1; ABSENT = K - 1
    kw = dict(image_size=S, min_objects=3, max_objects=O)
    def codes(ds, seed):
        b = ds.get_batch(list(range(len(ds))))
        f, p = b['factors'], b['present'].bool()
        q = torch.stack([f[..., 0].round(), f[..., 1].round(), f[..., 2].round(),
                         (f[..., 3] * NB).floor().clamp(0, NB - 1), (f[..., 4] * NB).floor().clamp(0, NB - 1)], -1).long()
        q[~p] = ABSENT
        g = torch.Generator().manual_seed(seed)
        perm = torch.stack([torch.randperm(O, generator=g) for _ in range(len(q))])
        q = q.gather(1, perm[..., None].expand(-1, -1, M))
        return q + torch.arange(M) * K
    def render(idx):
        v = idx - torch.arange(M) * K                           # per-block values [n,O,M]
        ok = ((v >= 0) & (v < torch.tensor(vals))).all(-1) & (v != ABSENT).all(-1)
        v = torch.where(ok[..., None], v, torch.zeros_like(v))
        f = torch.stack([v[..., 0], v[..., 1], v[..., 2], (v[..., 3] + 0.5) / NB, (v[..., 4] + 0.5) / NB,
                         torch.arange(O).expand(len(v), O)], -1).float()
        return render_sprites(f, ok, image_size=S)['image']
    tr = LatentDataset(codes(get_dataset('sprites', 'train', n=args.n_train, seed=1, rule=args.rule, **kw), 0))
    va_ds = get_dataset('sprites', 'val', n=500, seed=1, rule=args.rule, **kw)
    va = LatentDataset(codes(va_ds, 1))
    nobj = (kw['min_objects'], O)
    real = va_ds.get_batch(list(range(256)))['image']
    out = dict(data=f'sprites under {args.rule!r}, 3-{O} objects, {S} px; codes = (shape, colour, size, x bin, y bin) per object, '
                    f'{NB} position bins, K={K} incl. an absent code, random slot order', n_train=args.n_train, steps=args.steps,
               prior=dict(d_model=args.d_model, num_layers=args.layers), n_samples=args.n_samples,
               judge_on_real_rule_scenes=generation_accuracy(real, args.rule, num_objects=nobj),
               judge_on_rendered_real_codes=generation_accuracy(render(va.tokens[:256].view(-1, O, M)), args.rule, num_objects=nobj))
    # reference: objects drawn independently from the empirical distribution of object codes (no cross-slot dependency)
    objs = tr.tokens.view(-1, O, M).reshape(-1, M)
    g = torch.Generator().manual_seed(0)
    ind = objs[torch.randint(0, len(objs), (args.n_samples, O), generator=g)]
    out['independent_objects'] = dict(gen_accuracy=generation_accuracy(render(ind), args.rule, num_objects=nobj))
    model = dict(d_model=args.d_model, num_layers=args.layers, num_heads=4, ffn_dim=4 * args.d_model, dropout=0.0)
    for mask in (True, False):
        torch.manual_seed(0)
        prior = ALP(tr.alp_config(**{**model, 'mask_blocks': mask}))
        _train(prior, tr, args.steps, args.batch, args.lr, seed=0)
        smp = prior.sample(args.n_samples, generator=torch.Generator().manual_seed(0))
        oob = (~prior.allowed[torch.arange(prior.cfg.seq_len), smp]).any(1).float().mean().item()
        acc = generation_accuracy(render(smp.view(-1, O, M)), args.rule, num_objects=nobj)
        out['alp_masked' if mask else 'alp_original_unmasked'] = dict(gen_accuracy=acc, val_nll=round(prior_nll(prior, va)['val_nll'], 4),
                                                                      oob_sample_fraction=round(oob, 4))
        print(mask, out['alp_masked' if mask else 'alp_original_unmasked'], flush=True)
    print(json.dumps(out, indent=1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('section', choices=['speed', 'masking', 'oracle'])
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    ap.add_argument('--n', type=int, default=64, help='images / sequences generated (speed)')
    ap.add_argument('--svq-preset', default='cpu_demo')
    ap.add_argument('--alp-preset', default='cpu_demo')
    ap.add_argument('--alp-run', default=None, help='an ALP run folder (trained prior and its SVQ)')
    ap.add_argument('--steps', type=int, default=1500, help='prior training steps (masking, accuracy)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--d-model', type=int, default=64, help='prior width (masking, accuracy)')
    ap.add_argument('--layers', type=int, default=2, help='prior layers (masking, accuracy)')
    ap.add_argument('--eval-at', default='50,100,200,400', help='steps at which the held-out NLL is recorded (masking)')
    ap.add_argument('--rule', default='distinct_colours')
    ap.add_argument('--n-train', type=int, default=5000)
    ap.add_argument('--n-samples', type=int, default=256)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--key', default=None, help='name of the entry in the results file (default: the section)')
    ap.add_argument('--out', default=str(OUT))
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    seed_everything(0)
    env = _env(args)
    res = dict(speed=bench_speed, masking=bench_masking, oracle=bench_oracle)[args.section](args)
    res['env'] = env; res['env']['load_avg_end'] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    allres = json.loads(out.read_text()) if out.is_file() else {}
    allres[args.key or args.section] = res
    out.write_text(json.dumps(allres, indent=1))
    print(f'wrote {out} [{args.key or args.section}]')


if __name__ == '__main__':
    main()
