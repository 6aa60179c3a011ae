"""SVQ's EMA codebook statistics under 2-process Gloo DDP equal the single-process result on the same global batch.

The reference NLoTM code updated its EMA codebook inside the forward pass of DataParallel replicas, where the
updates are lost; here the block quantiser (`block_vq`) all-reduces counts and sums (and gathers revival candidates, broadcasting the
revived codebook from rank 0), so a DDP step sees exactly the global batch. Run under torchrun
(`python -m torch.distributed.run --standalone --nproc_per_node 2 tests/test_svq_ddp.py OUT`) this file is the worker."""
import os, subprocess, sys
from pathlib import Path
import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
from objcentric.svq import SVQ, SVQConfig

svq_tiny = SVQConfig(image_size=32, vocab_size=32, dvae_hidden=16, cnn_hidden=16, cnn_layers=2, cnn_kernel=3, cnn_downsample=4,
                     d_model=32, num_slots=3, slot_size=32, num_blocks=4, mlp_hidden=16, codes_per_block=8,
                     dec_layers=1, dec_heads=2, tau_steps=100)

B = 8            # global batch
STEPS = 2        # optimiser steps (each runs 3 EMA updates, one per binding iteration)


class BindLoss(nn.Module):
    "Runs the SVQ encoder + block-slot attention (where the EMA updates happen) and returns a scalar (slot_mu/log_sigma stay unused: slots_init is given)"
    def __init__(self, m): super().__init__(); self.encoder, self.binder, self.beta = m.encoder, m.binder, m.cfg.beta
    def forward(self, x, s0):
        slots, attn, aux = self.binder(self.encoder(x), s0)
        return slots.pow(2).mean() + aux.loss


def setup():
    "The model and the global batch, identical in every process"
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = SVQ(svq_tiny).train()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(STEPS, B, 3, 32, 32, generator=g)
    s0 = torch.randn(STEPS, B, svq_tiny.num_slots, svq_tiny.slot_size, generator=g)
    return model, x, s0


def run(model, x, s0, wrap=lambda m: m, lo=0, hi=B):
    "STEPS SGD steps on rows lo:hi of each global batch, with the same RNG stream for the revival noise everywhere"
    net = wrap(BindLoss(model))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for t in range(STEPS):
        torch.manual_seed(100 + t)
        loss = net(x[t, lo:hi], s0[t, lo:hi])
        opt.zero_grad(); loss.backward(); opt.step()
    vq = model.vq
    return dict(ema_counts=vq.ema_counts.clone(), ema_sums=vq.ema_sums.clone(), codebook=vq.codebook.clone())


def worker(out):
    import torch.distributed as dist
    dist.init_process_group('gloo')
    r, w = dist.get_rank(), dist.get_world_size()
    model, x, s0 = setup()
    n = B // w
    st = run(model, x, s0, lambda m: nn.parallel.DistributedDataParallel(m, find_unused_parameters=True), r * n, (r + 1) * n)
    torch.save(st, Path(out) / f'rank{r}.pt')
    dist.barrier(); dist.destroy_process_group()


@pytest.fixture(scope='module')
def ddp_stats(tmp_path_factory):
    out = tmp_path_factory.mktemp('svq_ddp')
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    for k in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): env.pop(k, None)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', __file__, str(out)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f'torchrun failed (rc={r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}'
    return [torch.load(out / f'rank{i}.pt', weights_only=True) for i in range(2)]


def test_ranks_agree(ddp_stats):
    a, b = ddp_stats
    for k in a: assert torch.equal(a[k], b[k]), f'ranks disagree on {k}'


def test_ddp_equals_single_process(ddp_stats):
    model, x, s0 = setup()
    single = run(model, x, s0)
    assert single['ema_counts'].sum() > 0
    for k, v in ddp_stats[0].items():
        torch.testing.assert_close(v, single[k], rtol=1e-5, atol=1e-5, msg=f'DDP and single process differ on {k}')


def test_local_statistics_would_differ(ddp_stats):
    "Sanity check that the test can fail: EMA statistics of half the batch alone are not the global ones"
    model, x, s0 = setup()
    half = run(model, x, s0, lo=0, hi=B // 2)
    assert not torch.allclose(half['ema_counts'], ddp_stats[0]['ema_counts'])


if __name__ == '__main__': worker(sys.argv[1])
