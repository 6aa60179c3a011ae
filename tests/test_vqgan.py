"""VQ-GAN and Visual GPT (issue 15): the adaptive weight is the gradient-norm ratio, the GAN term is off before its start
step, each player's step moves only its own parameters, top-k/top-p sampling stays in its set, KV-cached sampling equals
uncached, the paper presets have the published sizes; bad input (unknown class, a one-class folder, mixed image modes,
a VGG file that does not fit) fails naming the problem and leaves what exists untouched; the training notebooks run
their smoke presets (losses fall, outputs and a GIF are written, the pretrained folders rebuild the models, a second
call resumes)."""
import ast, json, math, subprocess, sys, tempfile
from pathlib import Path
import pytest
import torch
from PIL import Image

from objcentric.core import count_params, CheckpointError, ConfigError
from objcentric.data import DataError
from objcentric.train import Trainer, TrainConfig, ParamGroup
from objcentric.vqgan import VQGAN, VQGANConfig, Encoder, Decoder, PatchDiscriminator, PerceptualLoss, adaptive_weight
from objcentric.visual_gpt import VisualGPT, VisualGPTConfig, check_tokenizer
from objcentric.transformer import filter_logits
from objcentric.recipes import run, load_pretrained

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
FAST = dict(progress=False, figures=False)
TINY = VQGANConfig(image_size=16, ch=16, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(4,), z_channels=8, norm_groups=4,
                   num_codes=32, codebook_dim=4, warmup_steps=0, init='kaiming', perceptual_weight=0.0, disc_start=2,
                   disc_channels=8, disc_layers=2)
GPT = VisualGPTConfig(num_codes=16, num_classes=3, grid=(3, 3), d_model=32, num_layers=2, num_heads=4, max_positions=16, dropout=0.0)


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv('OBJCENTRIC_CACHE', str(tmp_path / 'cache'))
    torch.set_num_threads(1)


def _imgs(n=4, s=16, seed=0): return torch.rand(n, 3, s, s, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- the losses

def test_adaptive_weight_is_the_gradient_norm_ratio_on_a_constructed_case():
    W = torch.randn(5, 4, requires_grad=True)
    a, b = -2.5, 0.3                                             # grad of a*sum(W) is a*1, of b/2*|W|^2 is b*W
    lam = adaptive_weight(a * W.sum(), 0.5 * b * (W ** 2).sum(), W, disc_weight=0.8)
    assert math.isclose(lam.item(), 0.8 * abs(a) * math.sqrt(20) / (b * W.detach().norm().item() + 1e-4), rel_tol=1e-5)
    assert not lam.requires_grad
    assert adaptive_weight(1e8 * W.sum(), 0 * W.sum(), W).item() == pytest.approx(1e4)      # clamped


def test_adaptive_weight_inside_the_model_is_measured_at_the_decoders_last_layer():
    torch.manual_seed(0); m = VQGAN(TINY); m.train(); m.on_step(5)
    x = _imgs()
    torch.manual_seed(1); out = m(dict(image=x))
    torch.manual_seed(1); m.on_step(5)
    zq, q = m.quantize(x * 2 - 1); xr = m.decode(zq)
    pix, g = (x * 2 - 1 - xr).abs().mean(), -m.discriminator(xr).mean()
    gr, gg = (torch.autograd.grad(t, m.decoder.conv_out.weight, retain_graph=True)[0].norm() for t in (pix, g))
    assert out['d_weight'].item() == pytest.approx((0.8 * gr / (gg + 1e-4)).item(), rel=1e-4)
    assert out['loss'].item() == pytest.approx((out['rec'] + out['q_loss'] + out['d_weight'] * out['g_loss']).item(), rel=1e-5)


def test_the_gan_term_is_zero_before_its_start_step():
    torch.manual_seed(0); m = VQGAN(TINY.replace(disc_start=10)); m.train()
    calls = []
    m.discriminator.register_forward_hook(lambda *a: calls.append(1))
    for s in (0, 9):
        m.on_step(s); out = m(dict(image=_imgs()))
        assert out['g_loss'].item() == 0 and out['d_weight'].item() == 0 and out['disc_factor'] == 0
        assert out['loss'].item() == pytest.approx((out['rec'] + out['q_loss']).item())
        assert m(dict(image=_imgs()), optimizer='d')['loss'].item() == 0
    assert not calls                                             # D is not even evaluated
    m.on_step(10); out = m(dict(image=_imgs()))
    assert out['g_loss'].item() != 0 and out['d_weight'].item() > 0 and calls


def _train_two_steps(lr_g, lr_d, disc_start=0):
    torch.manual_seed(0); m = VQGAN(TINY.replace(disc_start=disc_start)); gr = m.param_groups()
    g0, d0 = [p.detach().clone() for p in gr['gen']], [p.detach().clone() for p in gr['disc']]
    x = _imgs()
    t = Trainer(m, TrainConfig(steps=2, batch_size=4, out_dir=tempfile.mkdtemp(), progress=False, ckpt_every=0), lambda s: dict(image=x),
                [ParamGroup('gen', gr['gen'], lr_g, optimizer='g'), ParamGroup('disc', gr['disc'], lr_d, optimizer='d')])
    t.fit()
    moved = lambda ps, p0: [(a.detach() - b).abs().max().item() > 1e-20 for a, b in zip(ps, p0)]
    return moved(gr['gen'], g0), moved(gr['disc'], d0)


def test_each_players_step_updates_only_its_own_parameters():
    g, d = _train_two_steps(1e-30, 1e-3)
    assert not any(g) and all(d[:-1])                            # D's last bias has zero hinge gradient inside the margin
    g, d = _train_two_steps(1e-3, 1e-30)
    assert not any(d) and sum(g) > 0.9 * len(g)
    g, d = _train_two_steps(1e-3, 1e-3, disc_start=100)         # before disc_start the discriminator's step is a no-op
    assert not any(d)
    torch.manual_seed(0); m = VQGAN(TINY)
    gen, disc = (set(map(id, v)) for v in m.param_groups().values())
    assert not gen & disc and gen | disc == set(map(id, m.parameters()))


# ---------------------------------------------------------------- sampling

def test_top_k_and_top_p_sampling_never_leave_their_set():
    torch.manual_seed(0); g = VisualGPT(GPT)
    cls = torch.arange(3).repeat(10)
    for seed in range(4):
        t, lg = g.generate(cls, temperature=2.0, top_k=4, generator=torch.Generator().manual_seed(seed), return_logits=True)
        assert (lg.gather(-1, t[..., None]) >= lg.topk(4, -1).values[..., -1:]).all()
        t, lg = g.generate(cls, temperature=2.0, top_p=0.4, generator=torch.Generator().manual_seed(seed), return_logits=True)
        keep = torch.isfinite(filter_logits(lg / 2.0, top_p=0.4))            # the nucleus at the sampling temperature
        assert keep.gather(-1, t[..., None]).all()
        p = (lg / 2.0).softmax(-1); srt = p.sort(-1, descending=True).values
        need = (srt.cumsum(-1) < 0.4).sum(-1) + 1                            # the smallest set reaching mass 0.4
        assert (keep.sum(-1) == need).all()
        assert (t < GPT.num_codes).all()                                     # never a class or special token
    t, lg = g.generate(cls, temperature=2.0, generator=torch.Generator().manual_seed(0), return_logits=True)
    assert not (lg.gather(-1, t[..., None]) >= lg.topk(4, -1).values[..., -1:]).all()   # without the filter, samples leave the top-4


def test_kv_cached_and_uncached_sampling_give_the_same_tokens():
    torch.manual_seed(0); g = VisualGPT(GPT)
    for kw in (dict(temperature=1.0), dict(temperature=None), dict(temperature=1.3, top_k=5), dict(temperature=0.9, top_p=0.8)):
        a = g.generate([0, 1, 2, 1], generator=torch.Generator().manual_seed(3), use_cache=True, **kw)
        b = g.generate([0, 1, 2, 1], generator=torch.Generator().manual_seed(3), use_cache=False, **kw)
        assert torch.equal(a, b), kw


def test_the_token_grid_is_the_tokenizers():
    torch.manual_seed(0); g = VisualGPT(GPT.replace(num_codes=32, grid=(4, 4), max_positions=17)); vq = VQGAN(TINY)
    check_tokenizer(g.cfg, vq)
    assert g.generate([0, 1]).shape == (2, 16) and vq.decode_indices(g.generate([0, 1])).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match='token-grid mismatch'): check_tokenizer(VisualGPTConfig(), vq)
    with pytest.raises(ValueError, match='4x4 grid this GPT was built for'): g(dict(tokens=torch.zeros(2, 64, dtype=torch.long), label=torch.zeros(2, dtype=torch.long)))


# ---------------------------------------------------------------- sizes

def test_parameter_counts_of_the_paper_presets():
    with torch.device('meta'):
        vq, gpt = VQGAN(), VisualGPT()
        e, d, D = Encoder(), Decoder(), PatchDiscriminator()
    assert (count_params(e), count_params(d), count_params(D)) == (29_298_176, 42_449_795, 2_765_633)
    assert vq.tokenizer_params() == 71_803_267                    # + in/out projections 2*256*12 and 4096x12 codes
    assert count_params(vq) == 71_803_267 + 2_765_633
    assert count_params(gpt) == 89_081_856                        # GPT-2 small with 4096 + 120 + 2 tokens
    from objcentric.recipes import get_preset
    assert get_preset('vqgan', 'paper').model == VQGANConfig() and get_preset('vgpt', 'paper').model == VisualGPTConfig()


# ---------------------------------------------------------------- layers

MODS = ('vqgan', 'visual_gpt')

def test_models_import_parts_only_and_stay_light():
    forbidden = {'train', 'data', 'viz', 'recipes', 'metrics'} | {p.stem for p in (ROOT / 'objcentric').glob('zoo_*.py')}
    for mod in MODS:
        used = set()
        for node in ast.walk(ast.parse((ROOT / 'objcentric' / f'{mod}.py').read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.level: used.add(node.module.split('.')[0])
                elif node.module.startswith('objcentric.'): used.add(node.module.split('.')[1])
        assert not used & forbidden, (mod, used & forbidden)
    code = ("import sys, objcentric.vqgan, objcentric.visual_gpt;"
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn', 'timm') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr[-2000:])


# ---------------------------------------------------------------- bad input

def _snapshot(d): return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in Path(d).rglob('*') if p.is_file()}


def _folder(root, classes, n=6, mode=lambda c, i: 'RGB'):
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n): Image.new(mode(c, i), (20, 20), 80 + 20 * i).save(root / c / f'{i}.png')
    return root


def test_a_folder_with_one_class_is_refused(tmp_path):
    d = _folder(tmp_path / 'data', ['corgi'])
    with pytest.raises(DataError, match=r"found 1 class folder \['corgi'\]; a class-conditional model needs at least 2"):
        run('vqgan', 'smoke', data_path=d, out_dir=tmp_path / 'run', **FAST)
    assert not (tmp_path / 'run').exists()


def test_images_of_mixed_modes_are_refused_naming_the_modes(tmp_path):
    d = _folder(tmp_path / 'data', ['corgi', 'pug'], mode=lambda c, i: 'L' if (c, i) == ('pug', 3) else 'RGB')
    with pytest.raises(DataError, match=r"images of mixed modes \(RGB: 11 files, e\.g\. corgi/0\.png; L: 1 files, e\.g\. pug/3\.png\)"):
        run('vqgan', 'smoke', data_path=d, out_dir=tmp_path / 'run', **FAST)
    assert not (tmp_path / 'run').exists()
    ov = {'opts.mixed_modes': 'convert', 'n_train': 8, 'n_val': 1, 'n_eval': 1, 'n_eval_during': 1, 'batch_size': 4}
    r = run('vqgan', 'smoke', data_path=d, out_dir=tmp_path / 'run', steps=3, overrides=ov, **FAST)      # converting is a choice
    assert r.metrics['num_classes'] == 2 and math.isfinite(r.metrics['psnr'])


def test_a_vgg_weights_file_that_does_not_fit_is_refused_naming_the_key(tmp_path):
    from safetensors.torch import save_file
    p = PerceptualLoss()
    sd = {f'features.{k}': v.clone() for k, v in p.features.state_dict().items()}
    sd['features.10.weight'] = torch.zeros(256, 64, 3, 3)
    save_file(sd, str(tmp_path / 'vgg.safetensors'))
    ov = {'perceptual_weight': 1.0, 'opts.vgg_weights': str(tmp_path / 'vgg.safetensors')}
    with pytest.raises(CheckpointError, match=r"features\.10\.weight: \(256, 64, 3, 3\) in the file, \(256, 128, 3, 3\) in the model"):
        run('vqgan', 'smoke', out_dir=tmp_path / 'run', overrides=ov, **FAST)
    assert not (tmp_path / 'run').exists()
    with pytest.raises(ConfigError, match='opts.vgg_weights'):
        run('vqgan', 'smoke', out_dir=tmp_path / 'run', overrides={'perceptual_weight': 1.0}, **FAST)
    del sd['features.10.weight']; sd['features.10.weight'] = p.features[10].weight.clone()
    save_file(sd, str(tmp_path / 'vgg_ok.safetensors'))
    r = run('vqgan', 'smoke', out_dir=tmp_path / 'run', steps=2, overrides={**ov, 'opts.vgg_weights': str(tmp_path / 'vgg_ok.safetensors')}, **FAST)
    assert r.metrics['perceptual'].startswith('vgg_ok.safetensors') and r.history['logs'][-1]['perceptual'] > 0


def test_an_unknown_class_name_is_refused_and_nothing_is_lost(tmp_path):
    vq = tmp_path / 'vq'
    run('vqgan', 'smoke', out_dir=vq, steps=4, **FAST)
    before = _snapshot(vq)
    with pytest.raises(ValueError, match=r"unknown class 'hexagon': the classes of this run are \['square', 'circle', 'triangle', 'cross'\]"):
        run('vgpt', 'smoke', out_dir=tmp_path / 'gpt', overrides={'opts.vqgan_dir': str(vq), 'gif_classes': ['circle', 'hexagon']}, **FAST)
    assert not (tmp_path / 'gpt').exists() and _snapshot(vq) == before
    r = run('vgpt', 'smoke', out_dir=tmp_path / 'gpt', steps=3, overrides={'opts.vqgan_dir': str(vq)}, **FAST)
    from objcentric.zoo_vqgan import load_vgpt
    s = load_vgpt(tmp_path / 'gpt')
    with pytest.raises(ValueError, match="unknown class 'corgi'"): s.sample(['corgi'])
    assert s.sample(['cross', 'square']).shape == (2, 3, 16, 16)


# ---------------------------------------------------------------- the training notebooks (papermill)

pm = pytest.importorskip('papermill')


def _nb(name, tmp, **params):
    out = tmp / 'run'
    pm.execute_notebook(str(NBS / f'train_{name}.ipynb'), str(tmp / f'{name}.ipynb'), kernel_name='python3', cwd=str(NBS), progress_bar=False,
                        parameters={**dict(preset='smoke', out_dir=str(out), device='cpu', num_threads=1), **params})
    return out


@pytest.fixture(scope='module')
def vgpt_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('vgpt')
    return tmp, _nb('vgpt', tmp, overrides=json.dumps({'run.lr': 3e-3}))      # trains a smoke VQ-GAN in run/vqgan first


def test_train_vqgan_smoke_learns_and_writes_its_outputs(tmp_path):
    out = _nb('vqgan', tmp_path, overrides=json.dumps({'num_codes': 24}))
    m = json.loads((out / 'metrics.json').read_text())
    assert m['preset'] == 'smoke' and m['model'] == 'vqgan' and m['steps'] == 30
    for k in ('psnr', 'mse', 'codebook_usage', 'codebook_perplexity', 'tokenizer_params', 'loss_first', 'loss_last', 'wall_s'):
        assert isinstance(m[k], (int, float)) and math.isfinite(m[k]), k
    assert m['loss_last'] < m['loss_first']
    for f in ('run.json', 'checkpoints/last.pt', 'model/config.json', 'model/model.safetensors', 'reconstructions.png', 'history.png', 'code_usage.png'):
        assert (out / f).is_file(), f
    vq = load_pretrained(out); assert vq.cfg.num_codes == 24
    x = _imgs()
    assert torch.equal(vq.reconstruct(x), VQGAN.from_pretrained(out / 'model').reconstruct(x))
    ck = torch.load(out / 'checkpoints' / 'last.pt', weights_only=True)
    assert set(ck['optimizer']) == {'g', 'd'}                     # two optimizers, both saved
    _nb('vqgan', tmp_path, overrides=json.dumps({'num_codes': 24}), steps=33)
    assert json.loads((out / 'metrics.json').read_text())['steps'] == 33 and 'resuming' in (tmp_path / 'vqgan.ipynb').read_text()


def test_train_vgpt_smoke_learns_samples_and_writes_a_gif(vgpt_run):
    tmp, out = vgpt_run
    m = json.loads((out / 'metrics.json').read_text())
    assert m['preset'] == 'smoke' and m['model'] == 'vgpt' and m['steps'] == 30
    assert m['loss_last'] < m['loss_first']
    for k in ('val_nll', 'gen_accuracy', 'gen_accuracy_rejection', 'classifier_accuracy_real', 'classifier_accuracy_recon', 'images_per_s'):
        assert isinstance(m[k], float) and math.isfinite(m[k]), k
    for f in ('samples.png', 'rejection.png', 'history.png', 'model/model.safetensors', 'classifier/model.safetensors', 'vqgan/model/model.safetensors'):
        assert (out / f).stat().st_size > 200, f
    gif = Image.open(out / 'decoding.gif')
    assert gif.n_frames >= 4                                      # one frame per 4 tokens of the 4x4 grid
    from objcentric.zoo_vqgan import load_vgpt
    s = load_vgpt(out)
    assert torch.equal(s.sample(['circle', 'square'], seed=1), s.sample(['circle', 'square'], seed=1))
    assert json.loads((out / 'model' / 'config.json').read_text())['vqgan'] == '../vqgan/model'


def test_train_vgpt_resumes(vgpt_run):
    tmp, out = vgpt_run
    _nb('vgpt', tmp, overrides=json.dumps({'run.lr': 3e-3}), steps=34)
    assert json.loads((out / 'metrics.json').read_text())['steps'] == 34
    assert 'resuming' in (tmp / 'vgpt.ipynb').read_text()


def test_every_gpt_preset_fits_the_token_grid_of_its_tokenizer_preset():
    from objcentric.recipes import get_preset
    for name in ('smoke', 'cpu_demo', 'paper'):
        p = get_preset('vgpt', name); vq = get_preset('vqgan', p.opts.vqgan_preset).model
        cfg = p.model.replace(num_codes=vq.num_codes, grid=tuple(vq.grid), num_classes=4)   # as the pipeline builds it; validates
        assert cfg.seq_len == vq.grid[0] * vq.grid[1] and cfg.max_positions >= 1 + cfg.seq_len, name
    with pytest.raises(ConfigError, match='max_positions'):                                    # a 65-position table (8x8 tokens) on 16x16 tokens
        get_preset('vgpt', 'cpu_demo').model.replace(max_positions=65, grid=(16, 16))


def test_guidance_and_the_reconstruction_judge_in_the_recipe(tmp_path):
    "A smoke GPT trained with class dropout samples with guidance, reports the unguided figure, and its judge also saw reconstructions"
    from objcentric.recipes import run
    from objcentric.zoo_vqgan import VGPTOptions, train_classifier
    from objcentric.core import ConfigError
    vq = run('vqgan', 'smoke', out_dir=tmp_path / 'vq', cache_dir=tmp_path / 'cache', **FAST)
    r = run('vgpt', 'smoke', out_dir=tmp_path / 'gpt', cache_dir=tmp_path / 'cache', **FAST,
            overrides={'opts.vqgan_dir': str(tmp_path / 'vq'), 'class_dropout': 0.5, 'opts.guidance': 2.0, 'opts.classifier_on': 'real+recon'})
    assert r.model.cfg.class_dropout == 0.5 and r.metrics['guidance'] == 2.0
    for k in ('gen_accuracy', 'gen_accuracy_unguided', 'gen_accuracy_rejection'): assert 0 <= r.metrics[k] <= 1, k
    # the judge's training set: the real images, then their reconstructions with the same labels (a round trip that
    # zeroes every image must make the classifier see twice the data, half of it blank)
    seen = {}
    import objcentric.metrics as M
    orig = M.train_feature_net
    def spy(net, x, y, **kw): seen.update(x=x, y=y); return orig(net, x, y, steps=2)
    M.train_feature_net = spy
    try:
        from objcentric.zoo_vqgan import labelled_datasets
        from objcentric.recipes import get_preset
        p = get_preset('vqgan', 'smoke')
        tr, _, names = labelled_datasets(p.run, p.model.image_size, cache_dir=tmp_path / 'cache')
        train_classifier(tr, len(names), steps=2, n=8, reconstruct=torch.zeros_like)
    finally: M.train_feature_net = orig
    assert seen['x'].shape[0] == 16 and seen['x'][8:].abs().sum() == 0 and seen['x'][:8].abs().sum() > 0
    assert torch.equal(seen['y'][:8], seen['y'][8:])
    with pytest.raises(ConfigError, match='classifier_on'): VGPTOptions(classifier_on='recon')
    with pytest.raises(ConfigError, match='guidance'): VGPTOptions(guidance=-1.0)
    with pytest.raises(ConfigError, match='classifier_on'):                                  # a timm judge comes trained
        VGPTOptions(classifier='resnet18', classifier_weights='w.safetensors', classifier_on='real+recon')
