"""`torch.compile` of a model's training forward compiles once and stays valid over the schedules that change every
step (the dVAE's Gumbel temperature): no recompilation, and the compiled forward computes what eager does."""
import pytest
import torch
import torch._dynamo as dynamo
from objcentric.recipes import create_model


@pytest.mark.parametrize('name', ['slate', 'svq'])
def test_no_recompiles_over_a_tau_schedule(name):
    torch.manual_seed(0)
    m = create_model(name, 'smoke').train()
    x = torch.rand(4, 3, m.cfg.image_size, m.cfg.image_size)
    dynamo.reset()
    f = torch.compile(m, backend='eager')
    m.on_step(0); f(dict(image=x))['loss'].backward()                          # the one compilation
    with dynamo.config.patch(error_on_recompile=True):
        for s in (5, 10, 20, 40, 80):
            m.on_step(s)
            state = {k: v.clone() for k, v in m.state_dict().items()}            # SVQ's forward moves its EMA codebook
            torch.manual_seed(s); out = f(dict(image=x))
            m.load_state_dict(state)
            torch.manual_seed(s); ref = m(dict(image=x))
            assert float(out['tau']) == pytest.approx(m.tau) and m.tau < 1.0
            torch.testing.assert_close(out['loss'], ref['loss'], rtol=1e-4, atol=1e-4)


def test_the_check_sees_a_recompile():
    "A float read in forward that changes every step does trigger a recompile, which the check reports"
    class M(torch.nn.Module):
        def __init__(self): super().__init__(); self.w = torch.nn.Parameter(torch.ones(3)); self.t = 1.0
        def forward(self, x): return (x * self.w / self.t).sum()
    m = M(); dynamo.reset(); f = torch.compile(m, backend='eager'); f(torch.ones(3))
    m.t = 0.5
    with dynamo.config.patch(error_on_recompile=True), pytest.raises(Exception, match='[Rr]ecompil'):
        f(torch.ones(3))
