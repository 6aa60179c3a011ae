#!/usr/bin/env python
"""Execute module notebooks in place so the docs pages carry their outputs (figures), honouring the
`tst_flags` of settings.ini exactly as `nbdev_test` does (slow/gpu/notest cells are skipped).

    python .ci/execute_nbs.py nbs/01_data.ipynb nbs/02_metrics.ipynb ...   # then: nbdev_clean
"""
import re, sys
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parents[1]
SKIP = set(get_config(path=ROOT).tst_flags.split())
_DIR = re.compile(r'^\s*#\|\s*([\w-]+:?)\s*(.*)$', re.M)

def _skip(cell):
    if cell.cell_type != 'code' or 'nbdev_export(' in cell.source: return True
    d = dict(_DIR.findall(cell.source))
    return d.get('eval:', '').strip().lower() == 'false' or bool(SKIP & d.keys())

if __name__ == '__main__':
    sys.path.insert(0, str(ROOT))
    for fn in map(Path, sys.argv[1:]):
        nb = read_nb(fn); sh = CaptureShell(fn)
        with working_directory(fn.parent.absolute()): sh.run_all(nb, exc_stop=True, preproc=_skip)
        write_nb(nb, fn); print('executed', fn)
