"""The tokenizer stage's cache holds the tokenizer a fresh machine would train, whatever the seed of the run that filled it."""
import pytest
import torch

from objcentric.core import seed_everything
from objcentric.recipes import RunConfig, _fresh_dvae, build_datasets, get_preset, get_recipe, train_tokenizer


def _model(name, preset, seed):
    seed_everything(seed)
    return get_recipe(name).model_cls(get_preset(name, preset).model)


@pytest.mark.parametrize('name', ['slate', 'sysbinder', 'svq'])
@pytest.mark.parametrize('preset', ['smoke', 'cpu_demo'])
def test_fixed_seed_dvae_is_the_seed0_models_own(name, preset):
    "The stage's starting dVAE is bit for bit a seed-0 model's, so the figures measured before the fix stay reproducible"
    sd0, fresh = _model(name, preset, 0).dvae.state_dict(), _fresh_dvae(_model(name, preset, 3).dvae).state_dict()
    assert sd0.keys() == fresh.keys() and all(torch.equal(sd0[k], fresh[k]) for k in sd0)
    sd1 = _model(name, preset, 1).dvae.state_dict()
    assert not all(torch.equal(sd1[k], fresh[k]) for k in sd1)        # the run's seed does change the model's own dVAE


def test_cached_tokenizer_does_not_depend_on_the_seed_that_trained_it(tmp_path):
    run = RunConfig(dataset='sprites', n_train=64, n_val=16, tokenizer_steps=6, tokenizer_batch=8, tokenizer_usage=1.0)
    m1, m0, m0b = (_model('svq', 'smoke', s) for s in (1, 0, 0))
    tr, _ = build_datasets(run, m1.cfg.image_size, cache_dir=tmp_path / 'data')
    a = train_tokenizer(m1, tr, run, 'k', cache_dir=tmp_path / 'a', progress=False)         # a seed-1 run fills cache a
    b = train_tokenizer(m0, tr, run, 'k', cache_dir=tmp_path / 'b', progress=False)         # a seed-0 run on a fresh machine
    c = train_tokenizer(m0b, tr, run, 'k', cache_dir=tmp_path / 'a', progress=False)        # a seed-0 run reusing cache a
    assert (a['cached'], b['cached'], c['cached']) == (False, False, True) and a['key'] == b['key'] == c['key']
    for k, v in m0.dvae.state_dict().items():
        assert torch.equal(v, m1.dvae.state_dict()[k]) and torch.equal(v, m0b.dvae.state_dict()[k]), k
