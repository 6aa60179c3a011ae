"""Smoke tests of the SVQ training notebook (papermill, preset 'smoke') and of resuming a run."""
import json, os
from pathlib import Path
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / 'nbs' / 'train_svq.ipynb'
KEYS = ('preset', 'steps', 'wall_s', 'device', 'loss_first', 'loss_last', 'mse', 'fg_ari', 'mbo', 'codebook_perplexity',
        'dead_code_fraction', 'dci_d', 'dci_c', 'dci_i')


@pytest.fixture(scope='module')
def smoke_run(tmp_path_factory):
    "Execute nbs/train_svq.ipynb with the smoke preset once for the tests of this module"
    pm = pytest.importorskip('papermill')
    out = tmp_path_factory.mktemp('svq_smoke')
    pm.execute_notebook(str(NB), str(out / 'train_svq.ipynb'), kernel_name='python3', cwd=str(ROOT), progress_bar=False,
                        parameters=dict(preset='smoke', out_dir=str(out / 'run'), explorer=False))
    return out


def test_metrics_and_learning(smoke_run):
    m = json.loads((smoke_run / 'run' / 'metrics.json').read_text())
    missing = [k for k in KEYS if k not in m]
    assert not missing, f'metrics.json lacks {missing}'
    assert m['preset'] == 'smoke' and m['steps'] == 30
    assert m['loss_last'] < m['loss_first'], (m['loss_first'], m['loss_last'])


def test_outputs_exist(smoke_run):
    run = smoke_run / 'run'
    for f in ('checkpoints/last.pt', 'svq_config.json', 'indices_train.pt', 'indices_val.pt',
              'reconstructions.png', 'code_usage.png', 'block_swap.png', 'history.png'):
        assert (run / f).is_file(), f'{f} missing in {run}'
    assert any((run / 'tb').iterdir()), 'no TensorBoard logs'
    cfg = json.loads((run / 'svq_config.json').read_text())['model']
    N, M, K = cfg['num_slots'], cfg['num_blocks'], cfg['codes_per_block']
    for split, n in (('train', 64), ('val', 16)):
        idx = torch.load(run / f'indices_{split}.pt', weights_only=True)
        assert idx.shape == (n, N, M) and not idx.dtype.is_floating_point
        assert ((idx.long() // K) == torch.arange(M)).all(), 'a code index lies outside its block range'
    text = (smoke_run / 'train_svq.ipynb').read_text()
    assert 'outputs in' in text, 'the notebook did not print where its outputs are'


def test_resume(smoke_run, capsys):
    "A second run with the same out_dir continues from the checkpoint instead of starting over"
    from objcentric.svq import train_svq
    run = train_svq('smoke', out_dir=smoke_run / 'run', steps=34, figures=False, progress=False)
    assert 'resuming' in capsys.readouterr().out
    assert run.metrics['steps'] == 34 and len(run.history['loss']) == 34


def test_bad_preset_names_the_field(tmp_path):
    from objcentric.core import ConfigError
    from objcentric.svq import train_svq
    with pytest.raises(ConfigError, match='preset'): train_svq('clevr', out_dir=tmp_path)
    with pytest.raises(ConfigError, match='lr'): train_svq('smoke', out_dir=tmp_path, lr=-1.0)
