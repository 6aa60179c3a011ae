"""Benchmark: objcentric's SLATE / SysBinder / SVQ / ALP side by side with the official code, same weights.

For each model the official model is built from a local checkout of its public repository (`--official-dir`
holding `slate/` = singhgautam/slate, `sysbinder/` = singhgautam/sysbinder, `nlotm/` = yfw/nlotm, e.g.
`git clone https://github.com/yfw/nlotm OFF/nlotm`; measured at 06f63c5 / bd9d2a7 / 0b4fb68; not vendored, not needed by
the tests) with the flags `objcentric.official.official_namespace` gives for objcentric's model at the same
configuration; the official weights are copied into objcentric's model with the converter (`convert_official_state_dict`),
so both compute the same function. Then, in one process:

- parameter counts are checked to be equal (trainable parameters, counted the official way: dense block GRU,
  SVQ codebook and EMA sums as parameters);
- `--check`: one training forward/backward of each under the same seed with dropout off: loss and gradient
  differences (and the strict `load_state_dict` of `official_state_dict` into the official model);
- training steps alternate (forward, backward, infinity-norm clipping, Adam; which side goes first rotates),
  `--warmup` untimed, then `--steps` timed; medians and the ratio ours / official. objcentric's side uses the
  trainer's default Adam (fused kernel; `--ours-adam plain` for the official loop); `--fast-noise` adds a third side,
  the same objcentric model with the fast CPU noise samplers (`TrainConfig(fast_noise=True)`);
- `--loss-steps N`: each side trained N steps from the same weights on the same sprite batches, once per
  `--loss-seeds` seed: the loss reached (mean of the last 10 steps), to show that the faster step trains the same model;
- decoding alternates: the official `reconstruct_autoregressive` (the prior's `sample`) against objcentric's
  KV-cached `reconstruct` (`sample`), `--decode` times each;
- peak memory: on CUDA the peak allocated during a step above what was allocated before it, and the resident
  parameters + gradients + optimizer state of each side; on CPU with `--memory` the peak RSS of a child process
  that builds one side alone and runs two steps;
- on CUDA (or with `--flops`) the FLOPs of one training step (`torch.utils.flop_counter`) and the model FLOPs
  utilisation against `--peak-tflops` (default: a table of known devices).

Usage (CPU, one thread: the commands of benchmarks/results/vs_official_cpu.json; OFF = the folder of the three checkouts):
    B="python benchmarks/vs_official.py --official-dir OFF --threads 1 --fast-noise"; OUT=benchmarks/results/vs_official_cpu.json
    $B --models slate sysbinder --preset demo --batch-size 8 --steps 20 --warmup 2 --decode 1 --decode-batch 2 \
       --gru-storage dense grouped --check --memory --loss-steps 100 --loss-seeds 0 1 2 --out $OUT
    $B --models svq --preset demo --batch-size 8 --steps 20 --warmup 2 --decode 1 --decode-batch 2 --gru-storage dense \
       --check --memory --out $OUT --merge
    $B --models svq --preset demo --batch-size 8 --steps 20 --warmup 2 --decode 1 --decode-batch 2 --gru-storage grouped \
       --check --memory --loss-steps 100 --loss-seeds 0 1 --out $OUT --merge
    $B --models sysbinder svq --preset paper --batch-size 1 --steps 6 --warmup 1 --decode 0 --gru-storage dense grouped \
       --check --memory --out $OUT --merge
    $B --models alp --preset demo --batch-size 8 --steps 20 --warmup 2 --decode 1 --decode-batch 2 --check --memory \
       --loss-steps 100 --loss-seeds 0 1 2 --out $OUT --merge
    $B --models slate --preset paper --batch-size 8 --steps 20 --warmup 2 --decode 1 --decode-batch 2 --check --memory \
       --loss-steps 50 --loss-seeds 0 1 --out $OUT --merge
    $B --models alp --preset paper --batch-size 40 --steps 16 --warmup 1 --decode 1 --decode-batch 2 --check --memory --out $OUT --merge
The ratio to read is `step_ratio_paired_*`: the median of the per-round ratios (this CPU has slow phases of several
seconds that slow every side; the two steps of a round share them).
GPU: benchmarks/gpu_vs_official.sh.
"""
import argparse, copy, dataclasses, importlib, json, math, os, platform, statistics, subprocess, sys, time, warnings
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.core import autocast, count_params, fast_noise
from objcentric.slots import SLATE, SlateConfig
from objcentric.sysbinder import SysBinder, SysBinderConfig
from objcentric.svq import SVQ, SVQConfig
from objcentric.alp import ALP, ALPConfig
from objcentric.official import official_namespace, official_state_dict, convert_official_state_dict

MODELS = ('slate', 'sysbinder', 'svq', 'alp')
REPO = dict(slate='slate', sysbinder='sysbinder', svq='nlotm', alp='nlotm')

# ------------------------------------------------------------------ configurations
def config(model:str, preset:str):
    "objcentric's configuration: 'paper' = the official defaults; 'demo' = the cpu_demo widths where the official code can build them"
    if preset == 'paper':
        return dict(slate=SlateConfig(), sysbinder=SysBinderConfig(), svq=SVQConfig(), alp=ALPConfig(mask_blocks=False))[model]
    if preset != 'demo': raise SystemExit(f"--preset: expected 'paper' or 'demo', got {preset!r}")
    from objcentric.recipes import get_preset
    c = get_preset(model, 'cpu_demo').model
    if model == 'slate':                      # the official dVAE is 64 wide; no token dropout / implicit gradient there
        return c.replace(dvae_hidden=64, token_dropout=0.0, implicit_grad=False, slot_init='shared')
    if model in ('sysbinder', 'svq'):         # the official CNN has 4 5x5 convolutions; prototype MLP 4 x block; NLoTM: 64/128/256 px
        c = c.replace(dvae_hidden=64, dvae_norm='none', encoder_input='cnn', cnn_layers=4, cnn_kernel=5, token_dropout=0.0,
                      implicit_grad=False, dec_heads=4, coupler_layers=1)   # the official CNN reads the image; its dVAE has no norm
        c = dataclasses.replace(c, cnn_downsample=None)                 # (Config.replace keeps a field given None)
        c = c.replace(image_size=64, slot_init='per_slot') if model == 'svq' else c.replace(proto_hidden=4 * c.block_size, slot_init='shared')   # NLoTM's learned / SysBinder's shared initial slots
        return c
    return c.replace(mask_blocks=False, ffn_dim=4 * c.d_model)

# ------------------------------------------------------------------ the official code
_SHADOW = ('utils', 'transformer', 'dvae', 'slot_attn', 'slate', 'sysbinder', 'nlotm', 'prior', 'data', 'args', 'shapes_3d')

def import_official(repo_dir:Path, names):
    "Import modules of one official checkout by path; their generic names (utils, transformer, ...) are removed again afterwards"
    if not repo_dir.is_dir(): raise SystemExit(f"--official-dir: {repo_dir} not found (expected checkouts slate/, sysbinder/, nlotm/)")
    saved = {n: sys.modules.pop(n) for n in _SHADOW if n in sys.modules}
    sys.path.insert(0, str(repo_dir))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return [importlib.import_module(n) for n in names]
    finally:
        sys.path.remove(str(repo_dir))
        for n in _SHADOW: sys.modules.pop(n, None)
        sys.modules.update(saved)

def official_model(model:str, ns, off_dir:Path):
    "The official model built from the Namespace"
    if model == 'slate': return import_official(off_dir / 'slate', ['slate'])[0].SLATE(ns)
    if model == 'sysbinder': return import_official(off_dir / 'sysbinder', ['sysbinder'])[0].SysBinderImageAutoEncoder(ns)
    if model == 'svq': return import_official(off_dir / 'nlotm', ['nlotm'])[0].NlotmImageAutoEncoder(ns)
    return import_official(off_dir / 'nlotm', ['prior'])[0].get_prior_model(ns)

def official_groups(model:str, off, ns):
    "The official Adam groups (by parameter name, as each train.py)"
    named = list(off.named_parameters())
    if model == 'slate':
        return [dict(params=[p for n, p in named if 'dvae' in n], lr=ns.lr_dvae), dict(params=[p for n, p in named if 'dvae' not in n], lr=ns.lr_main)]
    if model == 'alp': return [dict(params=[p for _, p in named], lr=ns.lr)]
    return [dict(params=[p for n, p in named if 'dvae' in n], lr=ns.lr_dvae), dict(params=[p for n, p in named if 'image_encoder' in n], lr=ns.lr_enc),
            dict(params=[p for n, p in named if 'image_decoder' in n], lr=ns.lr_dec)]

def our_groups(model:str, ours, ns):
    "objcentric's groups with the official learning rates"
    if model == 'alp': return [dict(params=list(ours.parameters()), lr=ns.lr)]
    lr = dict(dvae=ns.lr_dvae, main=getattr(ns, 'lr_main', None), enc=getattr(ns, 'lr_enc', None), dec=getattr(ns, 'lr_dec', None))
    return [dict(params=ps, lr=lr[k]) for k, ps in ours.param_groups().items()]

def official_params(model:str, off) -> int:
    "Trainable parameters of the official model at construction (NLoTM's codebook and EMA sums are nn.Parameters there)"
    return sum(p.numel() for p in off.parameters() if p.requires_grad)

def our_params_official_way(ours) -> int:
    "objcentric's trainable parameters counted as the official code does (dense block GRU; SVQ codebook + EMA sums)"
    n = count_params(ours)
    if isinstance(ours, SysBinder) and ours.cfg.gru_storage == 'grouped':
        g = ours.binder.gru; n += 2 * (g.weight_ih.numel() * g.num_blocks - g.weight_ih.numel())      # the masked-off blocks
    if isinstance(ours, SVQ): n += ours.vq.codebook.numel() + ours.vq.ema_sums.numel()
    if isinstance(ours, SysBinder) and ours.cfg.slot_init == 'per_slot': n += 2 * ours.cfg.slot_size   # NLoTM's learned init keeps the unused shared mu, sigma
    return n

# ------------------------------------------------------------------ one training step of each side
def make_batch(model:str, cfg, B:int, device, seed:int=0):
    g = torch.Generator().manual_seed(seed)
    if model == 'alp':
        K = cfg.vocab_size // cfg.num_blocks
        z = torch.randint(0, K, (B, cfg.seq_len), generator=g) + (torch.arange(cfg.seq_len) % cfg.num_blocks) * K
        return z.to(device)
    return torch.rand(B, 3, cfg.image_size, cfg.image_size, generator=g).to(device)

def official_loss(model:str, off, x, ns, tau:float):
    if model == 'slate': _, ce, mse, _ = off(x, tau, False); return mse + ce
    if model == 'sysbinder': _, ce, mse, _ = off(x, tau); return mse + ce
    if model == 'svq':
        _, ce, mse, _, vq, com = off(x, tau)
        return mse + ce + ns.vq_beta * vq + ns.commitment_beta * com
    return off.loss(x)

def our_loss(model:str, ours, x, step:int):
    if model == 'alp': return ours(x)['loss']
    ours.on_step(step)
    return ours(dict(image=x))['loss']

class Side:
    "One model with its optimizer, precision and clip: `step(x, i)` is one training step"
    def __init__(self, name, model, net, groups, clip, precision, device, ns, official, fused=False, fast=False):
        self.name, self.model, self.net, self.clip, self.precision, self.device, self.ns, self.official = name, model, net, clip, precision, device, ns, official
        self.fused, self.fast = fused, fast                      # fused Adam kernel; fast CPU noise samplers (objcentric only)
        self.groups = [dict(g) for g in groups]
        self.reset_optimizer()
        self.scaler = torch.amp.GradScaler(device.type) if precision == 'fp16' else None
        self.times, self.peak, self.decode_times = [], [], []

    def reset_optimizer(self):
        "A fresh Adam over the groups (no moments)"
        gs = [dict(g) for g in self.groups]
        self.opt = torch.optim.Adam(gs, fused=True) if self.fused else torch.optim.Adam(gs)

    def loss(self, x, i):
        tau = _tau(i, self.ns)
        with autocast(self.precision, self.device), fast_noise(self.fast):
            return official_loss(self.model, self.net, x, self.ns, tau) if self.official else our_loss(self.model, self.net, x, i)

    def step(self, x, i):
        self.opt.zero_grad()
        loss = self.loss(x, i)
        if self.scaler is not None:
            self.scaler.scale(loss).backward(); self.scaler.unscale_(self.opt)
        else: loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip, 'inf')
        if self.scaler is not None: self.scaler.step(self.opt); self.scaler.update()
        else: self.opt.step()
        return float(loss.detach())

    def resident_bytes(self) -> int:
        "Parameters, gradients and optimizer state held by this side"
        n = sum(p.numel() * p.element_size() for p in self.net.parameters())
        n += sum(p.grad.numel() * p.grad.element_size() for p in self.net.parameters() if p.grad is not None)
        n += sum(t.numel() * t.element_size() for s in self.opt.state.values() for t in s.values() if torch.is_tensor(t))
        return n

def paired_ratio(ours:list, official:list) -> dict:
    "Median and quartiles of the per-round ratios ours/official (steadier than the ratio of the medians: see below)"
    # the two steps of a round run back to back, so a slow phase of the machine slows both
    r = sorted(a / b for a, b in zip(ours, official))
    if not r: return {}
    q = statistics.quantiles(r, n=4) if len(r) > 1 else [r[0]] * 3
    return dict(median=round(statistics.median(r), 3), q1=round(q[0], 3), q3=round(q[2], 3), rounds=len(r))

def _tau(step, ns):
    from objcentric.dvae import gumbel_tau
    return gumbel_tau(step, ns.tau_start, ns.tau_final, ns.tau_steps) if hasattr(ns, 'tau_start') else 1.0

def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)

def _nodrop(m):
    "Dropout off (returns a function restoring it)"
    saved = []
    for x in m.modules():
        if isinstance(x, nn.Dropout): saved.append((x, 'p', x.p)); x.p = 0.0
        if isinstance(getattr(x, 'dropout', None), float): saved.append((x, 'dropout', x.dropout)); x.dropout = 0.0
    return lambda: [setattr(o, a, v) for o, a, v in saved]

# ------------------------------------------------------------------ fidelity
def check_same_function(model, off, ours, x, ns, device):
    "One training forward/backward under one seed, dropout off: loss difference and the largest relative gradient difference"
    off_r = copy.deepcopy(off)                                          # the check must not change the timed models
    ours_r = type(ours)(ours.cfg).to(x.device)                          # (a fresh build, not deepcopy: a deep copy of a dense
    ours_r.load_state_dict(ours.state_dict())                           #  BlockGRUCell loses its gradient-masking hooks)
    r1, r2 = _nodrop(off_r), _nodrop(ours_r)
    off_r.train(); ours_r.train()
    torch.manual_seed(1); lo = official_loss(model, off_r, x, ns, 1.0); lo.backward()
    torch.manual_seed(1); lu = our_loss(model, ours_r, x, 0); lu.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().cpu() for n, p in off_r.named_parameters()}
    grads.update({n: b.detach().cpu() for n, b in off_r.named_buffers()})
    conv = convert_official_state_dict(grads, ours_r)
    pairs = []
    for k, p in ours_r.named_parameters():
        if p.grad is None: continue
        g_off, g = conv[k].to(p.grad), p.grad
        if k.startswith('binder.gru.') and 'weight' in k and ours_r.cfg.gru_storage == 'dense':
            g_off = g_off * getattr(ours_r.binder.gru, 'mask_ih' if 'weight_ih' in k else 'mask_hh')
        pairs.append((k, g_off.float(), g.float()))
    top = max(float(go.abs().max()) for _, go, _ in pairs)
    num = math.sqrt(sum(float(((go - g) ** 2).sum()) for _, go, g in pairs)); den = math.sqrt(sum(float((go ** 2).sum()) for _, go, _ in pairs))
    worst, wkey = 0.0, None                       # per tensor, among tensors whose gradient is not ~0 (e.g. key biases get exactly 0)
    for k, go, g in pairs:
        m = float(go.abs().max())
        if m > 1e-4 * top:
            rel = float((go - g).abs().max()) / m
            if rel > worst: worst, wkey = rel, k
    out = dict(loss_official=float(lo), loss_ours=float(lu), loss_abs_diff=abs(float(lo) - float(lu)),
               loss_rel_diff=abs(float(lo) - float(lu)) / max(abs(float(lo)), 1e-12), grad_rel_l2=num / max(den, 1e-30), grad_max_rel_diff=worst, grad_worst_param=wkey, grad_tensors=len(pairs))
    if model == 'svq':
        out['codebook_max_abs_diff'] = float((off_r.image_encoder.nlotm.prototype_memory.mem.weight.detach() - ours_r.vq.codebook).abs().max())
    r1(); r2()
    return out

# ------------------------------------------------------------------ decoding
@torch.no_grad()
def decode(model, side, x, device):
    side.net.eval()
    try:
        torch.manual_seed(2); _sync(device); t = time.perf_counter()
        with autocast(side.precision, device):
            if model == 'alp': out = side.net.sample(x.shape[0]) if side.official else side.net.sample(x.shape[0], temperature=1.0)
            elif side.official: out = side.net.reconstruct_autoregressive(x)
            else: out = side.net.reconstruct(x)
        _sync(device)
        return time.perf_counter() - t, out.float()
    finally: side.net.train()

# ------------------------------------------------------------------ FLOPs and memory
PEAK_TFLOPS = {  # dense peak of the device, per precision (vendor sheets)
    'H200': dict(fp32=66.9, tf32=494.7, bf16=989.5, fp16=989.5), 'H100': dict(fp32=66.9, tf32=494.7, bf16=989.5, fp16=989.5),
    'A100': dict(fp32=19.5, tf32=156.0, bf16=312.0, fp16=312.0), 'L40S': dict(fp32=91.6, tf32=183.0, bf16=366.0, fp16=366.0),
}

def peak_tflops(device, precision, override):
    if override: return override
    if device.type != 'cuda': return None
    name = torch.cuda.get_device_name(device)
    for k, v in PEAK_TFLOPS.items():
        if k in name:
            tf32 = torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32   # fp32 convolutions run as TF32 by default
            return v[precision] if precision != 'fp32' else (v['tf32'] if tf32 else v['fp32'])
    return None

def step_flops(side, x, i) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    s = copy.deepcopy(side.net); s.train()
    with FlopCounterMode(display=False) as fc:
        with autocast(side.precision, side.device):
            loss = official_loss(side.model, s, x, side.ns, 1.0) if side.official else our_loss(side.model, s, x, i)
        loss.backward()
    del s
    return fc.get_total_flops()

def _status_mb(field:str) -> float:
    "VmRSS / VmHWM of this process in MB (VmHWM is this process image's own peak; ru_maxrss would inherit the parent's)"
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'): return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field} not in /proc/self/status')

def memory_child(a):
    "Child process: build one side alone, run two steps, print peak RSS (MB) and the RSS after building"
    torch.set_num_threads(a.threads)
    dev = torch.device('cpu')
    sides, x = build_sides(a, a.models[0], a.gru_storage[0], dev, only=a.memory_child)
    side = sides[a.memory_child]
    base = _status_mb('VmRSS')
    for i in range(2): side.step(x, i)
    print(json.dumps(dict(build_rss_mb=round(base, 1), peak_rss_mb=round(_status_mb('VmHWM'), 1))))

def cpu_memory(a, model, storage) -> dict:
    out = {}
    for which in ('official', 'ours'):
        cmd = [sys.executable, __file__, '--official-dir', str(a.official_dir), '--models', model, '--preset', a.preset, '--batch-size',
               str(a.batch_size), '--gru-storage', storage if storage in ('dense', 'grouped') else 'dense', '--threads', str(a.threads), '--precision', a.precision,
               '--official-precision', a.official_precision or a.precision, '--ours-adam', a.ours_adam, '--memory-child', which]
        if a.image_size: cmd += ['--image-size', str(a.image_size)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
        if r.returncode: raise RuntimeError(f"memory child failed: {r.stderr[-2000:]}")
        d = json.loads(r.stdout.strip().splitlines()[-1])
        out[which] = dict(d, step_extra_mb=round(d['peak_rss_mb'] - d['build_rss_mb'], 1))
    return out

# ------------------------------------------------------------------ the loss after N steps
def train_batches(model:str, cfg, B:int, n:int):
    "`n` training batches shared by every side: sprites at the model's image size (ALP: random block-structured codes)"
    if model == 'alp': return [make_batch(model, cfg, B, torch.device('cpu'), seed=100 + i) for i in range(n)]
    from objcentric.data import SpritesDataset
    ds = SpritesDataset('train', n=B * n, seed=0, image_size=cfg.image_size, min_objects=2, max_objects=3)
    return [torch.stack([ds[B * i + j]['image'] for j in range(B)]) for i in range(n)]

def loss_comparison(a, model:str, storage:str, dev) -> dict:
    "Each side trained `--loss-steps` steps from the same weights on the same batches, once per noise seed: mean loss of the last 10 steps"
    sides, _ = build_sides(a, model, storage, dev)
    cfg = sides['ours'].net.cfg
    batches = [b.to(dev) for b in train_batches(model, cfg, a.batch_size, a.loss_steps)]
    start = {k: copy.deepcopy(s.net.state_dict()) for k, s in sides.items()}
    out = {k: [] for k in sides}
    for seed in a.loss_seeds:
        for k, s in sides.items():
            s.net.load_state_dict(start[k]); s.reset_optimizer()
            torch.manual_seed(seed)
            losses = [s.step(b, i) for i, b in enumerate(batches)]
            out[k].append(dict(seed=seed, first=round(losses[0], 4), last10=round(statistics.mean(losses[-10:]), 4)))
    res = dict(steps=a.loss_steps, seeds=list(a.loss_seeds), runs=out)
    for k, v in out.items():
        xs = [r['last10'] for r in v]
        res[f'last10_mean_{k}'] = round(statistics.mean(xs), 4)
        res[f'last10_sd_{k}'] = round(statistics.stdev(xs), 4) if len(xs) > 1 else None
    return res

# ------------------------------------------------------------------ building both sides
def build_sides(a, model, storage, dev, only=None):
    "Both sides with the same weights (`only`: build one side alone, own initialisation, for the memory child)"
    cfg = config(model, a.preset)
    if a.image_size and model != 'alp': cfg = cfg.replace(image_size=a.image_size)
    if isinstance(cfg, SysBinderConfig): cfg = cfg.replace(gru_storage=storage)
    torch.manual_seed(0)
    cls = dict(slate=SLATE, sysbinder=SysBinder, svq=SVQ, alp=ALP)[model]
    if only == 'official':
        with torch.device('meta'): ours = cls(cfg)
    else: ours = cls(cfg)
    ns = official_namespace(ours)
    op = a.official_precision or a.precision
    x = make_batch(model, cfg, a.batch_size, dev)
    fused = a.ours_adam == 'fused'
    if only in ('ours', 'ours_fast'):
        return {only: Side(only, model, ours.to(dev).train(), our_groups(model, ours, ns), ns.clip, a.precision, dev, ns, False, fused, only == 'ours_fast')}, x
    off = official_model(model, ns, a.official_dir).to(dev).train()
    if only == 'official': return dict(official=Side('official', model, off, official_groups(model, off, ns), ns.clip, op, dev, ns, True)), x
    ours.load_state_dict(convert_official_state_dict(off.state_dict(), ours))     # the official weights, copied across
    ours.to(dev).train()
    sides = dict(official=Side('official', model, off, official_groups(model, off, ns), ns.clip, op, dev, ns, True),
                 ours=Side('ours', model, ours, our_groups(model, ours, ns), ns.clip, a.precision, dev, ns, False, fused))
    if a.fast_noise:                                              # a second copy of ours, same weights, fast noise samplers
        twin = cls(cfg); twin.load_state_dict(ours.state_dict()); twin.to(dev).train()   # (a fresh build: a deep copy of a dense
        sides['ours_fast'] = Side('ours_fast', model, twin, our_groups(model, twin, ns), ns.clip, a.precision, dev, ns, False, fused, True)  # block GRU loses its hooks)
    return sides, x

def run_one(a, model, storage, dev) -> dict:
    t_start = time.time()
    load0 = os.getloadavg()
    sides, x = build_sides(a, model, storage, dev)
    off, ours = sides['official'].net, sides['ours'].net
    row = dict(model=model, preset=a.preset, batch=a.batch_size, config={k: v for k, v in ours.cfg.to_dict().items()},
               official_repo=REPO[model], device=str(dev), precision_ours=a.precision, precision_official=sides['official'].precision,
               gru_storage=storage if model in ('sysbinder', 'svq') else None)
    row['params_official'] = official_params(model, off)
    row['params_ours'] = count_params(ours)
    row['params_ours_counted_officially'] = our_params_official_way(ours)
    row['params_equal'] = row['params_official'] == row['params_ours_counted_officially']
    if not row['params_equal']: print(f"WARNING {model}: parameter counts differ: {row['params_official']} vs {row['params_ours_counted_officially']}")
    if a.check:
        strict = copy.deepcopy(off).cpu()
        strict.load_state_dict(official_state_dict(ours), strict=True)                # the inverse map loads into the official code
        del strict
        row['fidelity'] = check_same_function(model, off, ours, x, sides['official'].ns, dev)
        row['fidelity']['official_state_dict_loads_strictly'] = True
    order = tuple(sides)
    for i in range(a.warmup + a.steps):
        for name in order[i % len(order):] + order[:i % len(order)]:       # which side goes first rotates
            s = sides[name]
            if dev.type == 'cuda': _sync(dev); torch.cuda.reset_peak_memory_stats(dev); base = torch.cuda.memory_allocated(dev)
            _sync(dev); t = time.perf_counter()
            s.step(x, i)
            _sync(dev); dt = time.perf_counter() - t
            if i >= a.warmup:
                s.times.append(dt)
                if dev.type == 'cuda': s.peak.append((torch.cuda.max_memory_allocated(dev) - base) / 2**20)
    for name, s in sides.items():
        row[f'step_ms_{name}'] = round(1000 * statistics.median(s.times), 2) if s.times else None
        row[f'step_ms_all_{name}'] = [round(1000 * t, 2) for t in s.times]
        row[f'resident_mb_{name}'] = round(s.resident_bytes() / 2**20, 1)
        if s.peak: row[f'step_peak_mb_{name}'] = round(max(s.peak), 1)
    if s.times:
        row['step_ratio_ours_over_official'] = round(row['step_ms_ours'] / row['step_ms_official'], 3)
        if 'ours_fast' in sides: row['step_ratio_ours_fast_over_official'] = round(row['step_ms_ours_fast'] / row['step_ms_official'], 3)
        for name in ('ours', 'ours_fast'):
            if name in sides: row[f'step_ratio_paired_{name}'] = paired_ratio(sides[name].times, sides['official'].times)
    row['optimizer_ours'] = 'Adam(fused=True)' if a.ours_adam == 'fused' else 'Adam'
    if a.decode:
        ours.load_state_dict(convert_official_state_dict(off.state_dict(), ours))  # training drew different noise: same weights again
        xd = x[:a.decode_batch]
        for i in range(a.decode):
            for name in (('official', 'ours') if i % 2 == 0 else ('ours', 'official')):
                dt, out = decode(model, sides[name], xd, dev)
                sides[name].decode_times.append(dt); sides[name].decoded = out
        for name in ('official', 'ours'): row[f'decode_s_{name}'] = round(statistics.median(sides[name].decode_times), 3)
        row['decode_batch'] = xd.shape[0]
        row['decode_speedup_ours'] = round(row['decode_s_official'] / row['decode_s_ours'], 2)
        if model != 'alp':
            row['decode_same_images'] = bool(torch.equal(sides['official'].decoded, sides['ours'].decoded))   # bit for bit (rounding of the dVAE's output conv aside: see max abs diff)
            row['decode_max_abs_diff'] = float((sides['official'].decoded - sides['ours'].decoded).abs().max())
    if dev.type == 'cuda' or a.flops:
        pk = peak_tflops(dev, a.precision, a.peak_tflops)
        for name, s in sides.items():
            f = step_flops(s, x, 0)
            row[f'step_gflop_{name}'] = round(f / 1e9, 2)
            pk_s = peak_tflops(dev, s.precision, a.peak_tflops)
            if pk_s and s.times: row[f'mfu_{name}'] = round(f / (statistics.median(s.times) * pk_s * 1e12), 4)
        row['peak_tflops'] = pk
    if a.memory and dev.type == 'cpu': row['cpu_peak_rss'] = cpu_memory(a, model, storage)
    if a.loss_steps: row['loss_after_steps'] = loss_comparison(a, model, storage, dev)
    row['loadavg_start'], row['loadavg_end'] = [round(v, 2) for v in load0], [round(v, 2) for v in os.getloadavg()]
    row['wall_s'] = round(time.time() - t_start, 1)
    return row

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--official-dir', type=Path, required=True, help='folder with checkouts slate/, sysbinder/, nlotm/')
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    p.add_argument('--preset', default='demo', choices=('demo', 'paper'))
    p.add_argument('--image-size', type=int, default=None, help='override the image size (not for alp)')
    p.add_argument('--batch-size', nargs='+', default=['4'], help='N for every model, or model=N pairs (e.g. slate=50 sysbinder=40)')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--decode', type=int, default=1, help='decoding repetitions per side (0: skip)')
    p.add_argument('--decode-batch', type=int, default=2)
    p.add_argument('--gru-storage', nargs='+', default=['dense'], choices=('dense', 'grouped'))
    p.add_argument('--ours-adam', default='fused', choices=('fused', 'plain'), help="objcentric's Adam: 'fused' (the Trainer's default) or 'plain' (the official one)")
    p.add_argument('--fast-noise', action='store_true', help='also time a copy of ours with the fast CPU noise samplers (TrainConfig(fast_noise=True))')
    p.add_argument('--loss-steps', type=int, default=0, help='train each side this many steps from the same weights on the same sprites and compare the loss')
    p.add_argument('--loss-seeds', type=int, nargs='+', default=[0, 1, 2], help='noise seeds of that comparison')
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--precision', default='fp32', choices=('fp32', 'bf16', 'fp16'), help="objcentric's precision")
    p.add_argument('--official-precision', default=None, choices=('fp32', 'fp16'),
                   help="the official side's (default: --precision if fp32/fp16; NLoTM's train.py has --fp16, the others are fp32)")
    p.add_argument('--tf32', action='store_true', help='allow TF32 matmuls on CUDA (both sides)')
    p.add_argument('--check', action='store_true', help='fidelity check: same seed, dropout off, loss and gradient differences')
    p.add_argument('--memory', action='store_true', help='CPU: peak RSS of one child process per side')
    p.add_argument('--flops', action='store_true', help='count FLOPs also on CPU')
    p.add_argument('--peak-tflops', type=float, default=None)
    p.add_argument('--out', type=Path, default=None)
    p.add_argument('--merge', action='store_true', help='append the rows to --out')
    p.add_argument('--memory-child', default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.official_precision is None: a.official_precision = a.precision if a.precision in ('fp32', 'fp16') else 'fp32'
    torch.set_num_threads(a.threads)
    bs = {}
    for b in a.batch_size:
        k, _, v = b.rpartition('=')
        if k and k not in MODELS: raise SystemExit(f"--batch-size: {b!r}: expected N or model=N with model in {MODELS}")
        bs.update({k: int(v)} if k else {m: int(v) for m in MODELS})
    a.batch_sizes = bs
    if a.memory_child: a.batch_size = bs[a.models[0]]; return memory_child(a)
    dev = torch.device(a.device)
    if dev.type == 'cuda': torch.backends.cuda.matmul.allow_tf32 = a.tf32       # (cuDNN convolutions keep PyTorch's default: TF32 on)
    if dev.type == 'cpu' and 'fp16' in (a.precision, a.official_precision): raise SystemExit('--precision fp16 needs --device cuda')
    rows = []
    for model in a.models:
        if model not in a.batch_sizes: raise SystemExit(f"--batch-size: no batch size for {model}")
        a.batch_size = a.batch_sizes[model]
        for storage in (a.gru_storage if model in ('sysbinder', 'svq') else ['-']):
            r = run_one(a, model, storage, dev)
            rows.append(r)
            show = {k: r.get(k) for k in ('model', 'preset', 'batch', 'gru_storage', 'precision_ours', 'precision_official', 'params_equal',
                                          'step_ms_official', 'step_ms_ours', 'step_ratio_ours_over_official', 'step_ms_ours_fast',
                                          'step_ratio_ours_fast_over_official', 'step_ratio_paired_ours', 'step_ratio_paired_ours_fast', 'decode_s_official',
                                          'decode_s_ours', 'decode_speedup_ours', 'loadavg_start')}
            print(json.dumps(show), flush=True)
            if 'fidelity' in r: print('  fidelity', json.dumps(r['fidelity']), flush=True)
            if 'loss_after_steps' in r: print('  loss', json.dumps({k: v for k, v in r['loss_after_steps'].items() if k != 'runs'}), flush=True)
            if a.out: _write(a, rows)

def _write(a, rows):
    out = dict(benchmark="objcentric vs the official SLATE / SysBinder / NLoTM code: same weights, alternating training steps and decoding",
               command=' '.join([Path(sys.executable).name] + sys.argv), machine=f"{platform.machine()}, {os.cpu_count()} cores"
               + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() and a.device.startswith('cuda') else ''),
               device=a.device, torch=torch.__version__, python=platform.python_version(), threads=a.threads,
               date=datetime.now(timezone.utc).isoformat(timespec='seconds'), runs=rows)
    if a.merge and a.out.exists():
        old = json.loads(a.out.read_text())
        cmds = old['command'] if isinstance(old['command'], list) else [old['command']]
        seen = [r for r in old['runs'] if r not in rows]
        out = dict(old, command=cmds + ([out['command']] if out['command'] not in cmds else []), runs=seen + rows)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix('.tmp'); tmp.write_text(json.dumps(out, indent=1)); os.replace(tmp, a.out)

if __name__ == '__main__': main()
