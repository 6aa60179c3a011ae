"Bad settings for the main job fail before training, with a message naming what is wrong."
import pytest
from objcentric.core import ConfigError
from objcentric.data import DataError
from objcentric.svq import train_svq

@pytest.mark.parametrize('kw, err, text', [
    (dict(lr=-1.0), ConfigError, '`lr` = -1.0'),
    (dict(preset='nope'), ConfigError, "`preset` = 'nope'"),
    (dict(steps=0), ConfigError, '`steps`'),
    (dict(data_path='/no/such/dir/*.png'), DataError, '/no/such/dir/*.png'),
])
def test_bad_settings_fail_early_naming_the_field(tmp_path, kw, err, text):
    with pytest.raises(err) as e: train_svq(**{'preset': 'smoke', **kw}, out_dir=tmp_path/'run', progress=False)
    assert text in str(e.value)
    assert not (tmp_path/'run'/'checkpoints').exists()   # no training happened
