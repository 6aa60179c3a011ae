"""The one-interface refactor changed no numbers: quantizers and models rebuilt with today's API, loaded with the weights
recorded before the refactor (`tests/golden/before_refactor.pt`, made by `tests/golden/make_golden.py` at commit 2be038a),
give the recorded losses, gradients, codes, EMA buffers, encodings and decodes on the recorded inputs and noise."""
from pathlib import Path
import pytest
import torch
from objcentric.core import load_checkpoint
from objcentric.quantizers import VectorQuantizer, CodeSearch, EMAUpdate, Revival, block_vq

GOLDEN = load_checkpoint(Path(__file__).parent / 'golden' / 'before_refactor.pt')
TOL = dict(rtol=1e-5, atol=1e-6)


def close(a, b, what):
    "Elementwise within TOL; a gradient (summed in a CPU-dependent order) may instead agree to 1e-5 of its norm"
    if 'grad' in what and a.shape == b.shape and a.is_floating_point():
        err = float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-12))
        if err <= 1e-5: return                      # measured on an AMD EPYC against the golden's CPU: <= 2.4e-6
    torch.testing.assert_close(a, b, **TOL, msg=lambda m: f'{what}: {m}')


def vq_from_old_flags(kw:dict) -> VectorQuantizer:
    "The composed VectorQuantizer equal to one built with the pre-refactor flags"
    kw = dict(kw)
    ema, decay, eps = kw.pop('ema', False), kw.pop('decay', 0.99), kw.pop('eps', 1e-5)
    thr, noise = kw.pop('revive_threshold', None), kw.pop('revive_noise', 0.01)
    search = CodeSearch(kw.pop('cosine', False), kw.pop('proj_dim', None), kw.pop('random_proj', False))
    est = 'rotation' if kw.pop('rotation', False) else 'ste'
    return VectorQuantizer(search=search, update=EMAUpdate(decay, eps) if ema else None,
                           revival=None if thr is None else Revival(thr, noise, decay=decay), estimator=est, **kw)


def renamed(sd:dict, table:dict) -> dict:
    "State dict with key prefixes renamed by `table` (old -> new)"
    out = {}
    for k, v in sd.items():
        for a, b in table.items():
            if k.startswith(a): k = b + k[len(a):]; break
        out[k] = v
    return out


VQ_NAMES = {'proj_z': 'search.proj_z', 'proj_c': 'search.proj_c'}


@pytest.mark.parametrize('case', sorted(GOLDEN['vq']))
def test_vector_quantizer_unchanged(case):
    rec = GOLDEN['vq'][case]
    torch.manual_seed(0)
    vq = vq_from_old_flags(rec['kwargs']).train()
    vq.load_state_dict(renamed(rec['state0'], VQ_NAMES))
    for s, st in enumerate(rec['steps']):
        z = st['z'].clone().requires_grad_()
        torch.manual_seed(200 + s)
        out, info = vq(z)
        ((out * st['w']).sum() + info.loss).backward()
        close(out.detach(), st['out'], f'{case} step {s} z_q'); close(info.loss.detach(), st['loss'], f'{case} step {s} loss')
        close(info.commit.detach(), st['commit'], f'{case} step {s} commit')
        assert torch.equal(info.indices, st['indices']), f'{case} step {s}: codes differ'
        close(info.perplexity.detach(), st['perplexity'], f'{case} step {s} perplexity')
        grads = renamed({n: p.grad for n, p in vq.named_parameters() if p.grad is not None}, {})
        grads['input0'] = z.grad
        want = renamed(st['grads'], VQ_NAMES)
        assert set(grads) == set(want), (case, sorted(grads), sorted(want))
        for n in want: close(grads[n], want[n], f'{case} step {s} grad {n}')
        vq.zero_grad()
    sd = vq.state_dict()
    for k, v in renamed(rec['state1'], VQ_NAMES).items(): close(sd[k].float(), v.float(), f'{case} {k} after 3 steps')


def test_block_vq_unchanged():
    "NLoTM's BlockVQ became `block_vq` (a multi-codebook VectorQuantizer): same codes, commitment, gradients and EMA state"
    rec = GOLDEN['block_vq']; kw = rec['kwargs']
    vq = block_vq(kw['num_blocks'], kw['block_size'], kw['codes_per_block'], beta=kw['beta'], decay=kw['decay'],
                  revive_threshold=kw['revive_threshold']).train()
    vq.load_state_dict(dict(rec['state0'], initted=torch.tensor(1), steps_done=torch.tensor(0)))
    for s, st in enumerate(rec['steps']):
        x = st['x'].clone().requires_grad_()
        torch.manual_seed(200 + s)
        q, info = vq(x)
        ((q * st['w']).sum() + info.commit).backward()
        close(q.detach(), st['q'], f'step {s} q'); close(info.commit.detach(), st['commit'], f'step {s} commit')
        close(info.loss.detach(), kw['beta'] * st['commit'], f'step {s} loss = beta * commit')
        assert torch.equal(info.indices, st['indices']), f'step {s}: codes differ'
        close(x.grad, st['grads']['input0'], f'step {s} input gradient')
    sd = vq.state_dict()
    for k, v in rec['state1'].items(): close(sd[k], v, f'{k} after 3 steps')


def test_the_check_can_fail():
    "A changed gradient estimator is caught: the rotation trick in place of straight-through changes the recorded input gradient"
    rec = GOLDEN['vq']['plain']; st = rec['steps'][0]
    vq = VectorQuantizer(estimator='rotation', **rec['kwargs']).train()
    vq.load_state_dict(rec['state0'])
    z = st['z'].clone().requires_grad_()
    torch.manual_seed(200); out, info = vq(z); ((out * st['w']).sum() + info.loss).backward()
    assert torch.equal(info.indices, st['indices'])
    assert not torch.allclose(z.grad, st['grads']['input0'], **TOL)


from dataclasses import fields
from objcentric.slots import SLATE, SlateConfig
from objcentric.sysbinder import SysBinder, SysBinderConfig
from objcentric.svq import SVQ, SVQConfig
from objcentric.alp import ALP, ALPConfig
from objcentric.dvae import DVAE

MODELS = dict(slate=(SLATE, SlateConfig, {}), sysbinder=(SysBinder, SysBinderConfig, {}),
              svq=(SVQ, SVQConfig, {'binder.bottleneck.vq.': 'binder.bottleneck.'}))


def _config(cls, d:dict):
    "The architecture fields of a recorded config (the old SlateConfig also held run settings)"
    names = {f.name for f in fields(cls)}
    return cls.from_dict({k: v for k, v in d.items() if k in names})


def _build(name, state='state0'):
    mcls, ccls, table = MODELS[name]
    rec = GOLDEN[name]
    m = mcls(_config(ccls, rec['config']))
    sd = renamed(rec[state], table)
    if name == 'svq': sd.update({'binder.bottleneck.initted': torch.tensor(1), 'binder.bottleneck.steps_done': torch.tensor(0)})
    m.load_state_dict(sd)
    return m, rec, table


@pytest.mark.parametrize('name', sorted(MODELS))
def test_model_training_step_unchanged(name):
    "Loss and logs, all gradients, and the EMA buffers after the step, on the recorded batch and noise"
    m, rec, table = _build(name)
    m.train(); torch.manual_seed(1)
    out = m(rec['batch'])
    out['loss'].backward()
    for k, v in rec['logs'].items(): close(out[k].detach().float().reshape(()), v.float().reshape(()), f'{name} {k}')
    want = renamed(rec['grads'], table)
    got = {n: p.grad for n, p in m.named_parameters() if p.grad is not None}
    assert set(got) == set(want), (name, sorted(set(got) ^ set(want)))
    for n in want: close(got[n], want[n], f'{name} grad {n}')
    sd = m.state_dict()
    for k, v in renamed(rec['state1'], table).items(): close(sd[k].float(), v.float(), f'{name} state {k}')


@pytest.mark.parametrize('name', sorted(MODELS))
def test_model_encode_and_decode_unchanged(name):
    "Encodings and greedy decodes of the model after the recorded step (SVQ's codebook has moved)"
    m, rec, _ = _build(name, 'state1')
    m.eval(); x = rec['batch']['image']
    if name == 'slate': torch.manual_seed(3); e = m.encode(x)
    else: e = m.encode(x, generator=torch.Generator().manual_seed(3))
    close(e.slots, rec['encode']['slots'], f'{name} slots'); close(e.attn, rec['encode']['attn'], f'{name} attention')
    if name == 'svq': assert torch.equal(e.indices, rec['encode']['indices'])
    d = m.decode(e.slots)                          # the greedy tokens are the recorded ones; the dVAE's output conv now runs
    close(d, rec['decode'], f'{name}: greedy decode')   # before its last pixel shuffle (same products, other order): images to rounding


def test_dvae_unchanged():
    rec = GOLDEN['dvae']
    dv = DVAE(**rec['kwargs']); dv.load_state_dict(rec['state0'])
    torch.manual_seed(1); o = dv(rec['x'], rec['tau']); o['loss'].backward()
    close(o['loss'].detach(), rec['loss'], 'dvae loss'); assert torch.equal(o['tokens'], rec['tokens'])
    for n, p in dv.named_parameters(): close(p.grad, rec['grads'][n], f'dvae grad {n}')


def test_alp_unchanged():
    rec = GOLDEN['alp']
    prior = ALP(ALPConfig.from_dict(rec['config'])); prior.load_state_dict(rec['state0'])
    out = prior(dict(tokens=rec['tokens'])); out['loss'].backward()
    close(out['loss'].detach(), rec['loss'], 'alp loss')
    for n, p in prior.named_parameters(): close(p.grad, rec['grads'][n], f'alp grad {n}')
    torch.manual_seed(5)
    assert torch.equal(prior.sample(3, temperature=1.0, generator=torch.Generator().manual_seed(5)), rec['sample'])
