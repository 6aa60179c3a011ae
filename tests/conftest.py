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
