"""NSI: the score and the objective as specified (hand-computed case, padding never counts, symmetry), the frozen backbone,
bad input with clear errors (schemas too long, unknown property values, a backbone file that does not fit, a pickled labels
file), the real-data path (NSI's CLEVRTex build), and the training notebook's smoke run through papermill."""
import ast, json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch

from objcentric.core import ConfigError, CheckpointError, count_params
from objcentric.nsi import (NSI, NSIConfig, ObjectSchema, Property, CLEVR_LIKE_SCHEMA, CLEVRTEX_SCHEMA, slot_schema_score,
                            symmetric_contrastive_loss)

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
FAST = dict(progress=False, figures=False)
TINY = dict(image_size=32, backbone='vit_tiny_patch16_224', backbone_size=32,
            backbone_kwargs=dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2),
            num_slots=3, num_iters=2, slot_size=16, mlp_hidden=16, dec_hidden=32, dec_layers=2, embed_dim=8, head_hidden=16,
            d_model=16, num_blocks=1, num_heads=2, schema=CLEVR_LIKE_SCHEMA, max_program_len=4)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch): monkeypatch.setenv('OBJCENTRIC_CACHE', str(tmp_path / 'cache'))


def _scenes(B=4, T=4, seed=0):
    "Random valid CLEVR-like schema rows [B,T,7] and a mask with 1..T objects per scene"
    g = torch.Generator().manual_seed(seed)
    rows = torch.stack([torch.randint(0, p.num_values, (B, T), generator=g).float() for p in CLEVR_LIKE_SCHEMA.properties[:4]], -1)
    pos = torch.rand(B, T, 3, generator=g) * torch.tensor([8., 7., 1.5]) + torch.tensor([-4., -3., 0.])
    n = torch.randint(1, T + 1, (B,), generator=g); n[0] = T
    return torch.cat([rows, pos], -1), torch.arange(T)[None] < n[:, None]


def test_score_hand_computed():
    slots = torch.tensor([[[1., 0.], [0., 2.]], [[-1., 1.], [3., 0.]]])          # 2 images x 2 slots, 2-d embeddings
    objs = torch.tensor([[[1., 1.], [0., -1.]], [[2., 0.], [5., 5.]]])          # 2 schemas x 2 objects
    mask = torch.tensor([[True, True], [True, False]])
    # image 0 / schema 0: object (1,1) -> max(1, 2) = 2; object (0,-1) -> max(0, -2) = 0 => 2
    # image 0 / schema 1: object (2,0) -> max(2, 0) = 2 (the padded object (5,5) is dropped) => 2
    # image 1 / schema 0: (1,1) -> max(0, 3) = 3; (0,-1) -> max(-1, 0) = 0 => 3;  image 1 / schema 1: (2,0) -> max(-2, 6) = 6
    S, idx = slot_schema_score(slots, objs, mask, return_index=True)
    assert torch.equal(S, torch.tensor([[2., 2.], [3., 6.]]))
    assert idx[0, 0].tolist() == [1, 0] and idx[1, 1, 0] == 1
    # the loss by hand at tau = 1: rows and columns of S
    ls = lambda v, i: -(v[i] - torch.logsumexp(v, 0))
    want = 0.5 * ((ls(S[0], 0) + ls(S[1], 1)) / 2 + (ls(S[:, 0], 0) + ls(S[:, 1], 1)) / 2)
    assert torch.allclose(symmetric_contrastive_loss(S, tau=1.0), want)


def test_loss_is_symmetric_in_image_and_schema():
    S = torch.randn(6, 6)
    assert torch.allclose(symmetric_contrastive_loss(S), symmetric_contrastive_loss(S.t()))
    assert not torch.allclose(torch.nn.functional.cross_entropy(S / 0.1, torch.arange(6)),
                              torch.nn.functional.cross_entropy(S.t() / 0.1, torch.arange(6)))   # each direction alone is not


def test_padded_schema_objects_never_change_the_score():
    torch.manual_seed(0)
    m = NSI(NSIConfig(**TINY)).eval()
    rows, mask = _scenes()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        emb = m.slot_head(m.encode(x, torch.Generator().manual_seed(0)).slots)
        obj, mm = m.embed_schema(rows, mask); S = slot_schema_score(emb, obj, mm)
        for seed in range(3):                                                     # other garbage in the padded rows
            junk, _ = _scenes(seed=seed + 1); j = torch.where(mask[..., None], rows, junk)
            o2, m2 = m.embed_schema(j, mask)
            assert torch.allclose(slot_schema_score(emb, o2, m2), S, atol=1e-5)
        short = [m.embed_schema(rows[i:i + 1, :int(mask[i].sum())], mask[i:i + 1, :int(mask[i].sum())]) for i in range(4)]
        for i, (o, mk) in enumerate(short):                                      # = the schema without its padding
            assert torch.allclose(slot_schema_score(emb, o, mk)[:, 0], S[:, i], atol=1e-5)
        m.schema_encoder.mask_padding = False                                     # the released code: padding takes part
        o3, m3 = m.embed_schema(rows, mask)
        assert not torch.allclose(slot_schema_score(emb, o3, m3), S, atol=1e-3)


def test_the_backbone_stays_frozen_through_a_training_step(tmp_path):
    from objcentric.train import Trainer, TrainConfig
    torch.manual_seed(0)
    m = NSI(NSIConfig(**TINY))
    rows, mask = _scenes(B=8)
    data = [dict(image=torch.rand(3, 32, 32), schema=rows[i], present=mask[i]) for i in range(8)]
    before = {k: v.clone() for k, v in m.backbone.state_dict().items()}
    bufs = {k: v.clone() for k, v in m.backbone.named_buffers()}
    others = {k: p.detach().clone() for k, p in m.named_parameters() if not k.startswith('backbone.')}
    tr = Trainer(m, TrainConfig(steps=2, batch_size=4, lr=1e-2, out_dir=str(tmp_path / 'run'), device='cpu', progress=False), data)
    tr.fit()
    assert all(not p.requires_grad and p.grad is None for p in m.backbone.parameters())
    assert all(torch.equal(before[k], v) for k, v in m.backbone.state_dict().items())
    assert all(torch.equal(bufs[k], v) for k, v in m.backbone.named_buffers())
    assert not m.backbone.training and not any(x.training for x in m.backbone.modules())
    assert sum(not torch.equal(others[k], p) for k, p in m.named_parameters() if k in others) > 0.9 * len(others)
    frozen = {id(p) for p in m.backbone.parameters()}
    assert not any(id(p) in frozen for g in tr.opts['main'].param_groups for p in g['params'])   # not even in the optimizer


def test_position_options_break_token_permutation_invariance_only_when_asked():
    "Slot attention alone cannot tell where a token is: permuting the tokens leaves the slots unchanged; `sa_pos` makes them differ"
    torch.manual_seed(0)
    feats = torch.randn(2, 16, 32); perm = torch.randperm(16)
    for sa_pos, same in ((False, True), (True, False)):
        m = NSI(NSIConfig(**TINY, sa_pos=sa_pos)).eval()
        init = m.slot_attn.init_slots(2, generator=torch.Generator().manual_seed(1))
        a, b = m.slots(feats, slots_init=init)[0], m.slots(feats[:, perm], slots_init=init)[0]
        assert torch.allclose(a, b, atol=1e-5) == same, sa_pos
    m = NSI(NSIConfig(**TINY, sa_pos=True))
    assert count_params(m.image_side()) - count_params(NSI(NSIConfig(**TINY)).image_side()) == 4 * 32 + 32   # Linear(4, D)


def test_fourier_decoder_positions_start_at_the_formula_and_learn():
    from objcentric.nsi import fourier_positions
    m = NSI(NSIConfig(**TINY, dec_pos='fourier'))
    assert torch.equal(m.decoder.pos.weight.detach(), fourier_positions((4, 4), 16)) and m.decoder.pos.weight.requires_grad
    assert not torch.equal(NSI(NSIConfig(**TINY)).decoder.pos.weight.detach(), fourier_positions((4, 4), 16))
    with pytest.raises(ConfigError, match='dec_pos'): NSIConfig(**TINY, dec_pos='sine')


def test_standardised_features_are_fitted_on_training_images_and_saved(tmp_path):
    "The smoke run with `standardize`: the backbone's statistics come from the training images and travel with the saved model"
    from objcentric.recipes import run
    r = run('nsi', 'smoke', overrides={'model.standardize': True, 'run.steps': 4, 'opts.stats_images': 32}, out_dir=tmp_path / 'run', **FAST)
    bb = r.model.backbone
    assert not torch.equal(bb.feat_std, torch.ones_like(bb.feat_std)) and not torch.equal(bb.feat_mean, torch.zeros_like(bb.feat_mean))
    f = r.train_ds.tensors['features'][:32].float().reshape(-1, bb.dim)     # the precomputed features of the 32 fitted images
    assert torch.allclose(f.mean(0), torch.zeros(bb.dim), atol=2e-2) and torch.allclose(f.std(0), torch.ones(bb.dim), atol=2e-2)
    m2 = NSI.from_pretrained(r.files['model'])
    assert torch.equal(m2.backbone.feat_mean, bb.feat_mean) and torch.equal(m2.backbone.feat_std, bb.feat_std)


def test_paper_preset_parameter_counts():
    from objcentric.core import count_params
    from objcentric.recipes import get_preset
    m = NSI(get_preset('nsi', 'paper').model)
    assert count_params(m.image_side()) == 5_094_785                             # 1,813,632 + 3,235,585 + 45,568
    assert count_params(m.schema_encoder) == 3_797_056                            # 13,632 + 184,704 + 3,553,152 + 45,568
    assert count_params(m.backbone) == 0 and count_params(m.backbone, trainable=False) == 85_807_872


def test_bad_schemas_name_the_field():
    m = NSI(NSIConfig(**TINY))
    rows, mask = _scenes()
    with pytest.raises(ValueError, match='longer than max_program_len=4'):
        m.embed_schema(torch.cat([rows, rows], 1), torch.ones(4, 8, dtype=torch.bool))
    bad = rows.clone(); bad[0, 0, 3] = 8                                          # colour 8 of 8
    with pytest.raises(ValueError, match=r"property 'colour': unknown values \[8.0\] \(expected ints in \[0, 8\)\)"):
        m.embed_schema(bad, mask)
    bad = rows.clone(); bad[0, 0, 1] = 1.5
    with pytest.raises(ValueError, match="property 'shape'"): m.embed_schema(bad, mask)
    with pytest.raises(ValueError, match=r'expected rows \[B,T,7\]'): m.embed_schema(rows[..., :6], mask)
    with pytest.raises(ConfigError, match='`schema.properties`'): ObjectSchema('x', ())


def test_a_backbone_file_that_does_not_fit_names_the_file(tmp_path):
    import timm
    from objcentric.recipes import run
    f = tmp_path / 'vit_small.pth'
    torch.save(timm.create_model('vit_tiny_patch16_224', pretrained=False, num_classes=0, img_size=32, patch_size=8, embed_dim=48,
                                 depth=2, num_heads=2).state_dict(), f)
    with pytest.raises(CheckpointError, match=r"vit_small\.pth' does not fit VisionTransformer: unexpected keys: blocks\.1"):
        NSI(NSIConfig(**TINY, backbone_weights=str(f)))
    with pytest.raises(CheckpointError, match='does not exist'): NSI(NSIConfig(**TINY, backbone_weights=str(tmp_path / 'no.pth')))
    out = tmp_path / 'run'
    with pytest.raises(CheckpointError, match=r'vit_small\.pth'):
        run('nsi', 'smoke', out_dir=out, overrides=dict(backbone_weights=str(f)), **FAST)
    assert not out.exists()                                                       # nothing written
    with pytest.raises(ConfigError, match='`backbone_weights`'):                  # the paper preset needs DINO's weights
        run('nsi', 'paper', out_dir=out, **FAST)
    assert not out.exists()


def _clevrtex_build(root:Path, n=(24, 8), pickle_payload=None):
    "A tiny build in NSI's format: images.h5 (float64 [N,128,128,3]) and {split}_labels.npy (object arrays of [L,6] lists)"
    import h5py
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    with h5py.File(root / 'images.h5', 'w') as h:
        for split, k in zip(('train', 'val'), n): h.create_dataset(split, data=rng.random((k, 128, 128, 3)))
    for split, k in zip(('train', 'val'), n):
        arr = np.empty(k, dtype=object)
        for i in range(k):
            L = int(rng.integers(3, 7))
            arr[i] = [[int(rng.integers(3)), int(rng.integers(4)), int(rng.integers(60)), *rng.uniform(-3, 3, 3).tolist()] for _ in range(L)]
        if pickle_payload is not None and split == 'train': arr[0] = pickle_payload
        np.save(root / f'{split}_labels.npy', arr, allow_pickle=True)


def test_the_clevrtex_build_is_the_real_data_path(tmp_path):
    from objcentric.recipes import run
    _clevrtex_build(tmp_path / 'clevrtex')
    r = run('nsi', 'smoke', data_path=str(tmp_path / 'clevrtex'), out_dir=tmp_path / 'run', **FAST,
            overrides=dict(schema=CLEVRTEX_SCHEMA.to_dict(), max_program_len=10, n_train=24, n_val=8))
    assert r.metrics['data'] == str(tmp_path / 'clevrtex') and r.metrics['steps'] == 30
    assert 0 <= r.metrics['i2s_recall_at_1'] <= 1 and 'fg_ari' not in r.metrics     # the build has no object masks
    assert r.model.cfg.schema == CLEVRTEX_SCHEMA


def test_a_labels_file_with_a_pickle_is_refused(tmp_path):
    from objcentric.data import DataError
    from objcentric.recipes import run
    marker = tmp_path / 'pwned'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    _clevrtex_build(tmp_path / 'clevrtex', pickle_payload=Evil())
    with pytest.raises(DataError, match=r'train_labels\.npy: refused'):
        run('nsi', 'smoke', data_path=str(tmp_path / 'clevrtex'), out_dir=tmp_path / 'run', **FAST,
            overrides=dict(schema=CLEVRTEX_SCHEMA.to_dict(), max_program_len=10, n_train=24, n_val=8))
    assert not marker.exists() and not (tmp_path / 'run').exists()


def test_nsi_imports_parts_only_and_stays_light():
    tree = ast.parse((ROOT / 'objcentric' / 'nsi.py').read_text())
    mods = {n.module.split('.')[1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or '').startswith('objcentric.')}
    assert mods <= {'core', 'slots', 'transformer', 'quantizers', 'dvae'}, mods
    code = "import sys, objcentric.nsi; print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn', 'timm') if m in sys.modules))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr)


# ---- the training notebook (papermill)

pm = pytest.importorskip('papermill')


def _nb(tmp, **params):
    out = tmp / 'run'
    os.environ['OBJCENTRIC_CACHE'] = str(tmp / 'cache')           # the notebook's backbone cache: the same for every call on tmp
    pm.execute_notebook(str(NBS / 'train_nsi.ipynb'), str(tmp / 'out.ipynb'), kernel_name='python3', cwd=str(NBS), progress_bar=False,
                        parameters={**dict(preset='smoke', out_dir=str(out), device='cpu', num_threads=1), **params})
    return out


@pytest.fixture(scope='module')
def nb_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('nsi_nb')
    os.environ['OBJCENTRIC_CACHE'] = str(tmp / 'cache')
    return tmp, _nb(tmp, overrides=json.dumps(dict(num_slots=4)))


def test_notebook_learns_and_writes_its_outputs(nb_run):
    from objcentric.recipes import load_pretrained
    tmp, out = nb_run
    m = json.loads((out / 'metrics.json').read_text())
    for k in ('preset', 'model', 'steps', 'wall_s', 'loss_first', 'loss_last', 'params', 'i2s_recall_at_1', 's2i_recall_at_1',
              'i2s_recall_at_10_all', 'fg_ari', 'mbo', 'fg_ari_grid2', 'mbo_grid2', 'align_iou', 'prop_acc_colour', 'val_loss'):
        assert k in m, k
    assert m['model'] == 'nsi' and m['preset'] == 'smoke' and m['steps'] == 30
    assert m['loss_last'] < m['loss_first'], (m['loss_first'], m['loss_last'])
    for f in ('run.json', 'checkpoints/last.pt', 'model/config.json', 'model/model.safetensors', 'grounding.png', 'retrieval.png',
              'slot_topk.png', 'masks.png', 'history.png'):
        assert (out / f).is_file() and (out / f).stat().st_size > 200, f
    text = (tmp / 'out.ipynb').read_text()
    assert 'held-out' in text and 'image->schema R@1' in text
    model, again = load_pretrained(out), NSI.from_pretrained(out / 'model')
    assert model.cfg.num_slots == 4 and again.cfg == model.cfg
    x = torch.rand(2, 3, 32, 32); g = lambda: torch.Generator().manual_seed(0)
    assert torch.equal(model.encode(x, g()).masks, again.encode(x, g()).masks)


def test_notebook_resumes(nb_run):
    tmp, out = nb_run
    _nb(tmp, overrides=json.dumps(dict(num_slots=4)), steps=34)
    assert json.loads((out / 'metrics.json').read_text())['steps'] == 34
    assert 'resuming' in (tmp / 'out.ipynb').read_text() and 'backbone: reused' in (tmp / 'out.ipynb').read_text()
