"""Bad input fails early with a message naming what is wrong, and never damages what is already written: a mistaken run
into an existing run folder, a crafted pickle in an .npy label file, a checkpoint of another model, Ctrl-C mid-run."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
import torch
from objcentric.core import ConfigError, CheckpointError
from objcentric.data import DataError
from objcentric.recipes import run, load_pretrained, RunFolderError

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(progress=False, figures=False)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch): monkeypatch.setenv('OBJCENTRIC_CACHE', str(tmp_path / 'cache'))


@pytest.mark.parametrize('kw, err, text', [
    (dict(lr=-1.0), ConfigError, '`lr` = -1.0'),
    (dict(preset='nope'), ConfigError, "`preset` = 'nope'"),
    (dict(steps=0), ConfigError, '`steps`'),
    (dict(overrides=dict(num_slotz=3)), ConfigError, '`overrides.num_slotz`'),
    (dict(overrides='{"num_slots": 0}'), ConfigError, '`num_slots` = 0'),
    (dict(overrides='num_slots=3'), ConfigError, 'JSON'),
    (dict(device='cuda:7'), ConfigError, '`device`'),
    (dict(data_path='/no/such/dir/*.png'), DataError, '/no/such/dir/*.png'),
    (dict(overrides={'encoder_input': 'tokens', 'tokenizer_steps': 5, 'encoder_distill_steps': 5}), ConfigError, '`encoder_distill_steps` = 5'),
])
def test_bad_settings_fail_early_naming_the_field(tmp_path, kw, err, text):
    with pytest.raises(err) as e: run('svq', **{'preset': 'smoke', **kw}, out_dir=tmp_path / 'run', **FAST)
    assert text in str(e.value)
    assert not (tmp_path / 'run').exists()                                      # nothing written


def _snapshot(d): return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in d.rglob('*') if p.is_file()}


def test_a_mistaken_run_never_touches_an_existing_run(tmp_path):
    out = tmp_path / 'run'
    run('svq', 'smoke', out_dir=out, steps=6, **FAST)
    before = _snapshot(out)
    with pytest.raises(RunFolderError, match="with other settings") as e:       # the old mistake: another preset into a finished run
        run('svq', 'cpu_demo', out_dir=out, **FAST)
    assert 'd_model: 32 -> 64' in str(e.value)
    with pytest.raises(RunFolderError, match="holds a 'svq' run"): run('slate', 'smoke', out_dir=out, **FAST)
    with pytest.raises(RunFolderError, match='pass resume=True'): run('svq', 'smoke', out_dir=out, steps=6, resume=False, **FAST)
    assert _snapshot(out) == before
    assert load_pretrained(out).cfg.image_size == 32                            # the folder still loads


def test_a_checkpoint_of_another_model_names_keys_and_shapes(tmp_path):
    from objcentric.recipes import create_model
    from objcentric.train import load_weights, Trainer, TrainConfig
    from objcentric.core import save_checkpoint
    m = create_model('svq', 'smoke')
    other = create_model('svq', 'smoke', codes_per_block=4)
    save_checkpoint(dict(model=other.state_dict()), tmp_path / 'ck.pt')
    with pytest.raises(CheckpointError) as e: load_weights(m, tmp_path / 'ck.pt')
    msg = str(e.value)
    assert 'ck.pt' in msg and 'mismatched shapes: binder.bottleneck.codebook: (16, 16) in the file, (32, 16) in the model' in msg
    sd = dict(m.state_dict()); sd.pop('token_decoder.head.weight'); sd['extra.weight'] = torch.zeros(1)
    save_checkpoint(dict(model=sd), tmp_path / 'ck2.pt')
    with pytest.raises(CheckpointError, match=r'missing keys: token_decoder\.head\.weight; unexpected keys: extra\.weight'):
        load_weights(m, tmp_path / 'ck2.pt')


def test_a_crafted_npy_label_file_is_refused(tmp_path):
    import h5py
    from objcentric.data import ClevrTexNSIDataset
    with h5py.File(tmp_path / 'images.h5', 'w') as h: h.create_dataset('train', data=np.random.rand(1, 8, 8, 3))
    marker = tmp_path / 'pwned'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    arr = np.empty(1, dtype=object); arr[0] = Evil()
    np.save(tmp_path / 'train_labels.npy', arr, allow_pickle=True)
    with pytest.raises(DataError, match=r'train_labels\.npy: refused'): ClevrTexNSIDataset(tmp_path, 'train')
    assert not marker.exists()                                                  # the payload never ran
    assert 'allow_pickle=True' not in ''.join(p.read_text() for p in (ROOT / 'objcentric').glob('*.py'))


_CTRL_C = """
import sys, torch
from objcentric.recipes import run
torch.set_num_threads(1)
run('svq', 'smoke', out_dir=sys.argv[1], steps=400, overrides=dict(ckpt_every=1000, eval_every=0), progress=False, figures=False)
"""

def test_ctrl_c_mid_run_saves_and_resumes(tmp_path):
    out = tmp_path / 'run'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    p = subprocess.Popen([sys.executable, '-c', _CTRL_C, str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):                                                        # wait until training has started
        time.sleep(0.1)
        if (out / 'run.json').is_file(): break
    time.sleep(2.0)
    p.send_signal(signal.SIGINT)
    so, se = p.communicate(timeout=120)
    assert p.returncode != 0 and 'KeyboardInterrupt' in se, (p.returncode, se[-2000:])
    assert 'interrupted at step' in so
    ck = torch.load(out / 'checkpoints' / 'last.pt', weights_only=True)
    assert 0 < ck['step'] < 400                                                 # saved mid-run, not at the end
    r = run('svq', 'smoke', out_dir=out, steps=ck['step'] + 3, overrides=dict(ckpt_every=1000, eval_every=0), **FAST)
    assert r.metrics['steps'] == ck['step'] + 3 and len(r.history['loss']) == ck['step'] + 3
