"""Randomised sweeps of the segmentation metrics against scikit-learn and brute force (many shapes,
resolutions, input forms and chunk boundaries), beyond the worked cases in nbs/02_metrics.ipynb."""
import numpy as np
import pytest, torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score
from objcentric.metrics import ari, fg_ari, mbo, segmentation_metrics, codebook_stats, retrieval_recall

def _brute_mbo(t, p):
    bos = []
    for o in range(1, int(t.max()) + 1):
        G = t == o
        if G.sum() == 0: continue
        bos.append(max((G & (p == k)).sum() / (G | (p == k)).sum() for k in range(int(p.max()) + 1)))
    return np.mean(bos) if bos else np.nan

@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('H,h,O,S', [(16, 16, 3, 4), (24, 6, 5, 7), (32, 8, 1, 2), (20, 5, 6, 3)])
def test_random_segmentations_match_references(seed, H, h, O, S):
    g = torch.Generator().manual_seed(seed)
    B = 7
    lab = torch.randint(0, O + 1, (B, H, H), generator=g)
    lab[0] = 0                                                      # no foreground
    lab[1] = torch.randint(0, 2, (H, H), generator=g) * O           # one object
    masks = F.one_hot(lab, O + 1).permute(0, 3, 1, 2).bool()
    soft = torch.rand(B, S, h, h, generator=g)
    hard = F.interpolate(soft, size=(H, H), mode='bilinear', align_corners=False).argmax(1)
    for chunk in (3, 256):                                          # chunk boundaries do not matter
        a, fa, m = ari(masks, soft, chunk_size=chunk), fg_ari(lab, soft, chunk_size=chunk), mbo(masks, soft, chunk_size=chunk)
        for b in range(B):
            t, p = lab[b].flatten().numpy(), hard[b].flatten().numpy()
            assert abs(a[b].item() - adjusted_rand_score(t, p)) < 1e-9
            ref = adjusted_rand_score(t[t > 0], p[t > 0]) if (t > 0).any() else 1.0
            assert abs(fa[b].item() - ref) < 1e-9
            bm = _brute_mbo(lab[b].numpy(), hard[b].numpy())
            assert (np.isnan(bm) and np.isnan(m[b].item())) or abs(m[b].item() - bm) < 1e-9

def test_int_label_predictions_and_patch_masks():
    g = torch.Generator().manual_seed(0)
    lab = torch.randint(0, 4, (5, 16, 16), generator=g)
    patches = torch.rand(5, 6, 16, generator=g)                      # [B,S,N] with N = 4x4
    as_img = patches.reshape(5, 6, 4, 4)
    assert torch.equal(fg_ari(lab, patches), fg_ari(lab, as_img))
    pl = torch.randint(0, 6, (5, 8, 8), generator=g)                 # int labels, nearest-upsampled
    up = pl.repeat_interleave(2, 1).repeat_interleave(2, 2)
    assert torch.allclose(ari(lab, pl), ari(lab, up))

def test_perfect_and_permuted_predictions_score_one():
    lab = torch.randint(0, 5, (4, 32, 32))
    pred = F.one_hot(lab, 5).permute(0, 3, 1, 2).float()[:, torch.randperm(5)]
    r = segmentation_metrics(lab, pred)
    assert r == pytest.approx(dict(fg_ari=1.0, ari=1.0, mbo=1.0))

def test_codebook_perplexity_matches_entropy():
    idx = torch.randint(0, 50, (10000,))
    p = torch.bincount(idx, minlength=64).double() / 10000
    H = -(p[p > 0] * p[p > 0].log()).sum()
    s = codebook_stats(idx, 64)
    assert s['codebook_perplexity'] == pytest.approx(float(H.exp()))
    assert s['dead_code_fraction'] == pytest.approx(14 / 64)

def test_retrieval_recall_against_sorting():
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(50, 50, generator=g) + torch.eye(50)
    r = retrieval_recall(sim, ks=(1, 5))
    order = sim.argsort(1, descending=True)
    pos = (order == torch.arange(50)[:, None]).float().argmax(1)    # rank of the true schema (no ties)
    assert r['i2s_recall_at_1'] == pytest.approx(float((pos < 1).float().mean()))
    assert r['i2s_recall_at_5'] == pytest.approx(float((pos < 5).float().mean()))
    order = sim.T.argsort(1, descending=True)
    pos = (order == torch.arange(50)[:, None]).float().argmax(1)
    assert r['s2i_recall_at_5'] == pytest.approx(float((pos < 5).float().mean()))
