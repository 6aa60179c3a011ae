"""Record the numerical behaviour of the models and quantizers on fixed inputs, before the one-interface refactor.

Run once at commit 2be038a (the first landing) with `python tests/golden/make_golden.py`; it wrote
`tests/golden/before_refactor.pt`. `tests/test_refactor_equivalence.py` rebuilds the same modules with today's API,
loads the recorded weights and checks that losses, gradients, codes and EMA buffers are unchanged. This script uses the
API of that commit and is kept as the record of how the file was made; it is not run by the tests.
"""
import torch
from pathlib import Path
from objcentric.core import save_checkpoint
from objcentric.quantizers import VectorQuantizer, BlockVQ
from objcentric.slots import SLATE, PRESETS
from objcentric.sysbinder import SysBinder, sysbinder_presets
from objcentric.svq import SVQ, svq_presets
from objcentric.alp import ALP, ALPConfig
from objcentric.dvae import DVAE

torch.set_num_threads(1)
OUT = Path(__file__).parent / 'before_refactor.pt'
VQ_CASES = dict(
    plain=dict(dim=6, num_codes=10),
    ema_revive=dict(dim=6, num_codes=10, ema=True, decay=0.9, revive_threshold=0.5),
    kmeans_ema=dict(dim=6, num_codes=10, ema=True, decay=0.9, init='kmeans', revive_threshold=2.0),
    latent_random=dict(dim=6, num_codes=10, init='latent_random'),
    cosine=dict(dim=6, num_codes=10, cosine=True),
    proj=dict(dim=6, num_codes=10, proj_dim=3),
    random_proj=dict(dim=6, num_codes=10, proj_dim=3, random_proj=True),
    factorised=dict(dim=6, num_codes=10, codebook_dim=3),
    penalty=dict(dim=6, num_codes=10, penalty_weight=0.1, init='uniform'),
    affine_sync=dict(dim=6, num_codes=10, affine=True, affine_lr=2.0, sync_nu=0.5, revive_threshold=0.5),
    rotation=dict(dim=6, num_codes=10, rotation=True, init='kaiming'),
    warmup=dict(dim=6, num_codes=10, warmup_steps=2),
)

def grads_of(module, *extra):
    g = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    for i, t in enumerate(extra): g[f'input{i}'] = t.grad.clone()
    return g

def vq_case(kw):
    torch.manual_seed(0)
    vq = VectorQuantizer(**kw).train()
    rec = dict(kwargs=kw, state0={k: v.clone() for k, v in vq.state_dict().items()}, steps=[])
    for s in range(3):
        torch.manual_seed(100 + s)
        z = torch.randn(32, kw['dim'], requires_grad=True); w = torch.randn(32, kw['dim'])
        torch.manual_seed(200 + s)
        out, info = vq(z)
        ((out * w).sum() + info['loss']).backward()
        rec['steps'].append(dict(z=z.detach(), w=w, out=out.detach(), loss=info['loss'].detach(), commit=info['commit'].detach(),
                                 indices=info['indices'], perplexity=info['perplexity'].detach(), grads=grads_of(vq, z)))
        vq.zero_grad()
    rec['state1'] = {k: v.clone() for k, v in vq.state_dict().items()}
    return rec

def block_case():
    torch.manual_seed(0)
    kw = dict(num_blocks=4, block_size=3, codes_per_block=5, beta=2.0, decay=0.9, revive_threshold=0.8)
    vq = BlockVQ(**kw).train()
    rec = dict(kwargs=kw, state0={k: v.clone() for k, v in vq.state_dict().items()}, steps=[])
    for s in range(3):
        torch.manual_seed(100 + s)
        x = torch.randn(2, 3, 12, requires_grad=True); w = torch.randn(2, 3, 12)
        torch.manual_seed(200 + s)
        q, idx, commit = vq(x)
        ((q * w).sum() + commit).backward()
        rec['steps'].append(dict(x=x.detach(), w=w, q=q.detach(), indices=idx, commit=commit.detach(), grads=grads_of(vq, x)))
    rec['state1'] = {k: v.clone() for k, v in vq.state_dict().items()}
    return rec

def model_case(model, batch, seed=1, decode=True):
    state0 = {k: v.clone() for k, v in model.state_dict().items()}
    model.train(); torch.manual_seed(seed)
    out = model(batch)
    out['loss'].backward()
    rec = dict(state0=state0, batch=batch, logs={k: v.detach().clone() for k, v in out.items() if torch.is_tensor(v) and v.numel() == 1},
               grads=grads_of(model), state1={k: v.clone() for k, v in model.state_dict().items()})
    model.zero_grad(); model.eval()
    x = batch['image']
    g = torch.Generator().manual_seed(3)
    if isinstance(model, SLATE):
        torch.manual_seed(3); slots, attn = model.encode(x)
        enc = dict(slots=slots, attn=attn)
    else:
        e = model.encode(x, generator=g); enc = {k: v for k, v in e.items()}
    rec['encode'] = enc
    if decode: rec['decode'] = model.decode(enc['slots'])
    return rec

def main():
    rec = dict(commit='2be038a', vq={k: vq_case(v) for k, v in VQ_CASES.items()}, block_vq=block_case())
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32)
    dv = DVAE(32, 3, 16, norm='none')
    st0 = {k: v.clone() for k, v in dv.state_dict().items()}
    torch.manual_seed(1); o = dv(x, 0.7); o['loss'].backward()
    rec['dvae'] = dict(kwargs=dict(vocab_size=32, img_channels=3, hidden=16, norm='none'), state0=st0, x=x, tau=0.7,
                       loss=o['loss'].detach(), tokens=o['tokens'], grads=grads_of(dv))
    scfg = PRESETS['smoke']
    torch.manual_seed(0); slate = SLATE(scfg)
    rec['slate'] = dict(config=scfg.to_dict(), **model_case(slate, dict(image=torch.rand(4, 3, 16, 16))))
    bcfg = sysbinder_presets['tiny']
    torch.manual_seed(0); sb = SysBinder(bcfg)
    rec['sysbinder'] = dict(config=bcfg.to_dict(), **model_case(sb, dict(image=torch.rand(3, 3, 32, 32))))
    vcfg = svq_presets['smoke']['model']
    torch.manual_seed(0); svq = SVQ(vcfg)
    rec['svq'] = dict(config=vcfg.to_dict(), **model_case(svq, dict(image=torch.rand(3, 3, 32, 32))))
    acfg = ALPConfig(vocab_size=32, seq_len=16, num_blocks=4, d_model=32, num_layers=2, num_heads=2, ffn_dim=64, dropout=0.0)
    torch.manual_seed(0); alp = ALP(acfg)
    st0 = {k: v.clone() for k, v in alp.state_dict().items()}
    toks = torch.stack([torch.randint(0, 8, (16,)) + 8 * (torch.arange(16) % 4) for _ in range(5)])
    out = alp(dict(tokens=toks)); out['loss'].backward()
    torch.manual_seed(5); smp = alp.sample(3, temperature=1.0, generator=torch.Generator().manual_seed(5))
    rec['alp'] = dict(config=acfg.to_dict(), state0=st0, tokens=toks, loss=out['loss'].detach(), grads=grads_of(alp), sample=smp)
    save_checkpoint(rec, OUT)
    print('wrote', OUT, OUT.stat().st_size // 1024, 'KiB')

if __name__ == '__main__': main()
