"""Cost models: the digital SNN core, the SRAM PIM macro and the dense CNN baselines.

Each model takes a layer, its activity statistics and a config, and returns a
:class:`~pimsim.models.base.LayerCost` (events, cycles, energy by component).
"""

#: Version of the cost equations; part of every sweep fingerprint (the statistics cache is
#: keyed by pimsim.activity.STATS_VERSION and the pimsim version), so a model change is never
#: masked by stale results.
COST_MODEL_VERSION = 3
