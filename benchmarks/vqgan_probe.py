"""Probe: how fast the CPU VQ-GAN's encoder and decoder learn, with and without the quantiser, for a fixed wall time.

Trains the `vqgan` `cpu_demo` architecture (changed by `--model` JSON) on the preset's 32 px sprites with L1 only (no
adversarial terms), Adam (0.5, 0.9), and reports held-out PSNR every 200 steps. `--continuous` drops the quantiser:
the decoder reads the encoder's latents directly (a plain autoencoder), the ceiling of the architecture for that
time. Outside the recipe (no run folder); results are appended to benchmarks/results/vqgan_probe.json.

    python benchmarks/vqgan_probe.py cont_f2 --continuous --model '{"ch_mult": [1, 2], "attn_resolutions": []}' --minutes 2
"""
import argparse, dataclasses, json, math, os, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from objcentric.recipes import get_preset, batches
from objcentric.zoo_vqgan import labelled_datasets
from objcentric.vqgan import VQGAN


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('tag'); ap.add_argument('--model', default='{}', help='VQGANConfig fields changed, as JSON')
    ap.add_argument('--minutes', type=float, default=2.5); ap.add_argument('--batch-size', type=int, default=16)
    ap.add_argument('--lr', type=float, default=1e-3); ap.add_argument('--continuous', action='store_true')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks/results/vqgan_probe.json'))
    a = ap.parse_args()
    p = get_preset('vqgan', 'cpu_demo')
    tr, va, _ = labelled_datasets(p.run, p.model.image_size)                 # the preset's data, as its run builds it
    X, V = (next(batches(ds, len(ds), len(ds)))['image'].float() for ds in (tr, va))
    cfg = dataclasses.replace(p.model, disc_start=10 ** 9, **json.loads(a.model))
    torch.manual_seed(0); m = VQGAN(cfg); m.on_step(0)
    opt = torch.optim.Adam(m.param_groups()['gen'], a.lr, betas=(0.5, 0.9))
    def loss(x):
        if a.continuous: xn = x * 2 - 1; return (xn - m.decoder(m.encoder(xn))).abs().mean()
        return m({'image': x})['loss']
    @torch.no_grad()
    def psnr():
        m.eval()
        r = ((m.decoder(m.encoder(V * 2 - 1)) + 1) / 2).clamp(0, 1) if a.continuous else m.reconstruct(V)
        m.train(); return 10 * math.log10(1 / float(((r - V) ** 2).mean()))
    la0, t0, step, curve, g = os.getloadavg(), time.time(), 0, [], torch.Generator().manual_seed(0)
    while time.time() - t0 < a.minutes * 60:
        l = loss(X[torch.randint(0, len(X), (a.batch_size,), generator=g)]); opt.zero_grad(); l.backward(); opt.step(); step += 1
        m.on_step(step)
        if step % 200 == 0: curve.append(dict(step=step, wall_s=round(time.time() - t0, 1), psnr=round(psnr(), 2))); print(a.tag, curve[-1], flush=True)
    res = dict(tag=a.tag, command='python benchmarks/vqgan_probe.py ' + ' '.join(sys.argv[1:]), load_avg_before=[round(v, 2) for v in la0],
               steps=step, wall_s=round(time.time() - t0, 1), final_psnr=round(psnr(), 2), curve=curve)
    print(a.tag, 'FINAL', res['steps'], res['final_psnr'], flush=True)
    out = Path(a.out); allr = json.loads(out.read_text()) if out.is_file() else {}
    allr[a.tag] = res; out.write_text(json.dumps(allr, indent=1))


if __name__ == '__main__': main()
