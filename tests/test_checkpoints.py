"Checkpoint io under crashes and hostile files: the last good file survives a SIGKILL mid-write; pickled code is refused."
import os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from objcentric.core import save_checkpoint, load_checkpoint, CheckpointError

WRITER = """
import sys, torch
from objcentric.core import save_checkpoint
path = sys.argv[1]
i = 0
print('ready', flush=True)
while True:
    i += 1
    save_checkpoint(dict(step=i, w=torch.full((4_000_000,), float(i))), path)
"""

def test_sigkill_mid_write_leaves_a_valid_checkpoint(tmp_path):
    path = tmp_path/'last.pt'
    save_checkpoint(dict(step=0, w=torch.zeros(4_000_000)), path)
    for delay in (0.05, 0.2, 0.45, 0.7):
        p = subprocess.Popen([sys.executable, '-c', WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == 'ready'
        time.sleep(delay); p.send_signal(signal.SIGKILL); p.wait()
        ck = load_checkpoint(path)                      # never a half file
        assert ck['w'].shape == (4_000_000,) and bool((ck['w'] == ck['step']).all())
    # temporary files of killed writers may remain, but never under the checkpoint's name
    assert all(f.name == 'last.pt' or f.name.endswith('.tmp') for f in tmp_path.iterdir())

def _evil(): return 'pwned'

def test_pickled_callable_is_refused_naming_the_file(tmp_path):
    bad = tmp_path/'model_with_code.pt'
    torch.save(dict(state=torch.ones(2), hook=_evil), bad)
    with pytest.raises(CheckpointError, match='model_with_code.pt'): load_checkpoint(bad)

def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match='nothere.pt'): load_checkpoint(tmp_path/'nothere.pt')
    (tmp_path/'junk.pt').write_bytes(b'not a checkpoint at all')
    with pytest.raises(CheckpointError, match='junk.pt'): load_checkpoint(tmp_path/'junk.pt')
