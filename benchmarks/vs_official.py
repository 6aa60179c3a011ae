"""Benchmark: objcentric's models side by side with the official code, same weights (SLATE, SysBinder, SVQ, ALP, VCT, Visual GPT, NSI; VQ-GAN same configuration).

For each model the official model is built from a local checkout of its public repository (`--official-dir` holding
`slate/` = singhgautam/slate, `sysbinder/` = singhgautam/sysbinder, `nlotm/` = yfw/nlotm, `vct/` = ThomasMrY/VCT,
`visual-gpt/` = yzGuu830/visual-gpt, `neural-slot-interpreters/` = jha-lab/neural-slot-interpreters, e.g.
`git clone https://github.com/yfw/nlotm OFF/nlotm`; measured at 06f63c5 / bd9d2a7 / 0b4fb68 / c19b8c8 / 2975e6f / 0e49e6d;
not vendored, not needed by the tests). SLATE / SysBinder / SVQ / ALP get the flags `objcentric.official.official_namespace`
gives for objcentric's model at the same configuration and the converter `convert_official_state_dict`; the newer
models have their key maps here (`VCT_RULES`, `vgpt_official_state_dict`, `NSI_RULES`; NSI reuses the SLATE-family transformer rules of `objcentric.official`), so both sides compute the
same function. What each official side needs beyond torch: VCT imports gin-config; Visual GPT is HuggingFace's GPT-2
(`pip install transformers`; its tokenizer is replaced by a pass-through, both sides train on the same tokens); NSI's
DINO ViT-B/8 is built by timm without the hub download (its `models.model_utils` import is pointed at `models/utils.py`,
and `SymmetricCELoss`'s `.cuda()` labels follow the data). VCT's two sides read the same VQ-VAE, trained here for
`--vct-tokenizer-steps` steps (at random init every image takes the same codes and the official swap loss keeps no
row). The VQ-GAN is not the same function on the two sides (objcentric feeds the networks [-1,1], Visual-GPT [0,1],
with zero padding): same configuration and parameter count, own initialisation, and the check compares the tensor
shapes. Then, in one process:

- parameter counts are checked to be equal (trainable parameters, counted the official way: dense block GRU,
  SVQ codebook and EMA sums as parameters);
- `--check`: one training forward/backward of each under the same seed with dropout off: loss and gradient
  differences (and the strict `load_state_dict` of `official_state_dict` into the official model);
- training steps alternate (forward, backward, the official clipping (objcentric: the trainer's `clip_grad_norm_`, same
  gradients), the official optimizer; which side goes first rotates;
  VQ-GAN: the generator's Adam step, then with `--gan` the discriminator's),
  `--warmup` untimed, then `--steps` timed; medians and the ratio ours / official. objcentric's side uses the
  trainer's default Adam (fused kernel; `--ours-adam plain` for the official loop); `--fast-noise` adds a third side,
  the same objcentric model with the fast CPU noise samplers (`TrainConfig(fast_noise=True)`); NSI adds `ours_cached`, objcentric's
  step on precomputed backbone features (how its recipe trains: the official code runs the frozen ViT every step);
- `--loss-steps N`: each side trained N steps from the same weights on the same sprite batches, once per
  `--loss-seeds` seed: the loss reached (mean of the last 10 steps), to show that the faster step trains the same model;
- decoding alternates: the official `reconstruct_autoregressive` (the prior's `sample`; Visual GPT: `CondVisualGPT.sample`,
  HuggingFace's KV-cached `generate` with top-k 100; VCT, VQ-GAN: reconstruction) against objcentric's KV-cached
  `reconstruct` (`sample`, `generate`), `--decode` times each; Visual GPT also decodes greedily once to compare the tokens;
- peak memory: on CUDA the peak allocated during a step above what was allocated before it, and the resident
  parameters + gradients + optimizer state of each side; on CPU with `--memory` the peak RSS of a child process
  that builds one side alone and runs two steps;
- on CUDA (or with `--flops`) the FLOPs of one training step (`torch.utils.flop_counter`) and the model FLOPs
  utilisation against `--peak-tflops` (default: a table of known devices).

Usage (CPU, one thread: the commands of benchmarks/results/vs_official_cpu.json; OFF = the folder of the checkouts):
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
    $B --models vct --preset demo --batch-size 8 --steps 20 --warmup 2 --decode 3 --decode-batch 8 --check --memory \
       --loss-steps 100 --loss-seeds 0 1 2 --out $OUT --merge
    $B --models vgpt --preset demo --batch-size 16 --steps 30 --warmup 3 --decode 5 --decode-batch 8 --check --memory \
       --loss-steps 100 --loss-seeds 0 1 2 --out $OUT --merge
    $B --models vct --preset paper --batch-size 8 --steps 10 --warmup 1 --decode 3 --decode-batch 8 --check --memory --out $OUT --merge
    $B --models vgpt --preset paper --grid 16 16 --batch-size 4 --steps 6 --warmup 1 --decode 2 --decode-batch 8 --check --memory \
       --out $OUT --merge
    B="python benchmarks/vs_official.py --official-dir OFF --threads 1"     # (no dropout in these: fast noise changes nothing)
    $B --models vqgan --preset demo [--gan] --batch-size 8 --steps 20 --warmup 2 --decode 3 --decode-batch 8 --check --memory --out $OUT --merge
    $B --models vqgan --preset paper [--gan] --batch-size 2 --steps 6 --warmup 1 --decode 1 --decode-batch 2 --check --memory --out $OUT --merge
    $B --models nsi --preset demo --batch-size 8 --steps 6 --warmup 1 --check --memory --out $OUT --merge
    $B --models nsi --preset paper --batch-size 4 --steps 4 --warmup 1 --check --out $OUT --merge
    # objcentric in bf16 autocast against the official fp32 on a CPU with native bf16 (TrainConfig(precision='bf16'),
    # `cpu_bf16_native`): benchmarks/results/vs_official_cpu_bf16.json; every command of that file's `command` list is
    # one above with `--precision bf16 --official-precision fp32 --decode 0` (no --check / --memory), e.g.
    $B --models slate --preset paper --batch-size 8 --steps 12 --warmup 1 --decode 0 --loss-steps 50 --loss-seeds 0 1 \
       --precision bf16 --official-precision fp32 --out benchmarks/results/vs_official_cpu_bf16.json --merge
    # decoding only, 256 tokens (64 px) at batch 8, paper widths: benchmarks/results/vs_official_decode_cpu.json
    $B --models slate sysbinder svq --preset paper --image-size 64 --batch-size 8 --steps 0 --warmup 0 --decode 3 --decode-batch 8 \
       --decode-parts --check --out benchmarks/results/vs_official_decode_cpu.json
(the Visual GPT rows need `transformers` on the path; it is not an objcentric dependency).
The ratio to read is `step_ratio_paired_*`: the median of the per-round ratios (this CPU has slow phases of several
seconds that slow every side; the two steps of a round share them).
GPU: benchmarks/gpu_vs_official.sh.
"""
import argparse, copy, dataclasses, importlib, json, math, os, platform, re, statistics, subprocess, sys, time, warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.core import autocast, count_params, fast_noise
from objcentric.train import clip_grad_norm_
from objcentric.slots import SLATE, SlateConfig
from objcentric.sysbinder import SysBinder, SysBinderConfig
from objcentric.svq import SVQ, SVQConfig
from objcentric.alp import ALP, ALPConfig
from objcentric.vct import VCT, VCTConfig
from objcentric.visual_gpt import VisualGPT, VisualGPTConfig
from objcentric.vqgan import VQGAN, VQGANConfig
from objcentric.nsi import NSI, NSIConfig
from objcentric.official import official_namespace, official_state_dict, convert_official_state_dict, _tf_names

MODELS = ('slate', 'sysbinder', 'svq', 'alp', 'vct', 'vgpt', 'vqgan', 'nsi')
REPO = dict(slate='slate', sysbinder='sysbinder', svq='nlotm', alp='nlotm', vct='vct', vgpt='visual-gpt', vqgan='visual-gpt',
            nsi='neural-slot-interpreters')
TOKENS = ('alp', 'vgpt')   # models trained on token sequences

# ------------------------------------------------------------------ configurations
def config(model:str, preset:str):
    "objcentric's configuration: 'paper' = the official defaults; 'demo' = the cpu_demo widths where the official code can build them"
    if model == 'nsi':                        # the official code: DINO ViT-B/8 at 224 px on raw pixels, 3 x 1024 decoder, CLEVRTex programs, no padding mask
        c = NSIConfig(image_size=224, backbone_size=224, pixel_mean=(0., 0., 0.), pixel_std=(1., 1., 1.), schema_mask=False)
        if preset == 'paper': return c
        from objcentric.recipes import get_preset
        d = get_preset('nsi', 'cpu_demo').model   # its slot / schema widths; 2 of the ViT's 12 blocks
        return c.replace(backbone_kwargs=dict(depth=2), **{k: getattr(d, k) for k in ('num_slots', 'num_iters', 'slot_size', 'mlp_hidden', 'embed_dim',
                                                                                      'head_hidden', 'd_model', 'num_blocks', 'num_heads')})
    if preset == 'paper':
        return dict(slate=SlateConfig(), sysbinder=SysBinderConfig(), svq=SVQConfig(), alp=ALPConfig(mask_blocks=False), vct=VCTConfig(),
                    vgpt=VisualGPTConfig(), vqgan=VQGANConfig(perceptual_weight=0.0, init='kaiming', warmup_steps=0))[model]
    if preset != 'demo': raise SystemExit(f"--preset: expected 'paper' or 'demo', got {preset!r}")
    from objcentric.recipes import get_preset
    c = get_preset(model, 'cpu_demo').model
    if model == 'vct': return c                # the official classes build the cpu_demo widths as they are
    if model == 'vgpt': return c.replace(class_every_position=False, class_dropout=0.0, dropout=0.1)   # CondVisualGPT: prefix class token, GPT-2's dropout
    if model == 'vqgan': return c.replace(ch=32, norm_groups=32, init='kaiming', warmup_steps=0)    # taming's GroupNorm(32); Visual-GPT's kaiming init, no AE warm-up
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
_SHADOW = ('utils', 'transformer', 'dvae', 'slot_attn', 'slate', 'sysbinder', 'nlotm', 'prior', 'data', 'args', 'shapes_3d',
           'models', 'models.auto_encoder', 'models.nearest_embed', 'models.visual_concept_tokenizor')

def import_official(repo_dir:Path, names):
    "Import modules of one official checkout by path; their generic names (utils, transformer, ...) are removed again afterwards"
    if not repo_dir.is_dir(): raise SystemExit(f"--official-dir: {repo_dir} not found (expected checkouts slate/, sysbinder/, nlotm/, vct/)")
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
    if model == 'vct': return OfficialVCT(ns.cfg, off_dir)
    if model == 'vgpt': return official_vgpt(ns.cfg, off_dir)
    if model == 'vqgan': return OfficialVQGAN(ns.cfg, off_dir)
    if model == 'nsi': return OfficialNSI(ns.cfg, off_dir)
    if model == 'slate': return import_official(off_dir / 'slate', ['slate'])[0].SLATE(ns)
    if model == 'sysbinder': return import_official(off_dir / 'sysbinder', ['sysbinder'])[0].SysBinderImageAutoEncoder(ns)
    if model == 'svq': return import_official(off_dir / 'nlotm', ['nlotm'])[0].NlotmImageAutoEncoder(ns)
    return import_official(off_dir / 'nlotm', ['prior'])[0].get_prior_model(ns)

def official_groups(model:str, off, ns):
    "The official Adam groups (by parameter name, as each train.py)"
    named = list(off.named_parameters())
    if model == 'slate':
        return [dict(params=[p for n, p in named if 'dvae' in n], lr=ns.lr_dvae), dict(params=[p for n, p in named if 'dvae' not in n], lr=ns.lr_main)]
    if model in ('alp', 'vct', 'vgpt', 'nsi'): return [dict(params=[p for _, p in named if p.requires_grad], lr=ns.lr)]   # (VCT: Adam over encoder + decoder)
    if model == 'vqgan': return [dict(params=list(off.tok.parameters()), lr=ns.lr), dict(params=list(off.disc.parameters()), lr=ns.lr, player='d')]
    return [dict(params=[p for n, p in named if 'dvae' in n], lr=ns.lr_dvae), dict(params=[p for n, p in named if 'image_encoder' in n], lr=ns.lr_enc),
            dict(params=[p for n, p in named if 'image_decoder' in n], lr=ns.lr_dec)]

def our_groups(model:str, ours, ns):
    "objcentric's groups with the official learning rates"
    if model in ('alp', 'vct', 'vgpt', 'nsi'): return [dict(params=[p for p in ours.parameters() if p.requires_grad], lr=ns.lr)]
    if model == 'vqgan': g = ours.param_groups(); return [dict(params=g['gen'], lr=ns.lr), dict(params=g['disc'], lr=ns.lr, player='d')]
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

# ------------------------------------------------------------------ VCT (ThomasMrY/VCT: models/auto_encoder.py, models/visual_concept_tokenizor.py, main_vct.py)
_VCT_MODULES = {}

class OfficialVCT(nn.Module):
    "The official VCT pieces main_vct.py trains: the frozen VQ_CVAE (kept in eval mode), VCT_Encoder and VCT_Decoder(ce_loss=True)"
    def __init__(self, c, off_dir:Path):
        super().__init__()
        if off_dir not in _VCT_MODULES:                # once per process: gin refuses a second registration of its configurables
            _VCT_MODULES[off_dir] = import_official(off_dir / 'vct', ['models.auto_encoder', 'models.visual_concept_tokenizor'])
        ae, tok = _VCT_MODULES[off_dir]
        if (c.vq_downsample, c.vq_res_blocks, c.ff_mult, c.num_bands) != (2, 2, 4, 6) or c.decoder != 'tokens' or c.image_encoder != 'vqvae':
            raise SystemExit('vct: the official code builds only vq_downsample=2, vq_res_blocks=2, ff_mult=4, num_bands=6, '
                             "decoder='tokens', image_encoder='vqvae'")
        heads = dict(cross_heads=c.cross_heads, cross_dim_head=c.cross_dim_head, latent_heads=c.self_heads, latent_dim_head=c.self_dim_head)
        self.vqvae = ae.VQ_CVAE(c.vq_hidden, k=c.vq_codes, num_channels=c.channels).requires_grad_(False)
        self.enc = tok.VCT_Encoder(index_num=c.vq_codes, depth=c.enc_depth, dim=c.vq_hidden, z_index_dim=c.num_concepts, latent_dim=c.concept_dim,
                                   max_freq=c.max_freq, num_freq_bands=c.num_bands, **heads)
        self.dec = tok.VCT_Decoder(index_num=c.vq_codes, depth=c.dec_depth, dim=c.concept_dim, z_index_dim=(c.image_size // 4) ** 2,
                                   latent_dim=c.query_dim, ce_loss=True, **heads)
        self.dis = c.dis_weight > 0                        # main_vct.py's dis_loss flag (--wo_dis_loss turns it off)

    def train(self, mode:bool=True):
        super().train(mode); self.vqvae.eval()             # main_vct.py: model.eval() once, never switched back
        return self

    def tokens(self, x):
        "(code vectors [B,T,d], codes [B,h,w], encoder output shape) of images in [-1,1], as main_vct.py's step"
        with torch.no_grad(): z_e = self.vqvae.encode(x)
        e, labels = self.vqvae.emb(z_e.detach())
        return e.view(e.shape[0], e.shape[1], -1).permute(0, 2, 1), labels, z_e.shape

    def render(self, z, shape, hard_gumbel:bool):
        "Images in [-1,1] of concept tokens: the decoder's codes (hard Gumbel sample, or argmax) through the VQ_CVAE decoder"
        logits = self.dec(z)
        p = nn.functional.gumbel_softmax(logits, tau=1, dim=-1, hard=True) if hard_gumbel else nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
        zq = torch.einsum('bik,jk->bij', p, self.vqvae.emb.weight)
        return self.vqvae.decode(zq.permute(0, 2, 1).reshape(-1, *shape[1:]))

    def loss(self, x01):
        "main_vct.py's training loss of one batch of images in [0,1]: CE over the codes (+ the disentangling loss)"
        x = x01 * 2 - 1
        B = x.shape[0]
        tokens, labels, shape = self.tokens(x)
        z = self.enc(tokens)
        dis = None
        if self.dis:
            others = np.array([[i for i in range(B) if i != j] for j in range(B)]); rows = np.arange(B)
            with torch.no_grad():
                concept = np.random.randint(z.shape[1], size=B)
                partner = others[rows, np.random.randint(B - 1, size=B)]
                zs = z.clone(); zs[rows, concept] = z[partner, concept]
                keep = torch.norm(zs[rows, concept] - z[rows, concept], dim=-1) > 0.001
                img_org = self.render(z[keep], shape, True)
            z_org = self.enc(self.tokens(img_org)[0])
            with torch.no_grad(): img_swap = self.render(zs[keep], shape, True)
            z_swap = self.enc(self.tokens(img_swap)[0])
            d = nn.functional.normalize(torch.norm(z_org - z_swap, dim=-1), dim=-1)
            dis = nn.functional.cross_entropy(d, torch.from_numpy(concept).to(x.device)[keep])
        logits = self.dec(z)
        rec = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        return rec if dis is None else rec + dis

    @torch.no_grad()
    def reconstruct(self, x01):
        "Images in [0,1] through the concept tokens (argmax codes), as main_vct.py's visualisation"
        tokens, _, shape = self.tokens(x01 * 2 - 1)
        return (self.render(self.enc(tokens), shape, False) + 1) / 2

def _perceiver_rules(ours:str, off:str) -> list:
    "Renaming rules: objcentric's PerceiverCrossAttention blocks `ours.N` -> the official PreNorm(Attention), PreNorm(FeedForward) pairs `off.N`"
    o, O = re.escape(ours) + r'\.(\d+)\.', off + r'.\1.'
    return [(o + r'(norm|norm_context)\.', O + r'0.\2.'), (o + r'(to_q|to_kv|to_out)\.', O + r'0.fn.\2.'), (o + r'ff_norm\.', O + '1.norm.'),
            (o + r'ff\.lin1\.', O + '1.fn.net.0.'), (o + r'ff\.lin2\.', O + '1.fn.net.2.')]

def vqgan_structure(off, ours) -> dict:
    "The VQ-GAN is not the same function on both sides (objcentric feeds the networks [-1,1], Visual-GPT [0,1], with zero padding), so no weight copy: the check is that every trainable tensor has a counterpart of the same shape"
    shapes = lambda m: sorted(tuple(p.shape) for p in m.parameters() if p.requires_grad)
    return dict(same_function=False, param_shapes_match=shapes(off) == shapes(ours), tensors_official=len(shapes(off)), tensors_ours=len(shapes(ours)))

def vct_tokenizer(cfg, steps:int, dev):
    """objcentric's VQ-VAE for `cfg` trained `steps` Adam steps (lr 3e-3, batch 16) on sprites: at random init every image takes nearly the same
    codes, the concepts of all images agree to 1e-3 and main_vct.py's swap loss keeps no row (its step then fails)"""
    from objcentric.vct import VQVAE
    torch.manual_seed(0)
    vq = VQVAE(cfg.vqvae_config()).to(dev).train()
    opt = torch.optim.Adam(vq.parameters(), 3e-3)
    for b in train_batches('vct', cfg, 16, steps):
        opt.zero_grad(); vq(dict(image=b.to(dev)))['loss'].backward(); opt.step()
    return vq.eval()

VCT_RULES = ([(r'tokenizer\.(encoder|decoder)\.', r'vqvae.\1.'), (r'tokenizer\.vq\.codebook$', 'vqvae.emb.weight'), (r'tokenizer\.vq\.', None),
              (r'encoder\.latents$', 'enc.latents'), (r'decoder\.queries$', 'dec.latents'), (r'decoder\.head\.', 'dec.fc_layer.')]
             + _perceiver_rules('encoder.cross', 'enc.cs_layers') + _perceiver_rules('encoder.image_self', 'enc.layers')
             + _perceiver_rules('decoder.cross', 'dec.cs_layers') + _perceiver_rules('decoder.query_self', 'dec.layers')
             + _perceiver_rules('decoder.concept_self', 'dec.slayers'))   # (the VQ-VAE's usage buffers have no counterpart)

def _official_key(k:str, rules:list):
    "The official name of objcentric key `k` by the first matching (regex, replacement) rule, as `objcentric.official.official_name` (None: no counterpart)"
    for pat, rep in rules:
        m = re.match(pat, k)
        if m: return None if rep is None else (rep(m) if callable(rep) else m.expand(rep)) + k[m.end():]
    raise KeyError(f"no official name for {k!r}")

def _renamed_to_official(ours, rules:list, transpose=()) -> dict:
    "objcentric's state dict under the official names (`transpose`: our keys stored transposed there)"
    return {n: (v.t().contiguous() if k in transpose else v) for k, v in ours.state_dict().items() if (n := _official_key(k, rules)) is not None}

def _renamed_from_official(sd:dict, ours, rules:list, transpose=()) -> dict:
    "An official state dict (or gradients) under objcentric's names; entries the official code lacks keep ours"
    out = dict(ours.state_dict())
    for k in out:
        n = _official_key(k, rules)
        if n is not None and n in sd: out[k] = sd[n].t().contiguous() if k in transpose else sd[n]
    return out

def vct_official_state_dict(ours) -> dict:
    "objcentric's VCT weights under the official names (the codebook [K,d] as NearestEmbed's [d,K])"
    return _renamed_to_official(ours, VCT_RULES, transpose=('tokenizer.vq.codebook',))

def vct_from_official(sd:dict, ours) -> dict:
    "The official OfficialVCT state dict (or gradients) as objcentric's VCT state dict"
    return _renamed_from_official(sd, ours, VCT_RULES, transpose=('tokenizer.vq.codebook',))

# ------------------------------------------------------------------ Visual GPT (yzGuu830/visual-gpt: vgpt/nn/generators/cond_transformer.py)
def import_cond_visual_gpt(off_dir:Path):
    "The official `CondVisualGPT` module, loaded from its file: the `vgpt` package's __init__ would import its trainers (wandb, LPIPS)"
    import importlib.util, types
    path = off_dir / 'visual-gpt' / 'vgpt' / 'nn' / 'generators' / 'cond_transformer.py'
    if not path.is_file(): raise SystemExit(f"--official-dir: {path} not found (expected a checkout visual-gpt/ of yzGuu830/visual-gpt)")
    try: import transformers  # noqa: F401
    except ImportError: raise SystemExit("vgpt: the official Visual-GPT is HuggingFace's GPT-2: pip install transformers (not an objcentric dependency)")
    saved = {n: sys.modules.get(n) for n in ('vgpt', 'vgpt.nn', 'vgpt.nn.tokenizers', 'vgpt.nn.generators')}
    try:
        for n in saved: sys.modules[n] = types.ModuleType(n)
        for n in saved: sys.modules[n].__path__ = []
        sys.modules['vgpt.nn.tokenizers'].VisualTokenizer = nn.Module   # only a type hint there
        spec = importlib.util.spec_from_file_location('vgpt.nn.generators.cond_transformer', path)
        mod = importlib.util.module_from_spec(spec)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore'); spec.loader.exec_module(mod)
        return mod
    finally:
        for n, m in saved.items():
            if m is None: sys.modules.pop(n, None)
            else: sys.modules[n] = m

class TokenPassThrough(nn.Module):
    "A frozen stand-in for the official VisualTokenizer whose codes are the input: both sides train on the same given tokens"
    def __init__(self, num_codes:int):
        super().__init__(); from types import SimpleNamespace
        self.quantizer = SimpleNamespace(num_codewords=num_codes)
    def encode(self, tokens): return tokens
    def decode(self, code): return code

def official_vgpt(c, off_dir:Path):
    "The official CondVisualGPT (GPT-2 with the Visual-GPT vocabulary: K codes, C classes, BOS, pad) at objcentric's widths"
    if c.class_every_position or c.class_dropout or c.extra_tokens != 2 or (c.ffn_dim not in (None, 4 * c.d_model)) or c.dropout != 0.1:
        raise SystemExit('vgpt: the official CondVisualGPT has the class token as a prefix only, no class dropout, 2 extra tokens, '
                         'a 4x FFN and GPT-2\'s dropout 0.1')
    mod = import_cond_visual_gpt(off_dir)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        off = mod.CondVisualGPT(TokenPassThrough(c.num_codes), condition_vocab=c.num_classes, max_pos_len=c.max_positions,
                                d_model=c.d_model, num_transformer_layers=c.num_layers, num_attn_heads=c.num_heads)
    import types                                     # (bound methods: a deep copy of the model rebinds them to the copy)
    off.z_shape, off.loss, off.reconstruct = tuple(c.grid), types.MethodType(_vgpt_loss, off), types.MethodType(_vgpt_sample, off)
    return off

def _vgpt_loss(off, b):
    "CondVisualGPT.forward on given tokens: the NLL of the image tokens after the class token"
    return off(b['tokens'], cond=b['label'][:, None])[0]

def _vgpt_sample(off, b, greedy:bool=False):
    "CondVisualGPT.sample's tokens [B, h*w] (HuggingFace generate; sample.py's defaults top_k 100, temperature 1; or greedy)"
    kw = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=1.0, top_k=100)
    return off.sample(b['label'][:, None], z_shape=off.z_shape, **kw)[1].reshape(len(b['label']), -1)

def vgpt_official_state_dict(ours) -> dict:
    "objcentric's VisualGPT weights under HuggingFace GPT-2's names (Conv1D weights are the transposed Linear weights)"
    sd, out = ours.state_dict(), {}
    out['transformer.wte.weight'] = out['lm_head.weight'] = sd['tok_emb.weight']
    out['transformer.wpe.weight'] = sd['pos_emb.pe'][0]
    for i in range(ours.cfg.num_layers):
        p, h = f'decoder.blocks.{i}.', f'transformer.h.{i}.'
        out[h + 'attn.c_attn.weight'] = torch.cat([sd[p + f'self_attn.{n}_proj.weight'] for n in 'qkv']).t().contiguous()
        out[h + 'attn.c_attn.bias'] = torch.cat([sd[p + f'self_attn.{n}_proj.bias'] for n in 'qkv'])
        for a, b in (('self_attn.out_proj', 'attn.c_proj'), ('ffn.lin1', 'mlp.c_fc'), ('ffn.lin2', 'mlp.c_proj')):
            out[h + b + '.weight'], out[h + b + '.bias'] = sd[p + a + '.weight'].t().contiguous(), sd[p + a + '.bias']
        for a, b in (('norm1', 'ln_1'), ('norm3', 'ln_2')):
            out[h + b + '.weight'], out[h + b + '.bias'] = sd[p + a + '.weight'], sd[p + a + '.bias']
    out['transformer.ln_f.weight'], out['transformer.ln_f.bias'] = sd['decoder.norm.weight'], sd['decoder.norm.bias']
    return {'gpt.' + k: v for k, v in out.items()}

def vgpt_from_official(sd:dict, ours) -> dict:
    "The official CondVisualGPT state dict (or gradients) under objcentric's names"
    sd = {k[4:]: v for k, v in sd.items() if k.startswith('gpt.')}
    D, out = ours.cfg.d_model, {}
    out['tok_emb.weight'] = sd['transformer.wte.weight'] if 'transformer.wte.weight' in sd else sd['lm_head.weight']   # (tied: one of the two)
    out['pos_emb.pe'] = sd['transformer.wpe.weight'][None]
    for i in range(ours.cfg.num_layers):
        p, h = f'decoder.blocks.{i}.', f'transformer.h.{i}.'
        w, b = sd[h + 'attn.c_attn.weight'].t(), sd[h + 'attn.c_attn.bias']
        for j, n in enumerate('qkv'):
            out[p + f'self_attn.{n}_proj.weight'], out[p + f'self_attn.{n}_proj.bias'] = w[j * D:(j + 1) * D].contiguous(), b[j * D:(j + 1) * D]
        for a, o in (('self_attn.out_proj', 'attn.c_proj'), ('ffn.lin1', 'mlp.c_fc'), ('ffn.lin2', 'mlp.c_proj')):
            out[p + a + '.weight'], out[p + a + '.bias'] = sd[h + o + '.weight'].t().contiguous(), sd[h + o + '.bias']
        for a, o in (('norm1', 'ln_1'), ('norm3', 'ln_2')):
            out[p + a + '.weight'], out[p + a + '.bias'] = sd[h + o + '.weight'], sd[h + o + '.bias']
    out['decoder.norm.weight'], out['decoder.norm.bias'] = sd['transformer.ln_f.weight'], sd['transformer.ln_f.bias']
    return out

# ------------------------------------------------------------------ VQ-GAN (yzGuu830/visual-gpt: vgpt/nn/tokenizers, vgpt/trainers/reconstruction.py)
_VGPT_TOKENIZERS = {}

def import_vgpt_tokenizers(off_dir:Path):
    "The official `vgpt.nn.tokenizers` package (VisualTokenizer, NLayerDiscriminator, losses), without the `vgpt` package's trainers"
    import importlib.util, types
    if off_dir in _VGPT_TOKENIZERS: return _VGPT_TOKENIZERS[off_dir]
    root = off_dir / 'visual-gpt' / 'vgpt'
    if not (root / 'nn' / 'tokenizers' / '__init__.py').is_file():
        raise SystemExit(f"--official-dir: {root}/nn/tokenizers not found (expected a checkout visual-gpt/ of yzGuu830/visual-gpt)")
    saved = {n: sys.modules.get(n) for n in ('vgpt', 'vgpt.nn')}
    try:
        for n, sub in (('vgpt', root), ('vgpt.nn', root / 'nn')):
            m = types.ModuleType(n); m.__path__ = [str(sub)]; sys.modules[n] = m
        with warnings.catch_warnings():
            warnings.simplefilter('ignore'); mods = importlib.import_module('vgpt.nn.tokenizers'), importlib.import_module('vgpt.nn.tokenizers.taming.losses')
    finally:
        for n in [k for k in sys.modules if k.startswith('vgpt')]: sys.modules.pop(n)
        sys.modules.update({n: m for n, m in saved.items() if m is not None})
    _VGPT_TOKENIZERS[off_dir] = mods
    return mods

class OfficialVQGAN(nn.Module):
    "Visual-GPT's tokenizer (taming's VQ-GAN blocks + its VectorQuantize with code factorisation) and its PatchGAN, with ReconTrainer.train_step's losses"
    def __init__(self, c, off_dir:Path):
        super().__init__()
        tk, losses = import_vgpt_tokenizers(off_dir)
        if c.norm_groups != 32 or c.embed_dim is not None or c.proj_dim is not None or c.ema or c.estimator != 'ste' or c.sync_nu or c.perceptual_weight:
            raise SystemExit('vqgan: the official tokenizer has GroupNorm(32), no quant convs, no projected search, a learned codebook, the '
                             'straight-through estimator; perceptual_weight must be 0 here (the LPIPS weights are a download)')
        ae = dict(z_channels=c.z_channels, resolution=c.image_size, in_channels=c.in_channels, out_ch=c.in_channels, ch=c.ch,
                  ch_mult=list(c.ch_mult), num_res_blocks=c.num_res_blocks, attn_resolutions=list(c.attn_resolutions), dropout=c.dropout)
        cd = c.codebook_dim or c.z_channels
        vq = dict(num_codewords=c.num_codes, embedding_dim=cd, z_dim=cd, cos_dist=c.cosine, proj_dim=None, random_proj=False,
                  replace_freq=20 if c.revive_threshold is not None else 0, penalty_weight=c.penalty_weight, pretrain_steps=0, init_method='kaiming')
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()): self.tok = tk.VisualTokenizer('vqgan', 'vq', ae, **vq)
        self.disc = tk.NLayerDiscriminator(input_nc=c.in_channels, ndf=c.disc_channels, n_layers=c.disc_layers)
        self.adv = losses.AdversarialLoss(self.disc, method='hinge')
        self.adaptive = losses.calculate_adaptive_weight
        self.c, self.gan = c, c.disc_start == 0
        self.rec = losses.ReconLoss(method=c.rec_loss)

    def g_loss(self, x):
        "ReconTrainer.train_step's generator loss: pixel + cm_weight * commitment + codebook (+ adaptive * hinge G loss once the GAN is on)"
        x_hat, vq = self.tok(x)
        rec = self.rec(x_hat, x)
        loss = rec + self.c.beta * vq['cm_loss'].mean() + vq['cb_loss'].mean()
        if self.gan:
            g = self.adv.g_loss(x_hat.contiguous())
            loss = loss + self.c.disc_factor * self.adaptive(rec, g, self.c.disc_weight, last_layer=self.tok.get_last_layer()) * g
        self._x_hat = x_hat
        return loss

    def d_loss(self, x):
        "The discriminator's hinge loss on the generator pass's reconstructions"
        return self.c.disc_factor * self.adv.d_loss(x.contiguous().detach(), self._x_hat.contiguous().detach())

    @torch.no_grad()
    def reconstruct(self, x):
        "Images through the tokens (encode + decode, in eval mode)"
        return self.tok.decode(self.tok.encode(x).view(len(x), *self.c.grid))

# ------------------------------------------------------------------ NSI (jha-lab/neural-slot-interpreters: models/, utils.py, trainer/train_nsi.py)
_NSI_MODULES = {}

def import_official_nsi(off_dir:Path, backbone_kwargs:dict):
    "The official ImageEncoder / CLEVRTexProgramEncoder / slot_program_score; its DINO ViT-B/8 is built without the hub download"
    import types, timm
    repo = off_dir / 'neural-slot-interpreters'
    if repo not in _NSI_MODULES:
        if not (repo / 'models' / 'dino_encoder.py').is_file():
            raise SystemExit(f"--official-dir: {repo} not found (expected a checkout neural-slot-interpreters/ of jha-lab/neural-slot-interpreters)")
        names = ['models.utils', 'models.slot_attention', 'models.transformer', 'models.program_encoder', 'models.dino_encoder', 'utils']
        saved = {n: sys.modules.pop(n) for n in list(sys.modules) if n == 'models' or n.startswith('models.') or n == 'utils'}
        sys.path.insert(0, str(repo))
        try:
            mu = importlib.import_module('models.utils')
            sys.modules['models.model_utils'] = mu           # dino_encoder.py imports models.model_utils; the file is models/utils.py
            with warnings.catch_warnings():
                warnings.simplefilter('ignore'); mods = [importlib.import_module(n) for n in names]
        finally:
            sys.path.remove(str(repo))
            for n in [k for k in sys.modules if k == 'models' or k.startswith('models.') or k == 'utils']: sys.modules.pop(n)
            sys.modules.update(saved)
        _NSI_MODULES[repo] = dict(zip(names, mods))
    m = _NSI_MODULES[repo]
    m['models.dino_encoder'].dino_vit_base_patch8_224 = lambda pretrained=True, **kw: timm.create_model(
        'vit_base_patch8_224.dino', pretrained=False, num_classes=0, **backbone_kwargs).eval()
    return m

class OfficialNSI(nn.Module):
    "The official NSI pieces train_nsi.py trains: ImageEncoder (DINO ViT-B/8, slot attention, broadcast decoder, slot head) and the CLEVRTex program encoder"
    def __init__(self, c, off_dir:Path):
        super().__init__()
        from types import SimpleNamespace
        from objcentric.nsi import CLEVRTEX_SCHEMA
        if (c.backbone, c.image_size, c.backbone_size, c.dec_hidden, c.dec_layers) != ('vit_base_patch8_224.dino', 224, 224, 1024, 3) \
           or c.schema != CLEVRTEX_SCHEMA or c.schema_mask or c.sa_pos or c.standardize or c.dec_pos != 'learned' or c.head_hidden != 4 * c.embed_dim \
           or tuple(c.pixel_mean) != (0, 0, 0) or tuple(c.pixel_std) != (1, 1, 1) or set(c.backbone_kwargs) - {'depth'}:
            raise SystemExit('nsi: the official code builds DINO ViT-B/8 at 224 px on raw pixels (only its depth may change here), a 3x1024 '
                             'broadcast decoder, the CLEVRTex program, unmasked padding, no position inputs, heads of 4 x embed_dim')
        m = import_official_nsi(off_dir, dict(c.backbone_kwargs))
        args = SimpleNamespace(slot_dim=c.slot_size, num_iterations=c.num_iters, num_slots=c.num_slots, num_slot_heads=c.slot_heads,
                               mlp_hidden_size=c.mlp_hidden, image_size=c.image_size, embed_dim=c.embed_dim, dropout=c.head_dropout)
        self.img = m['models.dino_encoder'].ImageEncoder(args).requires_grad_(True)
        self.img.encoder.requires_grad_(False)                    # (frozen in effect: forward_features runs under no_grad)
        self.prog = m['models.program_encoder'].CLEVRTexProgramEncoder(c.num_blocks, c.d_model, c.num_heads, c.embed_dim, dropout=c.head_dropout)
        self.score, self.tau, self.beta = m['utils'].slot_program_score, c.tau, c.beta

    def loss(self, b):
        "train_nsi.py's loss: symmetric contrastive loss of the slot-program scores + beta * feature reconstruction"
        slots, _, _, _, mse = self.img(b['image'])
        program, _ = self.prog(b['schema'])
        logits = self.score(slots, program, b['present']) / self.tau
        t = torch.arange(len(logits), device=logits.device)      # (SymmetricCELoss with its labels on the data's device, not .cuda())
        con = (nn.functional.cross_entropy(logits, t) + nn.functional.cross_entropy(logits.t(), t)) / 2
        return con + self.beta * mse

_SA = 'img.slot_attn.slot_attention'
NSI_RULES = ([(r'backbone\.vit\.', 'img.encoder.'), (r'backbone\.(feat_mean|feat_std)$', None),     # (objcentric's feature standardisation)
              (r'pre_mlp\.0\.', 'img.slot_attn.layer_norm.'), (r'pre_mlp\.1\.', 'img.slot_attn.mlp.0.'), (r'pre_mlp\.3\.', 'img.slot_attn.mlp.2.'),
              (r'slot_attn\.slots_mu$', 'img.slot_attn.slot_mu'), (r'slot_attn\.slots_log_sigma$', 'img.slot_attn.slot_log_sigma'),
              (r'slot_attn\.to_(q|k|v)\.', _SA + r'.project_\1.'), (r'slot_attn\.(norm_inputs|norm_slots|norm_mlp|gru|mlp)\.', _SA + r'.\1.'),
              (r'decoder\.pos\.', 'img.decoder.postional_encoding.'), (r'decoder\.mlp\.(\d+)\.', lambda m: f'img.decoder.mlp.{2 * int(m.group(1))}.'),
              (r'slot_head\.proj\.', 'img.embed_proj.'), (r'slot_head\.mlp\.0\.', 'img.norm_embed.'), (r'slot_head\.mlp\.(1|3)\.', lambda m: f'img.embed_mlp.{int(m.group(1)) - 1}.'),
              (r'schema_encoder\.props\.(size|shape|material)\.', r'prog.\1_embedding.'), (r'schema_encoder\.props\.position\.0\.', 'prog.pos_embedding.0.'),
              (r'schema_encoder\.primitive\.', 'prog.program_embed.'), (r'schema_encoder\.head\.proj\.', 'prog.embed_proj.'),
              (r'schema_encoder\.head\.mlp\.0\.', 'prog.norm_embed.'), (r'schema_encoder\.head\.mlp\.(1|3)\.', lambda m: f'prog.embed_mlp.{int(m.group(1)) - 1}.')]
             + _tf_names('schema_encoder.transformer', 'prog.encoder', encoder=True))   # the SLATE-family transformer rules of objcentric.official

def nsi_official_state_dict(ours) -> dict:
    "objcentric's NSI weights under the official names"
    return _renamed_to_official(ours, NSI_RULES)

def nsi_from_official(sd:dict, ours) -> dict:
    "The official state dict (or gradients) under objcentric's names"
    return _renamed_from_official(sd, ours, NSI_RULES)

# ------------------------------------------------------------------ per-model dispatch
def namespace(model:str, ours, preset:str):
    "The official flags of objcentric's model (VCT, Visual GPT, VQ-GAN, NSI: the config, the official learning rate (paper) or the cpu_demo's, the official optimizer settings and clipping)"
    if model not in ('vct', 'vgpt', 'vqgan', 'nsi'): return official_namespace(ours)
    from types import SimpleNamespace
    from objcentric.recipes import get_preset
    lr = dict(vct=1e-4, vgpt=5e-6, vqgan=4.5e-6, nsi=4e-4)[model] if preset == 'paper' else get_preset(model, 'cpu_demo').run.lr
    if model == 'nsi':                                        # train_nsi.py clips the image side's gradients (2-norm 1)
        side = lambda net, official: (net.img if official else net.image_side()).parameters()
        return SimpleNamespace(cfg=ours.cfg, lr=lr, clip=1.0, clip_type=2.0, clip_params=side)
    if model == 'vct': return SimpleNamespace(cfg=ours.cfg, lr=lr, clip=None)
    if model == 'vqgan': return SimpleNamespace(cfg=ours.cfg, lr=lr, clip=None, betas=(0.5, 0.9))   # the StanfordDogs trainer's Adam (4f6e881)
    return SimpleNamespace(cfg=ours.cfg, lr=lr, clip=None, optimizer='adamw', betas=(0.9, 0.98), weight_decay=1e-5)   # stfdogs.yaml's exp.ar

def to_ours(model:str, sd:dict, ours) -> dict:
    "An official state dict (or gradients) under objcentric's names"
    return dict(vct=vct_from_official, vgpt=vgpt_from_official, nsi=nsi_from_official).get(model, convert_official_state_dict)(sd, ours)

def to_official(model:str, ours) -> dict:
    "objcentric's weights under the official names"
    return dict(vct=vct_official_state_dict, vgpt=vgpt_official_state_dict, nsi=nsi_official_state_dict).get(model, official_state_dict)(ours)

# ------------------------------------------------------------------ one training step of each side
def make_batch(model:str, cfg, B:int, device, seed:int=0):
    g = torch.Generator().manual_seed(seed)
    if model == 'nsi':                        # random images and CLEVRTex programs of 3-10 objects (padded rows zero)
        T = cfg.max_program_len; n = torch.randint(3, T + 1, (B,), generator=g); present = torch.arange(T)[None] < n[:, None]
        rows = torch.stack([torch.randint(0, 3, (B, T), generator=g), torch.randint(0, 4, (B, T), generator=g), torch.randint(0, 60, (B, T), generator=g)], -1).float()
        rows = torch.cat([rows, torch.rand(B, T, 3, generator=g) * 6 - 3], -1) * present[..., None]
        return dict(image=torch.rand(B, 3, cfg.image_size, cfg.image_size, generator=g).to(device), schema=rows.to(device), present=present.to(device))
    if model == 'vgpt':
        return dict(tokens=torch.randint(0, cfg.num_codes, (B, cfg.seq_len), generator=g).to(device),
                    label=torch.randint(0, cfg.num_classes, (B,), generator=g).to(device))
    if model == 'alp':
        K = cfg.vocab_size // cfg.num_blocks
        z = torch.randint(0, K, (B, cfg.seq_len), generator=g) + (torch.arange(cfg.seq_len) % cfg.num_blocks) * K
        return z.to(device)
    if model in ('vct', 'vqgan'): return train_batches(model, cfg, B, 1)[0].to(device)   # sprites (VCT: noise images all take the same codes)
    return torch.rand(B, 3, cfg.image_size, cfg.image_size, generator=g).to(device)

def official_loss(model:str, off, x, ns, tau:float):
    if model == 'slate': _, ce, mse, _ = off(x, tau, False); return mse + ce
    if model == 'sysbinder': _, ce, mse, _ = off(x, tau); return mse + ce
    if model == 'vqgan': return off.g_loss(x)
    if model == 'svq':
        _, ce, mse, _, vq, com = off(x, tau)
        return mse + ce + ns.vq_beta * vq + ns.commitment_beta * com
    return off.loss(x)

def our_loss(model:str, ours, x, step:int):
    if model in TOKENS or model == 'nsi': return ours(x)['loss']
    ours.on_step(step)
    return ours(dict(image=x), 'g')['loss'] if model == 'vqgan' else ours(dict(image=x))['loss']

class Side:
    "One model with its optimizer, precision and clip: `step(x, i)` is one training step"
    def __init__(self, name, model, net, groups, clip, precision, device, ns, official, fused=False, fast=False, cached=False):
        self.name, self.model, self.net, self.clip, self.precision, self.device, self.ns, self.official = name, model, net, clip, precision, device, ns, official
        self.fused, self.fast, self.cached = fused, fast, cached  # fused Adam kernel; fast CPU noise samplers; NSI: precomputed backbone features (objcentric only)
        self.groups = [dict(g) for g in groups]
        self.reset_optimizer()
        self.scaler = torch.amp.GradScaler(device.type) if precision == 'fp16' else None
        self.times, self.peak, self.decode_times = [], [], []

    def reset_optimizer(self):
        "A fresh Adam over the groups (no moments)"
        gs = [dict(g) for g in self.groups]
        kw = dict(fused=True) if self.fused else {}
        if hasattr(self.ns, 'betas'): kw['betas'] = self.ns.betas
        make = (lambda g: torch.optim.AdamW(g, weight_decay=self.ns.weight_decay, **kw)) if getattr(self.ns, 'optimizer', 'adam') == 'adamw' \
            else (lambda g: torch.optim.Adam(g, **kw))
        d = [g for g in gs if g.get('player') == 'd']                   # a second player (the VQ-GAN's discriminator): its own Adam
        self.opt = make([g for g in gs if g.get('player') != 'd'])
        self.opt_d = make(d) if d else None

    def loss(self, x, i):
        tau = _tau(i, self.ns)
        with autocast(self.precision, self.device), fast_noise(self.fast):
            if self.cached: x = dict(x, features=x['_features'])
            return official_loss(self.model, self.net, x, self.ns, tau) if self.official else our_loss(self.model, self.net, x, i)

    def step(self, x, i):
        if self.model == 'vqgan': return self.gan_step(x, i)
        self.opt.zero_grad()
        loss = self.loss(x, i)
        if self.scaler is not None:
            self.scaler.scale(loss).backward(); self.scaler.unscale_(self.opt)
        else: loss.backward()
        if self.clip is not None:                                # (main_vct.py does not clip; train_nsi.py clips the image side, 2-norm)
            ps = self.ns.clip_params(self.net, self.official) if hasattr(self.ns, 'clip_params') else self.net.parameters()
            clip = torch.nn.utils.clip_grad_norm_ if self.official else clip_grad_norm_   # (objcentric: the Trainer's, same result)
            clip(ps, self.clip, getattr(self.ns, 'clip_type', float('inf')))
        if self.scaler is not None: self.scaler.step(self.opt); self.scaler.update()
        else: self.opt.step()
        return float(loss.detach())

    def gan_step(self, x, i):
        "ReconTrainer.train_step / objcentric's two-player step: the generator's Adam step, then (GAN on) the discriminator's"
        self.opt.zero_grad()
        with autocast(self.precision, self.device):
            lg = self.net.g_loss(x) if self.official else our_loss(self.model, self.net, x, i)
        lg.backward(); self.opt.step()
        if (self.net.gan if self.official else self.net.gan_active()):
            self.opt_d.zero_grad()
            with autocast(self.precision, self.device):
                ld = self.net.d_loss(x) if self.official else self.net(dict(image=x), 'd')['loss']
            ld.backward(); self.opt_d.step()
        return float(lg.detach())

    def resident_bytes(self) -> int:
        "Parameters, gradients and optimizer state held by this side"
        n = sum(p.numel() * p.element_size() for p in self.net.parameters())
        n += sum(p.grad.numel() * p.grad.element_size() for p in self.net.parameters() if p.grad is not None)
        n += sum(t.numel() * t.element_size() for o in (self.opt, self.opt_d) if o for s in o.state.values() for t in s.values() if torch.is_tensor(t))
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
    ours_r = type(ours)(ours.cfg).to(device)                            # (a fresh build, not deepcopy: a deep copy of a dense
    ours_r.load_state_dict(ours.state_dict())                           #  BlockGRUCell loses its gradient-masking hooks)
    r1, r2 = _nodrop(off_r), _nodrop(ours_r)
    off_r.train(); ours_r.train()
    if model == 'vct':                                                  # the reconstruction term (the swap loss draws its own noise)
        off_r.dis = False; ours_r.cfg = ours_r.cfg.replace(dis_weight=0.0)
    torch.manual_seed(1); lo = official_loss(model, off_r, x, ns, 1.0); lo.backward()
    torch.manual_seed(1); lu = our_loss(model, ours_r, x, 0); lu.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().cpu() for n, p in off_r.named_parameters()}
    grads.update({n: b.detach().cpu() for n, b in off_r.named_buffers()})
    conv = to_ours(model, grads, ours_r)
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
def decode(model, side, x, device, greedy:bool=False):
    side.net.eval()
    try:
        torch.manual_seed(2); _sync(device); t = time.perf_counter()
        with autocast(side.precision, device):
            if model == 'alp': out = side.net.sample(x.shape[0]) if side.official else side.net.sample(x.shape[0], temperature=1.0)
            elif model == 'vgpt': out = side.net.reconstruct(x, greedy) if side.official else side.net.generate(x['label'], **(dict(temperature=0) if greedy else dict(temperature=1.0, top_k=100)))
            elif side.official: out = side.net.reconstruct(x) if model in ('vct', 'vqgan') else side.net.reconstruct_autoregressive(x)
            else: out = side.net.reconstruct(x)
        _sync(device)
        return time.perf_counter() - t, out.float()
    finally: side.net.train()

@torch.no_grad()
def decode_parts(model, side, x, device) -> dict:
    "SysBinder / SVQ reconstruction timed in its two parts: encode (CNN, binder) and autoregressive decode of those slots"
    side.net.eval()
    try:
        torch.manual_seed(2); _sync(device); t0 = time.perf_counter()
        with autocast(side.precision, device):
            slots = side.net.encode(x)[0] if side.official else side.net.encode(x).slots
            _sync(device); t1 = time.perf_counter()
            side.net.decode(slots)
        _sync(device); t2 = time.perf_counter()
        return dict(encode=t1 - t0, decode=t2 - t1)
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
               '--official-precision', a.official_precision or a.precision, '--ours-adam', a.ours_adam, '--memory-child', which,
               '--vct-tokenizer-steps', str(a.vct_tokenizer_steps)]
        if a.image_size: cmd += ['--image-size', str(a.image_size)]
        if a.grid: cmd += ['--grid', *map(str, a.grid)]
        if a.gan: cmd += ['--gan']
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
        if r.returncode: raise RuntimeError(f"memory child failed: {r.stderr[-2000:]}")
        d = json.loads(r.stdout.strip().splitlines()[-1])
        out[which] = dict(d, step_extra_mb=round(d['peak_rss_mb'] - d['build_rss_mb'], 1))
    return out

# ------------------------------------------------------------------ the loss after N steps
def _to(b, dev): return {k: v.to(dev) for k, v in b.items()} if isinstance(b, dict) else b.to(dev)
def _head(b, n:int): return {k: v[:n] for k, v in b.items()} if isinstance(b, dict) else b[:n]

def train_batches(model:str, cfg, B:int, n:int):
    "`n` training batches shared by every side: sprites at the model's image size (ALP: random block-structured codes)"
    if model in TOKENS + ('nsi',): return [make_batch(model, cfg, B, torch.device('cpu'), seed=100 + i) for i in range(n)]
    from objcentric.data import SpritesDataset
    ds = SpritesDataset('train', n=B * n, seed=0, image_size=cfg.image_size, min_objects=2, max_objects=3)
    return [torch.stack([ds[B * i + j]['image'] for j in range(B)]) for i in range(n)]

def loss_comparison(a, model:str, storage:str, dev) -> dict:
    "Each side trained `--loss-steps` steps from the same weights on the same batches, once per noise seed: mean loss of the last 10 steps"
    sides, _ = build_sides(a, model, storage, dev)
    cfg = sides['ours'].net.cfg
    batches = [_to(b, dev) for b in train_batches(model, cfg, a.batch_size, a.loss_steps)]
    start = {k: copy.deepcopy(s.net.state_dict()) for k, s in sides.items()}
    out = {k: [] for k in sides}
    for seed in a.loss_seeds:
        for k, s in sides.items():
            s.net.load_state_dict(start[k]); s.reset_optimizer()
            torch.manual_seed(seed); np.random.seed(seed)             # (the official VCT step draws its swaps from numpy)
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
    if a.image_size and model not in TOKENS + ('nsi',): cfg = cfg.replace(image_size=a.image_size)
    if a.grid and model == 'vgpt': cfg = cfg.replace(grid=tuple(a.grid))
    if model == 'vqgan' and a.gan: cfg = cfg.replace(disc_start=0)   # the adversarial phase from the first step
    if isinstance(cfg, SysBinderConfig): cfg = cfg.replace(gru_storage=storage)
    torch.manual_seed(0)
    cls = dict(slate=SLATE, sysbinder=SysBinder, svq=SVQ, alp=ALP, vct=VCT, vgpt=VisualGPT, vqgan=VQGAN, nsi=NSI)[model]
    if only == 'official' and model != 'vct':
        with torch.device('meta'): ours = cls(cfg)
    else: ours = cls(cfg)
    ns = namespace(model, ours, a.preset)
    op = a.official_precision or a.precision
    x = make_batch(model, cfg, a.batch_size, dev)
    fused = a.ours_adam == 'fused'
    if only in ('ours', 'ours_fast'):
        return {only: Side(only, model, ours.to(dev).train(), our_groups(model, ours, ns), ns.clip, a.precision, dev, ns, False, fused, only == 'ours_fast')}, x
    off = official_model(model, ns, a.official_dir).to(dev).train()
    if model == 'vct':                                                         # both sides read the same trained VQ-VAE
        ours.load_tokenizer(vct_tokenizer(cfg, a.vct_tokenizer_steps, dev))
        off.load_state_dict(to_official(model, ours))
    if only == 'official': return dict(official=Side('official', model, off, official_groups(model, off, ns), ns.clip, op, dev, ns, True)), x
    if model != 'vqgan': ours.load_state_dict(to_ours(model, off.state_dict(), ours))   # the official weights, copied across (VQ-GAN: own init, see vqgan_structure)
    ours.to(dev).train()
    sides = dict(official=Side('official', model, off, official_groups(model, off, ns), ns.clip, op, dev, ns, True),
                 ours=Side('ours', model, ours, our_groups(model, ours, ns), ns.clip, a.precision, dev, ns, False, fused))
    if model == 'nsi':                                            # objcentric trains NSI on cached backbone features: that step too
        with torch.no_grad(): x['_features'] = ours.features(x['image'])
        sides['ours_cached'] = Side('ours_cached', model, ours, our_groups(model, ours, ns), ns.clip, a.precision, dev, ns, False, fused, False, True)
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
    if a.check and model == 'vqgan': row['fidelity'] = vqgan_structure(off, ours)
    elif a.check:
        strict = copy.deepcopy(off).cpu()
        strict.load_state_dict(to_official(model, ours), strict=True)                # the inverse map loads into the official code
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
        for name in ('ours', 'ours_fast', 'ours_cached'):
            if name in sides: row[f'step_ratio_paired_{name}'] = paired_ratio(sides[name].times, sides['official'].times)
    row['optimizer_ours'] = 'Adam(fused=True)' if a.ours_adam == 'fused' else 'Adam'
    if a.decode and model != 'nsi':                               # (NSI decodes features, nothing autoregressive)
        if model != 'vqgan': ours.load_state_dict(to_ours(model, off.state_dict(), ours))   # training drew different noise: same weights again
        xd = _head(x, a.decode_batch)
        for i in range(a.decode):
            for name in (('official', 'ours') if i % 2 == 0 else ('ours', 'official')):
                dt, out = decode(model, sides[name], xd, dev)
                sides[name].decode_times.append(dt); sides[name].decoded = out
        for name in ('official', 'ours'): row[f'decode_s_{name}'] = round(statistics.median(sides[name].decode_times), 3)
        row['decode_batch'] = a.decode_batch
        if model == 'vgpt':                                     # greedy decoding: the same tokens?
            g = {name: decode(model, sides[name], xd, dev, greedy=True) for name in ('official', 'ours')}
            row['decode_greedy_same_tokens'] = bool(torch.equal(g['official'][1], g['ours'][1]))
            row['decode_greedy_s'] = {k: round(v[0], 3) for k, v in g.items()}
            row['decode_tokens'] = ours.cfg.seq_len
        row['decode_speedup_ours'] = round(row['decode_s_official'] / row['decode_s_ours'], 2)
        if a.decode_parts and model in ('sysbinder', 'svq'):    # the encoder is the same work on both sides: time the two parts
            parts = {'official': [], 'ours': []}
            for i in range(a.decode):
                for name in (('official', 'ours') if i % 2 == 0 else ('ours', 'official')): parts[name].append(decode_parts(model, sides[name], xd, dev))
            for name, ps in parts.items():
                row[f'decode_parts_s_{name}'] = {k: round(statistics.median(p[k] for p in ps), 3) for k in ('encode', 'decode')}
            row['decode_autoregressive_speedup_ours'] = round(statistics.median(po['decode'] / pu['decode'] for po, pu in zip(parts['official'], parts['ours'])), 2)
        if model not in TOKENS + ('vqgan',):
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
    if a.loss_steps and model != 'vqgan': row['loss_after_steps'] = loss_comparison(a, model, storage, dev)   # (VQ-GAN: not the same loss scale)
    row['loadavg_start'], row['loadavg_end'] = [round(v, 2) for v in load0], [round(v, 2) for v in os.getloadavg()]
    row['wall_s'] = round(time.time() - t_start, 1)
    return row

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--official-dir', type=Path, required=True, help='folder with checkouts slate/, sysbinder/, nlotm/, vct/, visual-gpt/, neural-slot-interpreters/')
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    p.add_argument('--preset', default='demo', choices=('demo', 'paper'))
    p.add_argument('--image-size', type=int, default=None, help='override the image size (not for alp, vgpt)')
    p.add_argument('--grid', type=int, nargs=2, default=None, help='vgpt: override the token grid (e.g. 16 16: 256 tokens)')
    p.add_argument('--batch-size', nargs='+', default=['4'], help='N for every model, or model=N pairs (e.g. slate=50 sysbinder=40)')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--decode', type=int, default=1, help='decoding repetitions per side (0: skip)')
    p.add_argument('--decode-batch', type=int, default=2)
    p.add_argument('--decode-parts', action='store_true', help='SysBinder / SVQ: also time encode and the autoregressive decode of its slots separately')
    p.add_argument('--gru-storage', nargs='+', default=['dense'], choices=('dense', 'grouped'))
    p.add_argument('--ours-adam', default='fused', choices=('fused', 'plain'), help="objcentric's Adam: 'fused' (the Trainer's default) or 'plain' (the official one)")
    p.add_argument('--fast-noise', action='store_true', help='also time a copy of ours with the fast CPU noise samplers (TrainConfig(fast_noise=True))')
    p.add_argument('--loss-steps', type=int, default=0, help='train each side this many steps from the same weights on the same sprites and compare the loss')
    p.add_argument('--loss-seeds', type=int, nargs='+', default=[0, 1, 2], help='noise seeds of that comparison')
    p.add_argument('--gan', action='store_true', help='vqgan: time the adversarial phase (generator + discriminator steps) instead of the one before disc_start')
    p.add_argument('--vct-tokenizer-steps', type=int, default=200, help='vct: training steps of the VQ-VAE both sides read')
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
                                          'step_ratio_ours_fast_over_official', 'step_ratio_paired_ours', 'step_ratio_paired_ours_fast', 'step_ms_ours_cached',
                                          'step_ratio_paired_ours_cached', 'decode_s_official',
                                          'decode_s_ours', 'decode_speedup_ours', 'decode_autoregressive_speedup_ours', 'loadavg_start')}
            print(json.dumps(show), flush=True)
            if 'fidelity' in r: print('  fidelity', json.dumps(r['fidelity']), flush=True)
            if 'loss_after_steps' in r: print('  loss', json.dumps({k: v for k, v in r['loss_after_steps'].items() if k != 'runs'}), flush=True)
            if a.out: _write(a, rows)

def _write(a, rows):
    out = dict(benchmark="objcentric vs the official SLATE / SysBinder / NLoTM / VCT / Visual-GPT / NSI code: same weights (VQ-GAN: same configuration), alternating training steps and decoding",
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
