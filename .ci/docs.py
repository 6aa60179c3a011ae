#!/usr/bin/env python
"""Docs check without Quarto: process the notebooks as nbdev does for Quarto, render each page to HTML
with nbconvert + pandoc, and check the site (sidebar entries, pages, internal links, figures, no raw directives).

    python .ci/docs.py check [--out DIR]      # build into DIR (default _docs_check/) and check; exit 1 on problems
    python .ci/docs.py readme [--check]       # write README.md from nbs/index.ipynb (or fail if it is out of step)
    python .ci/docs.py screenshots PAGE...    # PNG screenshots of built pages with Debian's headless Chromium
"""
import argparse, html, json, re, shutil, subprocess, sys, tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
FIG_CALLS = re.compile(r'\b(plt\.|show_images|slot_figure|imshow|\.plot\(|plot_\w+\(|_figure\()')


def _pandoc():
    import pypandoc
    return pypandoc.get_pandoc_path()


def sidebar_entries(sidebar: Path) -> list:
    "Every `file:`/bare entry of a hand-written sidebar.yml, with its section."
    import yaml
    d = yaml.safe_load(sidebar.read_text())
    out = []
    def walk(items, section):
        for it in items or []:
            if isinstance(it, str): out.append((section, it))
            elif isinstance(it, dict):
                if 'contents' in it: walk(it['contents'] if isinstance(it['contents'], list) else [it['contents']], it.get('section', section))
                elif 'file' in it or 'href' in it: out.append((section, it.get('file', it.get('href'))))
    walk(d['website']['sidebar']['contents'], None)
    return out


def proc_notebooks(nbs: Path, dest: Path):
    "Run nbdev's own docs processing (what Quarto would render) on a copy of `nbs`, without Quarto or pip."
    from nbdev.serve import proc_nbs
    from fastcore.xtras import working_directory
    with working_directory(ROOT): src = proc_nbs(path=str(nbs), n_workers=0)
    if dest.exists(): shutil.rmtree(dest)
    shutil.copytree(src, dest)
    return dest


def _prep(nb):
    "Quarto-like preprocessing: YAML front matter out of the raw cell, hide `echo: false` inputs, strip `#|` lines."
    meta = {}
    cells = []
    for c in nb.cells:
        src = c.source
        if c.cell_type == 'raw' and src.lstrip().startswith('---'):
            import yaml
            meta.update(yaml.safe_load(src.strip().strip('-')) or {})
            continue
        if c.cell_type == 'code':
            lines = src.splitlines()
            dirs = [l for l in lines if l.strip().startswith('#|')]
            c.source = '\n'.join(l for l in lines if not l.strip().startswith('#|')).strip()
            if any(re.match(r'#\|\s*echo:\s*false', d.strip()) for d in dirs) or any('include: false' in d for d in dirs):
                c.metadata.setdefault('tags', []).append('remove_input')
                if any('include: false' in d for d in dirs): continue
            if not c.source and not c.get('outputs'): continue
        cells.append(c)
    nb.cells = cells
    return nb, meta


def render_page(nb_path: Path, out: Path, pandoc: str, fmt='html5') -> Path:
    "Render one processed notebook to `out/<stem>.html` (or GitHub markdown for fmt='gfm'); return the file."
    import nbformat
    from nbconvert import MarkdownExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config
    nb, meta = _prep(nbformat.read(nb_path, as_version=4))
    c = Config(); c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}; c.TagRemovePreprocessor.enabled = True
    exp = MarkdownExporter(config=c)
    exp.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    stem = nb_path.stem
    body, res = exp.from_notebook_node(nb, resources={'output_files_dir': f'{stem}_files', 'unique_key': stem})
    for name, data in res.get('outputs', {}).items():
        p = out/name; p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(data)
    title = meta.get('title', stem)
    header = f"---\ntitle: {json.dumps(str(title))}\n" + (f"subtitle: {json.dumps(str(meta['description']))}\n" if meta.get('description') else '') + "---\n\n"
    md = out/f'{stem}.md'
    # links between notebooks become links between pages, as Quarto does
    body = re.sub(r'\]\(([\w.\-]+)\.ipynb(#[\w\-.]*)?\)', lambda m: f"]({m.group(1)}.html{m.group(2) or ''})" if fmt == 'html5' else f"](nbs/{m.group(1)}.ipynb{m.group(2) or ''})", body)
    md.write_text(header + body)
    dest = out/f"{stem}.{'html' if fmt == 'html5' else 'md.out'}"
    args = [pandoc, str(md), '-f', 'markdown-yaml_metadata_block+yaml_metadata_block', '-t', fmt, '-o', str(dest)]
    if fmt == 'html5': args += ['-s', '--toc', '--mathml']
    else: args += ['--wrap=none']
    r = subprocess.run(args, capture_output=True, text=True, cwd=out)
    if r.returncode: raise RuntimeError(f'pandoc failed on {nb_path.name}: {r.stderr[:2000]}')
    return dest


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(); self.hrefs, self.imgs, self.ids, self.text = [], [], set(), []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('href'): self.hrefs.append(a['href'])
        if tag == 'img' and a.get('src'): self.imgs.append(a['src'])
    def handle_data(self, data): self.text.append(data)


def check_site(nbs: Path = NBS, out: Path = ROOT/'_docs_check', require_figures=True) -> list:
    "Build the pages and return a list of problems (empty when the site is good)."
    problems = []
    sidebar = nbs/'sidebar.yml'
    if not sidebar.exists(): return [f'{sidebar} is missing (custom_sidebar = True needs a hand-written sidebar)']
    entries = sidebar_entries(sidebar)
    for sec, f in entries:
        if not (nbs/f).exists(): problems.append(f'sidebar entry {f!r} (section {sec!r}) points at a missing notebook {nbs/f}')
    pages = sorted(p.name for p in nbs.glob('*.ipynb') if not p.name.startswith('_'))
    listed = {f for _, f in entries}
    for p in pages:
        if p not in listed: problems.append(f'notebook {p} is not in the sidebar')
    if problems: return problems
    out.mkdir(parents=True, exist_ok=True)
    proc = proc_notebooks(nbs, Path(tempfile.mkdtemp())/'_proc')
    pandoc = _pandoc()
    rendered = {}
    for p in pages:
        try: rendered[p] = render_page(proc/p, out, pandoc)
        except Exception as e: problems.append(f'page {p} does not render: {e}')
    for p, h in rendered.items():
        parser = _Links(); parser.feed(h.read_text())
        text = ''.join(parser.text)
        for bad in ('#| ', 'default_exp', 'nbdev_export(', '#|export'):
            if bad in text: problems.append(f'page {p} shows a raw directive or export cell ({bad!r})')
        for href in parser.hrefs:
            if re.match(r'^[a-z]+:', href) or href.startswith('#'):
                if href.startswith('#') and len(href) > 1 and href[1:] not in parser.ids: problems.append(f'page {p}: anchor {href} has no target')
                continue
            target = href.split('#')[0]
            if target and not (out/target).exists(): problems.append(f'page {p}: internal link {href!r} does not resolve')
        for src in parser.imgs:
            if not re.match(r'^(data:|https?:)', src) and not (out/src).exists(): problems.append(f'page {p}: image {src!r} is missing')
        src_nb = json.loads((nbs/p).read_text())
        # cells a reader sees run (exported definitions only make figures when called elsewhere)
        code = '\n'.join(''.join(c['source']) for c in src_nb['cells'] if c['cell_type'] == 'code' and not re.match(r'\s*#\|\s*export', ''.join(c['source'])))
        fm = ''.join(src_nb['cells'][0]['source']) if src_nb['cells'] else ''
        if require_figures and re.match(r'\d', p) and FIG_CALLS.search(code) and not parser.imgs and 'skip_exec' not in fm:
            problems.append(f'page {p} makes figures but shows none: store the executed outputs (python .ci/execute_nbs.py nbs/{p})')
        if re.search(r'<h[23][^>]*>\s*_[a-z]', h.read_text()): problems.append(f'page {p} documents a private helper')
    return problems


def readme(check=False) -> int:
    "Write README.md from nbs/index.ipynb through the same pipeline in GitHub markdown (or check it is in step)."
    import nbformat
    md = _readme_md(nbformat.read(NBS/'index.ipynb', as_version=4), Path(tempfile.mkdtemp()))
    target = ROOT/'README.md'
    if check:
        if not target.exists() or target.read_text() != md:
            print('README.md is out of step with nbs/index.ipynb: run python .ci/docs.py readme'); return 1
        print('README.md is in step with nbs/index.ipynb'); return 0
    target.write_text(md); print(f'wrote {target}'); return 0


def _readme_md(nb, tmp: Path) -> str:
    "GitHub markdown of the index notebook: title and description from its first cell, hidden cells dropped."
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code' and any(l.strip() in ('#| hide', '#|hide') for l in c.source.splitlines()): continue
        if c.cell_type == 'code': c.outputs = []   # figures live on the docs site; the README shows the code
        cells.append(c)
    nb.cells = cells
    src = tmp/'index.ipynb'
    import nbformat; nbformat.write(nb, src)
    md = render_page(src, tmp, _pandoc(), fmt='gfm').read_text()
    return md.rstrip() + '\n'


def screenshots(pages, out: Path = ROOT/'_docs_check', width=1100, height=1400):
    "PNG screenshots of built pages with Debian's headless Chromium (apt-get install chromium-headless-shell or chromium)."
    exe = shutil.which('chromium-headless-shell') or shutil.which('chromium') or '/usr/lib/chromium/headless_shell'
    if not exe or not Path(exe).exists(): sys.exit('no Chromium found: apt-get update && apt-get install -y chromium-headless-shell')
    for p in pages:
        page = out/(Path(p).stem + '.html')
        if not page.exists(): sys.exit(f'{page} not built: run python .ci/docs.py check first')
        png = out/(Path(p).stem + '.png')
        subprocess.run([exe, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--disable-background-networking',
                        '--no-first-run', f'--window-size={width},{height}', f'--screenshot={png}', page.as_uri()], check=True, capture_output=True)
        print(png)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('check'); c.add_argument('--out', default=str(ROOT/'_docs_check')); c.add_argument('--nbs', default=str(NBS))
    r = sub.add_parser('readme'); r.add_argument('--check', action='store_true')
    s = sub.add_parser('screenshots'); s.add_argument('pages', nargs='+'); s.add_argument('--out', default=str(ROOT/'_docs_check'))
    a = ap.parse_args()
    if a.cmd == 'check':
        probs = check_site(Path(a.nbs), Path(a.out))
        for p in probs: print('DOCS PROBLEM:', p)
        print(f'docs check: {len(probs)} problem(s); pages in {a.out}')
        sys.exit(1 if probs else 0)
    if a.cmd == 'readme': sys.exit(readme(a.check))
    if a.cmd == 'screenshots': screenshots(a.pages, Path(a.out))
