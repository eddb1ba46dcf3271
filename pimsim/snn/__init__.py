"""Algorithm half of pimsim (the ``[train]`` extra): hyperspectral data, the paper's SNNs,
training (CNN -> 6-bit QAT -> conversion -> surrogate-gradient SNN) and trace export.

``pimsim.snn.data`` needs NumPy, SciPy and scikit-learn only; ``models``, ``train`` and
``export`` need PyTorch (install ``torch==2.13.0`` first, then ``pip install 'pimsim[train]'``).
Nothing here is imported by the simulator.
"""
