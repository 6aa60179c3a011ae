"ALP (NLoTM stage 2): the latent cache is rebuilt exactly when the SVQ checkpoint changes, block-masked logits never leave a block, cached == uncached sampling. (The training notebook is smoke-tested in test_train_notebooks.py.)"
import json, math
from pathlib import Path
import pytest
import torch

from objcentric.core import save_checkpoint, load_checkpoint
from objcentric.alp import ALP, ALPConfig, build_latent_cache, block_mask, serialize_indices
from objcentric.recipes import create_model

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'

@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    "The models here are tiny: one intra-op thread per kernel avoids oversubscribing a shared CPU (much faster)"
    monkeypatch.setenv('OMP_NUM_THREADS', '1')

def test_latent_cache_rebuilt_when_svq_checkpoint_changes(tmp_path):
    torch.manual_seed(0)
    svq = create_model('svq', 'smoke').eval()
    S = svq.cfg.image_size
    ckpt = tmp_path/'svq'/'checkpoints'/'last.pt'
    save_checkpoint(dict(model=svq.state_dict()), ckpt)
    splits = dict(train=[dict(image=torch.rand(3, S, S)) for _ in range(6)], val=[dict(image=torch.rand(3, S, S)) for _ in range(2)])
    r1 = build_latent_cache(ckpt, splits, tmp_path/'lat', svq)
    r2 = build_latent_cache(ckpt, splits, tmp_path/'lat', lambda: pytest.fail('SVQ loaded although the cache is valid'))
    assert all(r['rebuilt'] for r in r1.values()) and not any(r['rebuilt'] for r in r2.values())
    with torch.no_grad():
        for p in svq.parameters(): p.mul_(1.5)
    save_checkpoint(dict(model=svq.state_dict()), ckpt)
    r3 = build_latent_cache(ckpt, splits, tmp_path/'lat', svq)
    assert all(r['rebuilt'] for r in r3.values()) and r3['train']['key'] != r1['train']['key']
    assert load_checkpoint(tmp_path/'lat'/'train.pt')['key'] == r3['train']['key']
    r4 = build_latent_cache(ckpt, splits, tmp_path/'lat', svq, version=2)
    assert r4['train']['rebuilt'] and r4['train']['key'].endswith('-v2')

def _tiny(mask=True):
    torch.manual_seed(0)
    return ALP(ALPConfig(vocab_size=32, seq_len=12, num_blocks=4, d_model=32, num_layers=2, num_heads=4, ffn_dim=64,
                         dropout=0.1, mask_blocks=mask))

def test_masked_logits_put_no_mass_outside_the_block():
    prior = _tiny()
    allowed = block_mask(12, 4, 8)
    toks = torch.randint(0, 8, (16, 3, 4)) + torch.arange(4) * 8
    p = prior.logits(serialize_indices(toks)).softmax(-1)
    assert p[:, ~allowed].max().item() == 0.0
    for kw in (dict(), dict(temperature=2.0), dict(top_k=3), dict(top_p=0.5), dict(temperature=0)):
        s = prior.sample(200, generator=torch.Generator().manual_seed(1), **kw)
        assert allowed[torch.arange(12), s].all(), kw
    s = _tiny(mask=False).sample(200, generator=torch.Generator().manual_seed(1))
    assert not allowed[torch.arange(12), s].all()                # the original (unmasked) prior does leave blocks

@pytest.mark.parametrize('kw', [dict(), dict(temperature=0.7, top_k=5), dict(top_p=0.9)])
def test_cached_and_uncached_sampling_agree(kw):
    prior = _tiny()
    a = prior.sample(64, use_cache=True, generator=torch.Generator().manual_seed(3), **kw)
    b = prior.sample(64, use_cache=False, generator=torch.Generator().manual_seed(3), **kw)
    assert torch.equal(a, b)
    pre = a[:, :5]
    c = prior.sample(64, use_cache=True, prefix=pre, generator=torch.Generator().manual_seed(4), **kw)
    d = prior.sample(64, use_cache=False, prefix=pre, generator=torch.Generator().manual_seed(4), **kw)
    assert torch.equal(c, d) and torch.equal(c[:, :5], pre)

def test_generation_accuracy_sees_the_object_count_of_cached_scenes(tmp_path):
    "The judge of generated scenes must know the data's object count: with none, an empty image passes any colour rule"
    from objcentric.recipes import RunConfig, build_datasets
    from objcentric.metrics import generation_accuracy
    r = RunConfig(dataset='sprites', data_kwargs=dict(min_objects=2, max_objects=3, rule='distinct_colours'), n_train=8, n_val=4)
    for _ in range(2):                                   # first call writes the HDF5 caches, the second reads them
        tr, va = build_datasets(r, 32, cache_dir=tmp_path)
        assert (tr.min_objects, tr.max_objects, tr.rule) == (2, 3, 'distinct_colours')
    blank = torch.zeros(4, 3, 32, 32)
    assert generation_accuracy(blank, 'distinct_colours', None) == 1.0             # vacuously true: no objects, no clash
    assert generation_accuracy(blank, 'distinct_colours', (tr.min_objects, tr.max_objects)) == 0.0
    real = va.get_batch(range(4))['image']
    assert generation_accuracy(real, 'distinct_colours', (tr.min_objects, tr.max_objects)) == 1.0
