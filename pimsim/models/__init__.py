"""Cost models: the digital SNN core, the SRAM PIM macro and the dense CNN baselines.

Each model takes a layer, its activity statistics and a config, and returns a
:class:`~pimsim.models.base.LayerCost` (events, cycles, energy by component).
"""
