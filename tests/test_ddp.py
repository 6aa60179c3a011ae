"""DistributedDataParallel through torchrun, on CPU with the Gloo backend and 2 processes: both ranks end with
identical parameters equal to a single-process run on the same global batches, only rank 0 writes the run
folder, and a 2-process run stopped and resumed is bit-exact.

Run under torchrun (`python -m torch.distributed.run --standalone --nproc_per_node 2 tests/test_ddp.py OUT`) this
file is the worker."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
from objcentric.train import ParamGroup, PlateauHalver, TrainConfig, Trainer, cleanup_distributed, compose, linear_warmup

STEPS = 6


class Net(nn.Module):
    "Tiny MLP regressor in the engine's dict format (optionally with dropout, which makes per-rank RNG matter)."
    def __init__(self, p=0.0):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(p), nn.Linear(16, 2))
    def forward(self, b):
        x, y = b
        return dict(loss=((self.body(x) - y) ** 2).mean())


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g)
    return torch.utils.data.TensorDataset(x, torch.sin(x[:, :2]))


def train(out_dir, steps=STEPS, stop=None, p=0.0):
    "Train (resuming when possible) until `stop` (default `steps`); return the trainer."
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Net(p)
    cfg = TrainConfig(steps=steps, batch_size=16, lr=0.05, seed=3, out_dir=str(out_dir), device='cpu', grad_accum=2,
                      eval_every=2, ckpt_every=2, log_every=1, clip_norm=1.0, deterministic=True, progress=False)
    halve = PlateauHalver(patience=0, key='val')
    groups = [ParamGroup('all', model, 0.05, compose(linear_warmup(3), halve))]
    ds = data()
    ev = lambda m: dict(val=((m.body(ds.tensors[0][:16]) - ds.tensors[1][:16]) ** 2).mean())
    tr = Trainer(model, cfg, ds, groups, eval_fn=ev)
    tr.fit(stop)
    return tr




@pytest.fixture(scope='module')
def ddp_runs(tmp_path_factory):
    """One torchrun job (2 processes, Gloo) doing three runs: `plain` (no dropout, for the single-process
    comparison), `full` (dropout) and `resumed` (dropout, stopped at step 3, then rebuilt from its checkpoint with
    a new model and trainer and finished)."""
    out = tmp_path_factory.mktemp('ddp')
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    for k in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): env.pop(k, None)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', __file__, str(out)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f'torchrun failed (rc={r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}'
    return out


def params(out, name):
    return [torch.load(out / name / f'rank{i}.pt', weights_only=True) for i in range(2)]


def test_ddp_two_processes_equal_single_process(ddp_runs, tmp_path):
    p0, p1 = params(ddp_runs, 'plain')
    for k in p0: assert torch.equal(p0[k], p1[k]), f'ranks disagree on {k}'
    single = train(tmp_path / 'single').model.state_dict()
    for k in p0:
        torch.testing.assert_close(p0[k], single[k], rtol=1e-5, atol=1e-6, msg=f'DDP and single process differ on {k}')
    # only rank 0 wrote the run folder (rank files aside); metrics know the world size
    m = json.loads((ddp_runs / 'plain' / 'metrics.json').read_text())
    assert m['world_size'] == 2 and m['steps'] == STEPS
    assert (ddp_runs / 'plain' / 'checkpoints' / 'last.pt').is_file()
    assert len(list((ddp_runs / 'plain' / 'tb').glob('events.*'))) == 1


def test_ddp_stop_and_resume_is_bit_exact(ddp_runs):
    full, resumed = params(ddp_runs, 'full'), params(ddp_runs, 'resumed')
    for r in range(2):
        for k in full[r]: assert torch.equal(full[r][k], resumed[r][k]), f'rank {r}: {k} differs after resume'
    assert not torch.equal(full[0]['body.0.weight'], params(ddp_runs, 'plain')[0]['body.0.weight'])  # dropout mattered


def _worker(out):
    "Body of each torchrun process."
    out = Path(out)
    def finish(tr, name):
        assert tr.world_size == 2, tr.world_size
        tr.write_metrics(preset='ddp_test')
        torch.save(tr.model.state_dict(), out / name / f'rank{tr.rank}.pt')
    finish(train(out / 'plain'), 'plain')
    finish(train(out / 'full', p=0.3), 'full')
    tr = train(out / 'resumed', stop=3, p=0.3)
    assert tr.step == 3
    tr = train(out / 'resumed', p=0.3)            # new model and trainer: resumes from the step-3 checkpoint
    assert tr.resumed_from == 3
    finish(tr, 'resumed')
    cleanup_distributed()


if __name__ == '__main__':
    _worker(sys.argv[1])
