"""Package setup for objcentric: every setting is read from settings.ini (nbdev 2 layout)."""
import shlex
from configparser import ConfigParser
from pathlib import Path
from setuptools import find_packages, setup

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent/'settings.ini')
cfg = cfg['DEFAULT']
lib = cfg['lib_name']
licenses = dict(apache2=('Apache Software License 2.0', 'OSI Approved :: Apache Software License'))
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']
lic = licenses[cfg['license']]
readme = Path(__file__).parent/'README.md'

setup(
    name=lib, version=cfg['version'], description=cfg['description'],
    long_description=readme.read_text() if readme.exists() else '', long_description_content_type='text/markdown',
    author=cfg['author'], author_email=cfg['author_email'], license=lic[0], url=cfg['git_url'],
    keywords=cfg['keywords'].split(), python_requires='>=' + cfg['min_python'],
    packages=find_packages(include=[lib, lib + '.*']), include_package_data=True,
    install_requires=shlex.split(cfg['requirements']),
    extras_require={'dev': shlex.split(cfg['dev_requirements'])},
    entry_points={'nbdev': [f'{lib}={lib}._modidx:d'], 'console_scripts': [f'{lib}={lib}.recipes:main']},
    classifiers=[f'Development Status :: {statuses[int(cfg["status"]) - 1]}', f'Intended Audience :: {cfg["audience"]}',
                 f'License :: {lic[1]}', 'Natural Language :: English', 'Programming Language :: Python :: 3'],
    zip_safe=False)
