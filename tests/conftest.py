"Shared pytest fixtures for objcentric."
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
os.environ.setdefault('MPLBACKEND', 'Agg')
# pytest -n 2 already fills both cores: one math thread per process avoids oversubscription, which
# made small torch ops 10-30x slower on a loaded 2-core machine.
os.environ.setdefault('OMP_NUM_THREADS', '1')

@pytest.fixture
def root(): return ROOT

@pytest.fixture
def nbs(): return NBS

# Two papermill kernels started at the same moment (pytest -n 2) can race for the same ZMQ port, and the
# loser dies before replying ("Kernel died before replying to kernel_info"). Nothing has run in that case,
# so starting the notebook again is safe; any other error propagates unchanged.
import papermill as _pm
_execute_notebook = _pm.execute_notebook
def _execute_notebook_retrying(*args, **kwargs):
    for attempt in range(3):
        try: return _execute_notebook(*args, **kwargs)
        except RuntimeError as e:
            if 'Kernel died before replying' not in str(e) or attempt == 2: raise
_pm.execute_notebook = _execute_notebook_retrying
