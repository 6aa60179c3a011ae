"ALP (NLoTM stage 2): smoke run of `nbs/train_alp.ipynb` through papermill (train, resume, latent-cache reuse), the latent cache rebuild on a new SVQ checkpoint, block-masked logits, and cached == uncached sampling."
import json, math
from pathlib import Path
import pytest
import torch

pm = pytest.importorskip('papermill')
from objcentric.core import save_checkpoint, load_checkpoint
from objcentric.alp import ALP, ALPConfig, build_latent_cache, block_mask, serialize_indices, load_alp
from objcentric.svq import SVQ, svq_presets

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'

@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    "The models here are tiny: one intra-op thread per kernel avoids oversubscribing a shared CPU (much faster)"
    monkeypatch.setenv('OMP_NUM_THREADS', '1')

def _run(tmp_path, **params):
    return pm.execute_notebook(str(NBS/'train_alp.ipynb'), str(tmp_path/'out.ipynb'), kernel_name='python3',
                               parameters=dict(out_dir=str(tmp_path/'run'), device='cpu', **params),
                               cwd=str(NBS), progress_bar=False)

def test_train_alp_smoke_resume_and_cache_reuse(tmp_path):
    _run(tmp_path, preset='smoke', steps=20)
    run = tmp_path/'run'
    m = json.loads((run/'metrics.json').read_text())
    assert m['preset'] == 'smoke' and m['steps'] == 20 and m['device'] == 'cpu'
    assert m['loss_last'] < m['loss_first'], (m['loss_first'], m['loss_last'])
    for k in ('val_nll', 'fid', 'images_per_s', 'val_nll_dvae', 'fid_dvae', 'images_per_s_dvae', 'wall_s'):
        assert isinstance(m[k], float) and math.isfinite(m[k]), k
    assert m['oob_sample_fraction'] == 0.0                      # block-masked prior never leaves a block
    assert (run/'checkpoints'/'last.pt').is_file() and (run/'dvae_prior'/'checkpoints'/'last.pt').is_file()
    assert (run/'svq'/'checkpoints'/'last.pt').is_file()         # svq_dir=None trained the SVQ smoke preset
    for f in ('samples.png', 'samples_dvae.png', 'history.png', 'decoding.gif'): assert (run/f).stat().st_size > 500, f
    assert len(list((run/'samples_png').glob('*.png'))) == m['n_samples']
    lat = run/'latents'/'train.pt'
    key, mtime = load_checkpoint(lat)['key'], lat.stat().st_mtime_ns
    _run(tmp_path, preset='smoke', steps=25)                     # resumes at step 20, reuses the cache
    m2 = json.loads((run/'metrics.json').read_text())
    assert m2['steps'] == 25 and m2['cache_key'] == key
    assert lat.stat().st_mtime_ns == mtime                        # not rewritten
    for kind in ('svq', 'dvae'):                                  # a finished run reloads and generates
        gen = load_alp(run, kind)
        assert gen.generate(2, seed=0).shape == (2, 3, 32, 32) and torch.equal(gen.generate(2, seed=0), gen.generate(2, seed=0))

def test_train_alp_bad_preset_names_the_field(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match='preset'):
        _run(tmp_path, preset='no_such_preset')

def test_latent_cache_rebuilt_when_svq_checkpoint_changes(tmp_path):
    torch.manual_seed(0)
    svq = SVQ(svq_presets['smoke']['model']).eval()
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
