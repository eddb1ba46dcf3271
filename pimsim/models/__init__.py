"""Cost models: the digital SNN core, the SRAM PIM macro and the dense CNN baselines.

Each model takes a layer, its activity statistics and a config, and returns a
:class:`~pimsim.models.base.LayerCost` (events, cycles, energy by component).
"""

#: Version of the cost equations; part of every sweep fingerprint and statistics cache key,
#: so a model change is never masked by stale results.
COST_MODEL_VERSION = 2
