"""The synthesis fast path: on the CPU it must equal plain synthesis (graphs are CUDA-only)."""

import torch

from livegan.models.base import NoiseSpec
from livegan.models.builtin import BuiltinGenerator
from livegan.synth.accel import AccelOptions, FastSynthesis, _graphable


def test_cpu_fast_path_equals_eager():
    torch.set_num_threads(1)
    G = BuiltinGenerator(seed=2, resolution=64).eval()
    ws = G.mapping(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0)))
    fast = FastSynthesis(G, AccelOptions(cuda_graph=True, channels_last=True))
    assert not fast.use_graphs  # no CUDA here: graphs are never attempted
    noise = NoiseSpec("const", strength=torch.tensor([0.5, 2.0]))
    with torch.inference_mode():  # exact: on the CPU the fast path calls the same synthesis
        assert torch.equal(fast(ws, noise=noise), G.synthesis(ws, noise=noise))


def test_only_static_work_is_graphed():
    assert _graphable(NoiseSpec("const"), ())
    assert _graphable(None, ())
    assert not _graphable(NoiseSpec("random", seed=1), ())
    assert not _graphable(NoiseSpec("given", maps={"x": torch.zeros(1, 1, 4, 4)}), ())
    from livegan.models.base import Bend

    assert not _graphable(NoiseSpec("const"), (Bend("x", "rotate", 5.0),))
