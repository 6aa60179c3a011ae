"""VCT (issue 14): the acceptance checks of the model (concept tokens never attend to each other, a swap changes the
decoder's input only through the swapped concept, the disentangling loss on a hand-computed case, the paper's parameter
counts), the two training notebooks through papermill (smoke: both stages, losses fall, outputs, pretrained round trip,
resuming, the VQ-VAE reused), the scene and timm variants, and bad input (a wrong 3dshapes.h5, images of the wrong size
or channels, a VQ-VAE that does not fit) failing with a clear message before anything is written."""
import json, math, os
from pathlib import Path
import numpy as np
import pytest
import torch

from objcentric.core import CheckpointError
from objcentric.data import DataError
from objcentric.recipes import run, load_pretrained, get_recipe
from objcentric.vct import (VQVAE, VQVAEConfig, VCT, VCTConfig, ConceptEncoder, swap_concepts, concept_swap_loss,
                            vct_param_count, vqvae_param_count)

pm = pytest.importorskip('papermill')
ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
FAST = dict(progress=False, figures=False)
TINY = dict(image_size=32, vq_hidden=16, vq_codes=16, num_concepts=4, concept_dim=16, enc_depth=2, dec_depth=1, query_dim=16,
            cross_dim_head=8, self_heads=2, self_dim_head=8)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv('OBJCENTRIC_CACHE', str(tmp_path_factory.getbasetemp() / 'cache'))


def _snapshot(d): return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in Path(d).rglob('*') if p.is_file()} if Path(d).exists() else {}


# ---------------------------------------------------------------- the model

def test_concept_tokens_never_attend_to_each_other():
    torch.manual_seed(0)
    enc = ConceptEncoder(num_concepts=6, input_dim=12, dim=20, grid=4, depth=3, cross_dim_head=8, self_heads=2, self_dim_head=8).eval()
    t, q = torch.randn(3, 16, 12), enc.latents.detach().clone()
    z0 = enc(t, q)
    for k in range(6):
        q2 = q.clone(); q2[k] += 3 * torch.randn(20)
        z1 = enc(t, q2)
        others = [j for j in range(6) if j != k]
        torch.testing.assert_close(z1[:, others], z0[:, others], rtol=0, atol=1e-6)
        assert (z1[:, k] - z0[:, k]).abs().max() > 1e-2
    t2 = t.clone(); t2[:, 5] += 1.0                                       # the image tokens do interact with every concept
    assert ((enc(t2, q) - z0).abs().amax(-1) > 1e-4).all()


def test_a_swap_changes_the_decoder_input_only_through_the_swapped_concept():
    z = torch.arange(2 * 5 * 3, dtype=torch.float).view(2, 5, 3)
    concept, partner = torch.tensor([3, 1]), torch.tensor([1, 0])
    zs = swap_concepts(z, concept, partner)
    diff = (zs != z).any(-1)
    assert diff.nonzero().tolist() == [[0, 3], [1, 1]]
    assert torch.equal(zs[0, 3], z[1, 3]) and torch.equal(zs[1, 1], z[0, 1])
    # the decoder's input is the concept set: what it sees differs in the swapped row only
    m = VCT(VCTConfig(**TINY))
    d = m.decoder
    seen = []
    h = d.cross[0].to_kv.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    zt = torch.randn(2, 4, 16); zt2 = swap_concepts(zt, torch.tensor([2, 2]), torch.tensor([1, 0]))
    d(zt); d(zt2); h.remove()
    changed = (seen[0] != seen[1]).any(-1)                                 # LN(context) rows of both passes
    assert changed.nonzero().tolist() == [[0, 2], [1, 2]]


def test_the_disentangling_loss_by_hand():
    za, zb = torch.zeros(1, 3, 2), torch.tensor([[[3., 0.], [0., 4.], [0., 0.]]])
    want = math.log(math.exp(0.6) + math.exp(0.8) + math.exp(0.0)) - 0.8      # normalised distances (0.6, 0.8, 0), target 1
    assert abs(concept_swap_loss(za, zb, torch.tensor([1])).item() - want) < 1e-6
    zc = torch.zeros(2, 20, 4); zc[0, 7, 1] = 2.0; zc[1, 0, 3] = 0.1
    floor = math.log(1 + 19 / math.e)                                        # only the swapped concept moved
    assert abs(concept_swap_loss(torch.zeros(2, 20, 4), zc, torch.tensor([7, 0])).item() - floor) < 1e-6


def test_the_swap_loss_trains_the_encoder_only():
    torch.manual_seed(0)
    tok = VQVAE(VQVAEConfig(image_size=32, hidden=16, num_codes=16))
    x = torch.rand(8, 3, 4, 4).repeat_interleave(8, -1).repeat_interleave(8, -2)
    opt = torch.optim.Adam(tok.parameters(), lr=3e-3)
    for _ in range(60):
        l = tok(x)['loss']; opt.zero_grad(); l.backward(); opt.step()
    m = VCT(VCTConfig(**TINY)).load_tokenizer(tok).train()
    z = m.encoder(m.tokenizer.embed(tok.tokens(x)))
    dis, kept = m.swap_loss(z)
    dis.backward()
    assert kept > 0 and dis.item() >= math.log(1 + 3 / math.e) - 1e-5
    assert m.encoder.latents.grad.abs().max() > 0
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in list(m.decoder.parameters()) + list(m.tokenizer.parameters()))


def test_paper_parameter_counts():
    assert vqvae_param_count(VQVAEConfig()) == dict(encoder=2_376_192, decoder=2_373_891, codebook=32_768, total=4_782_851)
    assert vct_param_count(VCTConfig()) == dict(encoder=14_697_668, decoder=14_819_968, trainable=29_517_636, tokenizer=4_782_851)
    rec = get_recipe('vct')
    for p in ('paper_shapes3d', 'paper_mpi3d', 'paper_cars3d'):
        assert vct_param_count(rec.presets[p].model)['trainable'] == 29_517_636
        assert vqvae_param_count(get_recipe('vqvae').presets[p].model)['total'] == 4_782_851
    assert vct_param_count(rec.presets['paper_clevr'].model)['encoder'] == 14_697_668 + 10 * 256
    for p in rec.presets:
        assert p in get_recipe('vqvae').presets, p                          # every VCT preset has its VQ-VAE preset
        assert rec.presets[p].model.vqvae_config().to_dict().items() >= {
            k: v for k, v in get_recipe('vqvae').presets[rec.presets[p].opts.vqvae_preset].model.to_dict().items()
            if k in ('image_size', 'hidden', 'num_codes', 'downsample', 'res_blocks')}.items()


def test_disentanglement_scores_separate_good_from_mixed_codes():
    from objcentric.zoo_vct import disentanglement_scores, DisentanglementProtocol, concept_codes
    f = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing='ij'), -1).reshape(-1, 3).repeat(12, 0)
    rng = np.random.default_rng(0); f = f[rng.permutation(len(f))]
    good = f + 0.05 * rng.standard_normal(f.shape)
    p = DisentanglementProtocol(fvae_train=600, fvae_eval=300, betavae_train=600, betavae_eval=300, dci_train_frac=0.75, dci_regressor='gbt_fast')
    s1, s2 = disentanglement_scores(good, f, p), disentanglement_scores(good @ np.linalg.qr(rng.standard_normal((3, 3)))[0], f, p)
    assert s1['factorvae'] > 0.95 and s1['dci_d'] > 0.9 and s1['betavae'] > 0.95
    assert s2['dci_d'] < s1['dci_d'] - 0.2 and s2['mig'] < 0.5 * s1['mig']
    z = torch.randn(50, 3, 4); z[:, 1] = torch.linspace(-1, 1, 50)[:, None] * torch.tensor([1., 0, 0, 0])
    c = concept_codes(z)
    assert torch.allclose(c[:, 1].abs(), torch.linspace(-1, 1, 50).abs(), atol=1e-5)


# ---------------------------------------------------------------- the notebooks (smoke, papermill)

def _nb(name, tmp, **params):
    out = tmp / 'run'
    os.environ['OBJCENTRIC_CACHE'] = str(tmp.parent / 'cache')    # the same cache as the autouse fixture's, also for module fixtures
    pm.execute_notebook(str(NBS / f'train_{name}.ipynb'), str(tmp / f'{name}.ipynb'), kernel_name='python3', cwd=str(NBS),
                        progress_bar=False, parameters={**dict(preset='smoke', out_dir=str(out), device='cpu', num_threads=1), **params})
    return out


@pytest.fixture(scope='module')
def vct_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('vct')
    return tmp, _nb('vct', tmp, overrides=json.dumps(dict(num_concepts=5)))


def test_train_vct_smoke_trains_both_stages_and_learns(vct_run):
    tmp, out = vct_run
    m = json.loads((out / 'metrics.json').read_text())
    for k in ('preset', 'model', 'steps', 'wall_s', 'total_wall_s', 'loss_first', 'loss_last', 'params', 'token_acc', 'factorvae', 'dci_d',
              'dci_c', 'dci_i', 'mig', 'betavae', 'mse', 'tokenizer_mse', 'vqvae_steps', 'vqvae_mse'):
        assert k in m, k
    assert m['model'] == 'vct' and m['preset'] == 'smoke' and m['steps'] == 30 and m['vqvae_steps'] == 30
    assert m['loss_last'] < m['loss_first']
    for k in ('factorvae', 'dci_d', 'mig', 'betavae', 'token_acc'): assert 0 <= m[k] <= 1 and math.isfinite(m[k]), k
    vq = json.loads((out / 'vqvae' / 'metrics.json').read_text())
    assert vq['model'] == 'vqvae' and vq['loss_last'] < vq['loss_first']
    assert json.loads((out / 'run.json').read_text())['model_config']['num_concepts'] == 5
    assert 'FactorVAE' in (tmp / 'vct.ipynb').read_text()                  # the printed summary


def test_train_vct_outputs_and_pretrained_round_trip(vct_run):
    tmp, out = vct_run
    for f in ('run.json', 'metrics.json', 'importance.json', 'checkpoints/last.pt', 'model/config.json', 'model/model.safetensors',
              'concept_swap.png', 'concept_traversal.png', 'importance.png', 'reconstructions.png', 'history.png',
              'vqvae/model/model.safetensors', 'vqvae/reconstructions.png', 'vqvae/code_usage.png'):
        assert (out / f).is_file() and (out / f).stat().st_size > 100, f
    model, again = load_pretrained(out), VCT.from_pretrained(out / 'model')
    assert isinstance(model, VCT) and model.cfg.num_concepts == 5
    x = torch.rand(3, 3, 32, 32)
    assert torch.equal(model.concepts(x), again.concepts(x)) and torch.equal(model.reconstruct(x), again.reconstruct(x))
    vq = load_pretrained(out / 'vqvae')                                    # the VCT's tokenizer is its VQ-VAE run's
    assert torch.equal(vq.tokens(x), model.tokenizer.tokens(x))


def test_train_vct_resumes_and_reuses_its_vqvae(vct_run):
    tmp, out = vct_run
    before = _snapshot(out / 'vqvae')
    _nb('vct', tmp, overrides=json.dumps(dict(num_concepts=5)), steps=34)
    m = json.loads((out / 'metrics.json').read_text())
    assert m['steps'] == 34
    text = (tmp / 'vct.ipynb').read_text()
    assert 'resuming' in text and 'no VQ-VAE run' not in text and 'train reused' in text
    assert _snapshot(out / 'vqvae') == before


def test_train_vqvae_smoke(tmp_path):
    out = _nb('vqvae', tmp_path, overrides=json.dumps(dict(num_codes=12)))
    m = json.loads((out / 'metrics.json').read_text())
    assert m['model'] == 'vqvae' and m['steps'] == 30 and m['loss_last'] < m['loss_first']
    assert {'mse', 'codebook_perplexity', 'dead_code_fraction'} <= set(m)
    assert load_pretrained(out).cfg.num_codes == 12
    for f in ('reconstructions.png', 'code_usage.png', 'history.png'): assert (out / f).is_file()


def test_the_scene_variant_scores_segmentation(tmp_path):
    r = run('vct', 'smoke_clevr', out_dir=tmp_path / 'run', **FAST)
    m = r.metrics
    assert m['loss_last'] < m['loss_first']
    for k in ('fg_ari', 'mbo', 'fg_ari_grid2', 'mbo_grid2', 'fg_ari_one', 'mse'): assert k in m and math.isfinite(m[k]), k
    assert 'factorvae' not in m                                            # scenes have no factor grid
    assert r.model.decode_masks(r.model.concepts(torch.rand(2, 3, 32, 32))).shape == (2, 4, 32, 32)


def test_a_timm_reader_from_a_local_file(tmp_path):
    timm = pytest.importorskip('timm')
    kw = dict(img_size=32, depth=1)
    w = tmp_path / 'vit.pth'; torch.save(timm.create_model('vit_tiny_patch16_224', pretrained=False, **kw).state_dict(), w)
    ov = dict(image_encoder='timm', timm_model='vit_tiny_patch16_224', timm_kwargs=kw)
    with pytest.raises(CheckpointError, match="timm_weights=None: image_encoder='timm' needs a local weights file"):
        run('vct', 'smoke', out_dir=tmp_path / 'bad', overrides=ov, **FAST)
    assert not (tmp_path / 'bad').exists()
    r = run('vct', 'smoke', out_dir=tmp_path / 'run', overrides={**ov, 'opts.timm_weights': str(w)}, steps=10, **FAST)
    assert r.metrics['loss_last'] < r.metrics['loss_first'] and 'factorvae' in r.metrics
    sd = torch.load(w, weights_only=True)
    assert torch.equal(r.model.reader.net.blocks[0].attn.qkv.weight.cpu(), sd['blocks.0.attn.qkv.weight'])
    m2 = load_pretrained(tmp_path / 'run')                                 # the reader's weights travel with the model
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(m2.concepts(x), r.model.concepts(x))


# ---------------------------------------------------------------- bad input

def _h5(path, images, labels=None):
    import h5py
    with h5py.File(path, 'w') as h:
        h.create_dataset('images', data=images)
        h.create_dataset('labels', data=labels if labels is not None else np.zeros((len(images), 6)))
    return path


@pytest.mark.parametrize('images, text', [
    (np.zeros((12, 3, 64, 64), np.uint8), "expected 'images' uint8 [N,H,W,3], got uint8 (12, 3, 64, 64)"),   # channels first
    (np.zeros((12, 64, 64, 1), np.uint8), "expected 'images' uint8 [N,H,W,3], got uint8 (12, 64, 64, 1)"),   # one channel
    (np.zeros((12, 64, 64, 3), np.float32), "expected 'images' uint8 [N,H,W,3], got float32"),              # not uint8
])
def test_a_3dshapes_file_of_the_wrong_layout_names_the_file(tmp_path, images, text):
    f = _h5(tmp_path / '3dshapes.h5', images)
    with pytest.raises(DataError) as e: run('vct', 'smoke', data_path=str(f), out_dir=tmp_path / 'run', **FAST)
    assert str(f) in str(e.value) and text in str(e.value)
    assert not (tmp_path / 'run').exists()                                 # nothing written, not even the VQ-VAE stage


def test_a_3dshapes_file_without_labels_names_the_file(tmp_path):
    import h5py
    f = tmp_path / '3dshapes.h5'
    with h5py.File(f, 'w') as h: h.create_dataset('images', data=np.zeros((4, 64, 64, 3), np.uint8))
    with pytest.raises(DataError, match=r"3dshapes\.h5: expected HDF5 dataset\(s\) \['labels'\]"):
        run('vct', 'smoke', data_path=str(f), out_dir=tmp_path / 'run', **FAST)
    assert not (tmp_path / 'run').exists()


def test_images_of_the_wrong_size_or_channels_are_refused():
    from objcentric.zoo_vct import check_data
    m = VCT(VCTConfig(**TINY))
    with pytest.raises(ValueError, match=r'VCT\.concepts: expected a float tensor \[B,3,32,32\] in \[0,1\], got shape \(2, 3, 64, 64\)'):
        m.concepts(torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match=r'expected a float tensor \[B,3,32,32\] in \[0,1\], got shape \(2, 1, 32, 32\)'):
        m(dict(image=torch.rand(2, 1, 32, 32)))
    with pytest.raises(DataError, match=r"my_images/\*\.png: the images do not fit the model .*\[B,3,32,32\].*\(1, 3, 48, 48\)"):
        check_data([dict(image=torch.rand(3, 48, 48))], m.cfg, 'my_images/*.png')


def test_a_vqvae_that_does_not_fit_is_refused_before_anything_is_written(tmp_path):
    vq = tmp_path / 'vqvae'
    run('vqvae', 'smoke', out_dir=vq, overrides=dict(num_codes=32), steps=4, **FAST)
    out = tmp_path / 'vct'
    with pytest.raises(CheckpointError) as e:
        run('vct', 'smoke', out_dir=out, overrides={'opts.vqvae_dir': str(vq)}, **FAST)
    msg = str(e.value)
    assert str(vq / 'model' / 'config.json') in msg and 'num_codes: 32 there, 16 expected' in msg
    assert not out.exists()
    with pytest.raises(CheckpointError, match='no trained VQ-VAE there'):
        run('vct', 'smoke', out_dir=out, overrides={'opts.vqvae_dir': str(tmp_path / 'nothing')}, **FAST)
    assert not out.exists()
    # weights that do not fit their own config.json: the safetensors file and the keys are named
    good = tmp_path / 'vqvae16'
    run('vqvae', 'smoke', out_dir=good, steps=4, **FAST)
    from safetensors.torch import load_file, save_file
    sd = load_file(str(good / 'model' / 'model.safetensors')); sd['vq.codebook'] = torch.zeros(8, 16); sd.pop('decoder.0.convs.1.weight')
    save_file(sd, str(good / 'model' / 'model.safetensors'))
    with pytest.raises(CheckpointError) as e:
        run('vct', 'smoke', out_dir=out, overrides={'opts.vqvae_dir': str(good)}, **FAST)
    msg = str(e.value)
    assert 'model.safetensors' in msg and 'missing keys: decoder.0.convs.1.weight' in msg and 'vq.codebook: (8, 16) in the file, (16, 16) in the model' in msg
    assert not (out / 'run.json').exists() and not (out / 'checkpoints').exists()


def test_a_vqvae_preset_that_does_not_fit_is_refused_before_training(tmp_path):
    with pytest.raises(CheckpointError, match="VQ-VAE preset 'cpu_demo': this VQ-VAE does not fit the VCT's tokenizer"):
        run('vct', 'smoke', out_dir=tmp_path / 'vct', overrides={'opts.vqvae_preset': 'cpu_demo'}, **FAST)
    assert not (tmp_path / 'vct').exists()
