"The slot models' pixel masks: 'nearest' repeats each token's attention over its patch (the reference), 'bilinear' interpolates it."
import pytest, torch
import torch.nn.functional as F
from objcentric.core import ConfigError
from objcentric.recipes import get_preset, create_model
import objcentric.zoo_slots  # registers the presets


@pytest.mark.parametrize('name', ['slate', 'sysbinder', 'svq'])
def test_mask_upsample_modes(name):
    p = get_preset(name, 'smoke')
    torch.manual_seed(0); a = create_model(name, 'smoke', mask_upsample='nearest').eval()
    b = create_model(name, 'smoke', mask_upsample='bilinear').eval(); b.load_state_dict(a.state_dict())
    x = torch.rand(2, 3, p.model.image_size, p.model.image_size)
    ea, eb = a.encode(x, generator=torch.Generator().manual_seed(1)), b.encode(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(ea.attn, eb.attn) and torch.equal(ea.slots, eb.slots)          # only the masks differ
    B, K, L = ea.attn.shape; s = int(L ** .5); r = p.model.image_size // s
    grid = ea.attn.reshape(B, K, s, s)
    # nearest: every pixel of a token's r x r patch carries that token's attention, exactly
    assert torch.equal(ea.masks, grid[..., torch.arange(s * r) // r, :][..., torch.arange(s * r) // r])
    # bilinear: the attention interpolated between patch centres; still a distribution over slots at every pixel
    assert torch.allclose(eb.masks, F.interpolate(grid, size=ea.masks.shape[-2:], mode='bilinear', align_corners=False))
    assert torch.allclose(eb.masks.sum(1), torch.ones(B, *eb.masks.shape[-2:]), atol=1e-5)
    assert not torch.allclose(ea.masks, eb.masks)
    with pytest.raises(ConfigError, match='mask_upsample'): p.model.replace(mask_upsample='bicubic')


def test_paper_presets_keep_the_reference_masks():
    for name in ('slate', 'sysbinder', 'svq'):
        assert get_preset(name, 'paper').model.mask_upsample == 'nearest'
        assert get_preset(name, 'cpu_demo').model.mask_upsample == 'bilinear'
