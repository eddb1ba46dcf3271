"""Layer geometries of the paper's networks, without PyTorch.

HybridSN (Roy et al., IEEE GRSL 2020): conv3d 3x3x7/8, 3x3x5/16, 3x3x3/32 (valid,
stride 1), the spectral x channel fold into 2D channels, conv2d 3x3/64, linear 256, 128,
classes. Shapes are channels first (C, D, H, W), D spectral, so a 3x3x7 kernel is (7, 3, 3).
"""

from __future__ import annotations

from pimsim.trace import LayerSpec, conv_out_size

#: PCA components and classes per scene (HybridSN preprocessing, Roy et al. IEEE GRSL 2020).
SCENES: dict[str, dict[str, int]] = {
    "indian_pines": {"bands": 30, "classes": 16},
    "pavia_university": {"bands": 15, "classes": 9},
    "salinas": {"bands": 15, "classes": 16},
}
WINDOW = 25


def _conv(name: str, kind: str, in_shape: tuple[int, ...], out_ch: int, kernel: tuple[int, ...],
          *, first: bool, weight_bits: int, threshold: float = 1.0, leak: float = 1.0,
          weight_scale: float = 1.0) -> LayerSpec:
    spatial = tuple(conv_out_size(n, k, 1, 0) for n, k in zip(in_shape[1:], kernel, strict=True))
    return LayerSpec(
        name=name, kind=kind, in_shape=in_shape, out_shape=(out_ch, *spatial), kernel=kernel,
        stride=(1,) * len(kernel), padding=(0,) * len(kernel),
        input="analog" if first else "spikes", neuron="lif", threshold=threshold, leak=leak,
        weight_scale=weight_scale, weight_bits=weight_bits,
    )


def hybridsn_layers(bands: int, classes: int, *, window: int = WINDOW,
                    weight_bits: int = 6) -> list[LayerSpec]:
    """The HybridSN layer chain for ``bands`` input components and ``classes`` outputs."""
    layers: list[LayerSpec] = []
    shape: tuple[int, ...] = (1, bands, window, window)
    for i, (ch, k) in enumerate([(8, (7, 3, 3)), (16, (5, 3, 3)), (32, (3, 3, 3))]):
        spec = _conv(f"conv3d_{i + 1}", "conv3d", shape, ch, k, first=(i == 0),
                     weight_bits=weight_bits)
        layers.append(spec)
        shape = spec.out_shape
    c, d, h, w = shape
    spec = _conv("conv2d_1", "conv2d", (c * d, h, w), 64, (3, 3), first=False,
                 weight_bits=weight_bits)
    layers.append(spec)
    features = spec.out_size
    for i, out in enumerate([256, 128, classes]):
        layers.append(LayerSpec(
            name=f"linear_{i + 1}", kind="linear", in_shape=(features,), out_shape=(out,),
            kernel=(), stride=(), padding=(), input="spikes",
            neuron="integrator" if i == 2 else "lif", threshold=1.0, leak=1.0,
            weight_scale=1.0, weight_bits=weight_bits,
        ))
        features = out
    return layers


def scene_layers(scene: str, *, weight_bits: int = 6) -> list[LayerSpec]:
    """HybridSN layers with the PCA band count and class count of a named scene."""
    if scene not in SCENES:
        raise KeyError(f"unknown scene {scene!r}; expected one of {', '.join(SCENES)}")
    return hybridsn_layers(SCENES[scene]["bands"], SCENES[scene]["classes"],
                           weight_bits=weight_bits)
