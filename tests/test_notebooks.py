"Run every module notebook through nbdev's own test runner, each in a fresh process, with the flags of settings.ini."
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
MODULE_NBS = sorted(p.name for p in NBS.glob('[0-9]*.ipynb')) + ['index.ipynb']   # index: the quick start must run

_RUNNER = """
import sys
from pathlib import Path
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb
ok, secs = run_nb(Path(sys.argv[1]), skip_flags=get_config(path=sys.argv[2]).tst_flags.split(), basepath=sys.argv[2])
print(f'{sys.argv[1]}: {secs:.1f}s'); sys.exit(0 if ok else 1)
"""

def test_module_notebooks_found():
    assert '00_core.ipynb' in MODULE_NBS, f'no module notebooks under {NBS}'

@pytest.mark.parametrize('name', MODULE_NBS)
def test_module_notebook(name):
    r = subprocess.run([sys.executable, '-c', _RUNNER, str(NBS/name), str(ROOT)], capture_output=True, text=True, cwd=NBS)
    assert r.returncode == 0, f'{name} failed under nbdev\'s runner:\n{r.stderr[-6000:]}'
