"""The training-notebook contract: every `nbs/train_*.ipynb` runs its `smoke` preset through papermill with the same
parameters (incl. `overrides`), learns on a fixed batch, writes the same run folder, and its pretrained folder rebuilds
the model with identical outputs. A second call resumes; ALP sits on the SVQ run it trains first."""
import json, math
from pathlib import Path
import pytest
import torch

pm = pytest.importorskip('papermill')
from objcentric.recipes import load_pretrained, get_recipe

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
COMMON = ('preset', 'model', 'steps', 'wall_s', 'total_wall_s', 'device', 'loss_first', 'loss_last', 'params')
SEG = ('fg_ari', 'mbo', 'ari', 'fg_ari_grid2', 'mbo_grid2', 'fg_ari_grid3', 'mbo_grid3', 'fg_ari_one', 'mbo_one', 'mse',
       'dominant_slot_share', 'slot_ce_gain', 'val_loss')
SLOT_MODELS = dict(slate=dict(num_slots=4), sysbinder=dict(num_slots=3), svq=dict(num_slots=3, codes_per_block=6))


def _run(name, tmp, **params):
    out = tmp / 'run'
    pm.execute_notebook(str(NBS / f'train_{name}.ipynb'), str(tmp / 'out.ipynb'), kernel_name='python3', cwd=str(NBS),
                        progress_bar=False, parameters={**dict(preset='smoke', out_dir=str(out), device='cpu', num_threads=1), **params})
    return out


@pytest.fixture(scope='module', params=sorted(SLOT_MODELS))
def slot_run(request, tmp_path_factory):
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    out = _run(name, tmp, overrides=json.dumps(SLOT_MODELS[name]), **({'explorer': False} if name == 'svq' else {}))
    return name, tmp, out


def test_metrics_and_learning(slot_run):
    name, tmp, out = slot_run
    m = json.loads((out / 'metrics.json').read_text())
    missing = [k for k in COMMON + SEG if k not in m]
    assert not missing, f'{name}: metrics.json lacks {missing}'
    assert m['preset'] == 'smoke' and m['model'] == name and m['steps'] == 30 and m['device'] == 'cpu'
    assert m['loss_last'] < m['loss_first'], (m['loss_first'], m['loss_last'])
    assert 0 <= m['mbo'] <= 1 and 0 <= m['fg_ari_grid2'] <= 1 and 0 <= m['fg_ari_one'] <= 1
    if name == 'svq': assert {'codebook_perplexity', 'dead_code_fraction'} <= set(m)
    assert 'held-out' in (tmp / 'out.ipynb').read_text()                       # the printed summary shows the baselines


def test_overrides_reach_the_model(slot_run):
    name, tmp, out = slot_run
    cfg = json.loads((out / 'run.json').read_text())['model_config']
    for k, v in SLOT_MODELS[name].items(): assert cfg[k] == v, (k, cfg[k], v)
    assert load_pretrained(out).cfg.num_slots == SLOT_MODELS[name]['num_slots']


def test_outputs_and_pretrained_round_trip(slot_run):
    name, tmp, out = slot_run
    for f in ('run.json', 'metrics.json', 'checkpoints/last.pt', 'model/config.json', 'model/model.safetensors',
              'reconstructions.png', 'history.png'):
        assert (out / f).is_file(), f'{name}: {f} missing'
    assert any((out / 'tb').iterdir())
    model = load_pretrained(out)
    again = get_recipe(name).model_cls.from_pretrained(out / 'model')
    x = torch.rand(2, 3, model.cfg.image_size, model.cfg.image_size)
    g = lambda: torch.Generator().manual_seed(0)
    a, b = model.encode(x, g()), again.encode(x, g())
    assert torch.equal(a.slots, b.slots) and torch.equal(a.masks, b.masks)
    assert torch.equal(model.decode(a.slots), again.decode(b.slots))


def test_a_second_run_resumes(slot_run):
    name, tmp, out = slot_run
    _run(name, tmp, overrides=json.dumps(SLOT_MODELS[name]), steps=34, **({'explorer': False} if name == 'svq' else {}))
    m = json.loads((out / 'metrics.json').read_text())
    assert m['steps'] == 34
    assert 'resuming' in (tmp / 'out.ipynb').read_text()


def test_bad_preset_names_the_field(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match='preset'):
        _run('svq', tmp_path, preset='no_such_preset')
    assert not (tmp_path / 'run').exists()


def test_train_alp_smoke(tmp_path):
    out = _run('alp', tmp_path)
    m = json.loads((out / 'metrics.json').read_text())
    assert m['preset'] == 'smoke' and m['model'] == 'alp' and m['steps'] == 30
    assert m['loss_last'] < m['loss_first'], (m['loss_first'], m['loss_last'])
    for k in ('val_nll', 'fid', 'images_per_s', 'val_nll_dvae', 'fid_dvae', 'images_per_s_dvae'):
        assert isinstance(m[k], float) and math.isfinite(m[k]), k
    assert m['oob_sample_fraction'] == 0.0                                       # the block-masked prior never leaves a block
    for f in ('samples.png', 'samples_dvae.png', 'history.png', 'decoding.gif', 'model/config.json', 'dvae_prior/model/model.safetensors',
              'svq/model/model.safetensors'):
        assert (out / f).stat().st_size > 200, f
    from objcentric.zoo_slots import load_alp
    for kind in ('svq', 'dvae'):
        gen = load_alp(out, kind)
        assert torch.equal(gen.generate(2, seed=0), gen.generate(2, seed=0))
    assert json.loads((out / 'model' / 'config.json').read_text())['svq'] == '../svq/model'   # the SVQ, relative to the prior
