"The layers of the library are visible in its imports: models import parts only; importing a model stays light."
import ast, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / 'objcentric'
MODELS = ('slots', 'sysbinder', 'svq', 'alp', 'dvae')
FORBIDDEN = {'train', 'data', 'viz', 'recipes', 'metrics'} | {p.stem for p in PKG.glob('zoo_*.py')}


def _imports(path):
    "Every objcentric module a file imports, at any depth of its code"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = ('.' * node.level) + (node.module or '')
            if mod.startswith('.'): out.add(mod.lstrip('.').split('.')[0])
            elif mod.startswith('objcentric.'): out.add(mod.split('.')[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split('.')[1] for a in node.names if a.name.startswith('objcentric.')}
    return out


@pytest.mark.parametrize('mod', MODELS)
def test_models_import_parts_only(mod):
    bad = _imports(PKG / f'{mod}.py') & FORBIDDEN
    assert not bad, f'objcentric/{mod}.py imports {sorted(bad)}: a model imports only parts (core, quantizers, transformer, dvae, other models)'


def test_the_check_sees_imports_inside_functions(tmp_path):
    f = tmp_path / 'm.py'; f.write_text('def f():\n    from objcentric.train import Trainer\n    from .viz import x\n')
    assert _imports(f) == {'train', 'viz'}


def test_importing_a_model_stays_light():
    code = ("import sys, objcentric.svq, objcentric.slots, objcentric.sysbinder, objcentric.alp, objcentric.recipes;"
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]', f'heavy imports at start: {r.stdout}'
