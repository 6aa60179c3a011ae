"Smoke run of `nbs/train_slate.ipynb` through papermill: tiny preset, the loss falls on a fixed batch, outputs exist, bad input fails early."
import json
from pathlib import Path
import pytest

pm = pytest.importorskip('papermill')
ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'

def _run(tmp_path, **params):
    return pm.execute_notebook(str(NBS/'train_slate.ipynb'), str(tmp_path/'out.ipynb'), kernel_name='python3',
                               parameters=dict(out_dir=str(tmp_path/'run'), device='cpu', num_threads=1, **params),
                               cwd=str(NBS), progress_bar=False)

def test_train_slate_smoke(tmp_path):
    _run(tmp_path, preset='smoke', steps=40)
    run = tmp_path/'run'
    m = json.loads((run/'metrics.json').read_text())
    assert m['preset'] == 'smoke' and m['steps'] == 40 and m['device'] == 'cpu'
    assert m['loss_last'] < m['loss_first'], (m['loss_first'], m['loss_last'])     # fixed batch, fixed Gumbel noise
    for k in ('fg_ari', 'mbo', 'mse', 'wall_s'): assert isinstance(m[k], float), k
    assert 0.0 <= m['mbo'] <= 1.0 and m['mse'] >= 0.0
    assert (run/'checkpoints'/'last.pt').is_file()
    assert any((run/'tb').iterdir())
    for f in ('history.png', 'slot_masks.png', 'attention_iters.png'): assert (run/f).stat().st_size > 1000, f

def test_train_slate_bad_preset_names_the_field(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match='preset'):
        _run(tmp_path, preset='no_such_preset')
