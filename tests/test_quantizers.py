"EMA codebook statistics under 2-process DDP (gloo, CPU) equal the single-process result on the same global batch."
import os
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from objcentric.quantizers import block_vq, VectorQuantizer, EMAUpdate, Revival

STEPS, ROWS, SEED = 4, 8, 0   # ROWS per rank; the global batch is 2*ROWS rows


def _batches():
    "The global batches of every step, identical in every process"
    g = torch.Generator().manual_seed(123)
    return [dict(block=torch.randn(2 * ROWS, 3, 2 * 4, generator=g),   # [B, N slots, M*d] with M=2, d=4
                 vec=torch.randn(2 * ROWS * 3, 5, generator=g) + 2)
            for _ in range(STEPS)]


def _models():
    "Both quantisers, with revival (and k-means init) on, built from the same seed in every process"
    torch.manual_seed(SEED)
    bvq = block_vq(num_blocks=2, block_size=4, codes_per_block=16, decay=0.9)   # 16 codes > rows: repeats + revival
    vq = VectorQuantizer(5, 12, update=EMAUpdate(0.9), init='kmeans', revival=Revival(2.0, decay=0.9))
    return bvq, vq


def _run(bvq, vq, batches, sl):
    "Train-mode forwards on the slice `sl` of every global batch (no other RNG use in between)"
    for b in batches:
        bvq(b['block'][sl]); vq(b['vec'][sl.start * 3:sl.stop * 3] if sl.stop is not None else b['vec'])
    sd = {f'bvq.{k}': v for k, v in bvq.state_dict().items()}
    sd.update({f'vq.{k}': v for k, v in vq.state_dict().items()})
    return sd


def _worker(rank, world, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world)
    try:
        bvq, vq = _models()
        sd = _run(bvq, vq, _batches(), slice(rank * ROWS, (rank + 1) * ROWS))
        torch.save(sd, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_ddp_ema_statistics_match_single_process(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / 'pg_init'), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    r1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    bvq, vq = _models()
    ref = _run(bvq, vq, _batches(), slice(0, None))
    assert set(r0) == set(ref)
    for k in ref:
        assert torch.equal(r0[k], r1[k]), f'{k}: the two DDP replicas differ'
        assert torch.allclose(r0[k].float(), ref[k].float(), rtol=1e-4, atol=1e-5), f'{k}: DDP differs from single process'
    # the statistics really changed and revival really happened during the run
    assert (ref['bvq.ema_counts'] > 0).any() and (ref['vq.ema_counts'] != 1).any()
    assert int(ref['vq.initted']) == 1


def test_block_vq_eval_mode_does_not_update():
    bvq, _ = _models()
    bvq.eval()
    before = {k: v.clone() for k, v in bvq.state_dict().items()}
    bvq(torch.randn(4, 3, 8))
    for k, v in bvq.state_dict().items(): assert torch.equal(v, before[k]), k
