"The docs site checks that run without Quarto: sidebar, pages, links, figures, README in step with index.ipynb."
import importlib.util, json, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('docs', ROOT/'.ci'/'docs.py'); docs = importlib.util.module_from_spec(spec); spec.loader.exec_module(docs)

def test_docs_site_builds_and_checks(tmp_path):
    probs = docs.check_site(ROOT/'nbs', tmp_path/'site')
    assert not probs, '\n'.join(probs)
    html = (tmp_path/'site'/'index.html').read_text()
    assert '<nav id="TOC"' in html and 'objcentric' in html

def test_docs_check_fails_on_missing_sidebar_entry(tmp_path):
    nbs = tmp_path/'nbs'; nbs.mkdir()
    for p in (ROOT/'nbs').iterdir():
        if p.is_file() and not p.is_symlink(): shutil.copy(p, nbs/p.name)
    (nbs/'sidebar.yml').write_text((nbs/'sidebar.yml').read_text().replace('- 00_core.ipynb', '- 00_core.ipynb\n          - 99_missing.ipynb'))
    probs = docs.check_site(nbs, tmp_path/'site')
    assert any('99_missing.ipynb' in p and 'missing notebook' in p for p in probs), probs

def test_sidebar_lists_every_notebook():
    listed = {f for _, f in docs.sidebar_entries(ROOT/'nbs'/'sidebar.yml')}
    on_disk = {p.name for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_')}
    assert listed == on_disk, f'only in sidebar: {listed - on_disk}; only on disk: {on_disk - listed}'

def test_readme_in_step_with_index():
    r = subprocess.run([sys.executable, str(ROOT/'.ci'/'docs.py'), 'readme', '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
