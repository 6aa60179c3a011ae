"""Exact resume of `objcentric.train`: a run killed after a checkpoint (SIGKILL, or an exception) and resumed ends
with bit-identical parameters to an uninterrupted run on CPU; a half-written checkpoint never replaces the last
good one; bad configs fail before any work, naming the field.

Run as a script (`python tests/test_resume.py OUT_DIR KILL_AT`) it trains the reference run and kills itself with
SIGKILL at the start of step KILL_AT; the tests use that to simulate a crash."""
import os, random, signal, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
from objcentric.core import CheckpointError, ConfigError, load_checkpoint, pick_preset
from objcentric.train import (ParamGroup, PlateauHalver, TrainConfig, Trainer, compose, cosine_decay, half_life,
                              linear_warmup)

STEPS, CKPT_EVERY = 24, 8


class NoisyData(torch.utils.data.Dataset):
    "Regression pairs; every access adds noise from torch, NumPy and Python generators of the main process."
    def __init__(self, n=48):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 6, generator=g); self.y = torch.tanh(self.x @ torch.randn(6, 3, generator=g))
    def __len__(self): return len(self.x)
    def __getitem__(self, i):
        noise = 0.01 * torch.randn(6) + 0.01 * float(np.random.randn()) + 0.01 * random.random()
        return dict(x=self.x[i] + noise, y=self.y[i])


class Net(nn.Module):
    "MLP with dropout and an annealed temperature; can kill its own process or raise at a chosen step."
    def __init__(self, kill_at=None, raise_at=None):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 32), nn.ReLU())
        self.dec = nn.Linear(32, 3)
        self.kill_at, self.raise_at, self.tau = kill_at, raise_at, 1.0
    def on_step(self, step):
        self.tau = max(0.1, 1 - step / 20)
        if step == self.kill_at: os.kill(os.getpid(), signal.SIGKILL)
        if step == self.raise_at: raise RuntimeError(f'simulated crash at step {step}')
    def forward(self, b):
        pred = self.dec(self.enc(b['x'])) / self.tau
        return dict(loss=((pred - b['y']) ** 2).mean(), tau=self.tau)


def make_trainer(out_dir, kill_at=None, raise_at=None, **kw):
    "The run every test compares: two groups, composed schedules, a plateau halver, inf-norm clipping, accumulation."
    torch.set_num_threads(1)
    torch.manual_seed(123)
    model = Net(kill_at, raise_at)
    cfg = TrainConfig(steps=STEPS, batch_size=8, lr=3e-3, seed=7, out_dir=str(out_dir), device='cpu', eval_every=4,
                      ckpt_every=CKPT_EVERY, log_every=2, clip_norm=0.5, clip_norm_type='inf', grad_accum=2,
                      deterministic=True, progress=False).replace(**kw)
    halve = PlateauHalver(patience=0, key='val')
    groups = [ParamGroup('enc', model.enc, 3e-3, compose(linear_warmup(6), half_life(50), halve)),
              ParamGroup('dec', model.dec, 1e-2, compose(cosine_decay(STEPS, 0.1), halve))]
    ds = NoisyData()
    xv, yv = ds.x[:8], ds.y[:8]
    def eval_fn(m):
        torch.rand(3); np.random.rand(); random.random()     # evaluation may draw random numbers freely
        return dict(val=((m.dec(m.enc(xv)) - yv) ** 2).mean())
    return model, Trainer(model, cfg, ds, groups, eval_fn=eval_fn)


def assert_same_state(ta, tb):
    "Parameters, buffers and optimiser moments equal bit for bit; same loss curve and schedule state."
    for (k, a), (k2, b) in zip(ta.model.state_dict().items(), tb.model.state_dict().items()):
        assert k == k2 and torch.equal(a, b), f'{k} differs (max abs diff {(a - b).abs().max().item()})'
    sa, sb = ta.opt.state_dict()['state'], tb.opt.state_dict()['state']
    for i in sa:
        for k in sa[i]: assert torch.equal(sa[i][k], sb[i][k]), f'optimizer state {i}.{k} differs'
    assert ta.history['loss'] == tb.history['loss']
    assert [h.state_dict() for h in ta.halvers] == [h.state_dict() for h in tb.halvers]
    assert ta.step == tb.step == STEPS


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    "The uninterrupted run."
    _, tr = make_trainer(tmp_path_factory.mktemp('ref') / 'run')
    tr.fit()
    return tr


def _killed_run(out_dir, kill_at):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, __file__, str(out_dir), str(kill_at)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, f'expected the run to be killed, got rc={r.returncode}\n{r.stderr[-3000:]}'


def test_sigkill_and_resume_is_bit_exact(reference, tmp_path):
    out = tmp_path / 'run'
    _killed_run(out, kill_at=13)                      # killed during step 13: the last checkpoint is step 8
    assert load_checkpoint(out / 'checkpoints' / 'last.pt')['step'] == 8
    assert not (out / 'metrics.json').exists()
    _, tr = make_trainer(out)                         # a new process would do exactly this
    assert tr.resumed_from == 8
    tr.fit()
    assert_same_state(reference, tr)


def test_exception_and_resume_is_bit_exact(reference, tmp_path):
    out = tmp_path / 'run'
    _, tr = make_trainer(out, raise_at=10)
    with pytest.raises(RuntimeError, match='simulated crash at step 10'): tr.fit()
    _, tr = make_trainer(out, raise_at=19)           # resumes at 8, crashes again during step 19
    assert tr.resumed_from == 8
    with pytest.raises(RuntimeError, match='simulated crash at step 19'): tr.fit()
    _, tr = make_trainer(out)                         # resumes at 16 and finishes
    assert tr.resumed_from == 16
    tr.fit()
    assert_same_state(reference, tr)


def test_resume_false_starts_afresh(reference, tmp_path):
    out = tmp_path / 'run'
    _, tr = make_trainer(out, raise_at=10)
    with pytest.raises(RuntimeError): tr.fit()
    _, tr2 = make_trainer(out, resume=False)
    assert tr2.step == 0 and tr2.resumed_from is None
    tr2.fit()
    assert_same_state(reference, tr2)


def test_partial_checkpoint_never_replaces_last_good(tmp_path, monkeypatch):
    out = tmp_path / 'run'
    _, tr = make_trainer(out)
    tr.fit(8)
    ck = out / 'checkpoints' / 'last.pt'
    good = ck.read_bytes()
    # 1. the write fails half-way (disk full, or an error while serialising)
    real_save = torch.save
    def broken_save(obj, f, *a, **k):
        f.write(b'half a checkpoint'); raise OSError('No space left on device')
    monkeypatch.setattr(torch, 'save', broken_save)
    tr.step = 9
    with pytest.raises(OSError, match='No space left'): tr.save()
    monkeypatch.setattr(torch, 'save', real_save)
    assert ck.read_bytes() == good
    assert sorted(p.name for p in ck.parent.iterdir()) == ['last.pt']        # no temp file left behind
    # 2. a process killed while writing leaves a temp file: it is ignored, last.pt is used
    (ck.parent / '.last.pt.abc123.tmp').write_bytes(good[:len(good) // 2])
    _, tr2 = make_trainer(out)
    assert tr2.resumed_from == 8
    # 3. a corrupt last.pt is reported, naming the file (never silently restarted)
    ck.write_bytes(good[:len(good) // 2])
    with pytest.raises(CheckpointError, match='last.pt'): make_trainer(out)


def test_bad_config_fails_before_any_work(tmp_path):
    out = tmp_path / 'never'
    with pytest.raises(ConfigError, match='`lr`'): TrainConfig(lr=-1e-3, out_dir=str(out))
    with pytest.raises(ConfigError, match='`clip_norm_type`'): TrainConfig(clip_norm_type=-2.0, out_dir=str(out))
    with pytest.raises(ConfigError, match='`preset`'): pick_preset(dict(smoke=TrainConfig()), 'smok')
    with pytest.raises(ConfigError, match='`batch_size`'):     # more samples per step than the dataset holds
        Trainer(Net(), TrainConfig(batch_size=64, out_dir=str(out)), NoisyData(48))
    with pytest.raises(ConfigError, match=r"`groups\['enc'\].lr`"): ParamGroup('enc', Net().enc, lr=0.0)
    assert not out.exists()


if __name__ == '__main__':
    out_dir, kill_at = sys.argv[1], int(sys.argv[2])
    make_trainer(out_dir, kill_at=kill_at)[1].fit()
