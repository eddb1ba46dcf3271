"""The HybridSN layers of a pimsim trace as a ZigZag workload, and ZigZag's evaluation of them.

Two commands, run by two different interpreters:

    # pimsim's environment: the layers of a trace (pimsim.trace) -> a ZigZag workload YAML
    .venv/bin/python benchmarks/zigzag_hybridsn.py workload TRACE.npz OUT.yaml [--batch N]

    # ZigZag's environment (~/.cache/pimsim/zigzag-venv): the timed process of benchmarks/run_all.py
    ~/.cache/pimsim/zigzag-venv/bin/python benchmarks/zigzag_hybridsn.py evaluate WORKLOAD.yaml \
        [--accelerator benchmarks/zigzag/accelerator_45nm.yaml] [--mapping benchmarks/zigzag/mapping.yaml]

The workload is the dense equivalent of the SNN: every layer of the trace (conv3d, conv2d,
linear) with its shapes, kernel and stride, batch = samples x time steps (each time step of
each sample is one dense pass, the work pimsim replays event by event), 1-bit inputs for the
spiking layers and the trace's input bits for the analog first layer, the trace's weight bits,
16-bit partial sums (the membrane) and 1-bit outputs (spikes). The accelerator
(benchmarks/zigzag/accelerator_45nm.yaml) is the digital core of hw_configs/45nm_digital.yaml:
a 32 x 16 PE array, spike / weight / membrane SRAMs of 64 / 256 / 128 KB and DRAM; the
mapping fixes the spatial unrolling (output positions x output channels, batch x output
channels for the dense layers) and leaves the temporal mapping to ZigZag's LOMA search.

``evaluate`` runs ``zigzag.api.get_hardware_performance_zigzag`` (ZigZag's public entry
point, with its result files written to a temporary folder) and prints one JSON line with
ZigZag's energy and latency and the seconds spent in that call. ``--pipeline lean`` runs
ZigZag's own stages without the result-saving and visualization stages, to show how much of
the call those take.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCELERATOR = HERE / "zigzag" / "accelerator_45nm.yaml"
MAPPING = HERE / "zigzag" / "mapping.yaml"


def layer_to_zigzag(layer_id: int, spec: dict, batch: int, input_bits: int) -> dict:
    """One trace layer (its meta entry: kind, in_shape, out_shape, kernel, stride, padding,
    input, weight_bits) as one ZigZag workload layer."""
    kind = spec["kind"]
    in_bits = input_bits if spec["input"] == "analog" else 1
    precision = {"W": int(spec["weight_bits"]), "I": in_bits, "O": 16, "O_final": 1}
    source = {"W": layer_id, "I": layer_id if layer_id == 0 else layer_id - 1}
    if kind == "linear":
        return {
            "id": layer_id, "name": spec["name"], "operator_type": "Gemm",
            "equation": "O[b][k]+=W[k][c]*I[b][c]",
            "dimension_relations": [],
            "loop_dims": ["B", "K", "C"],
            "loop_sizes": [batch, int(spec["out_shape"][0]), int(spec["in_shape"][0])],
            "operand_precision": precision, "operand_source": source,
        }
    # conv3d: (C, D, H, W) -> spatial dims z, y, x; conv2d: (C, H, W) -> y, x
    axes = ["z", "y", "x"] if kind == "conv3d" else ["y", "x"]
    if len(spec["in_shape"]) != len(axes) + 1:
        raise ValueError(f"{spec['name']}: {kind} with in_shape {spec['in_shape']}")
    out_sp = [int(v) for v in spec["out_shape"][1:]]
    in_sp = [int(v) for v in spec["in_shape"][1:]]
    kernel = [int(v) for v in spec["kernel"]]
    stride = [int(v) for v in spec.get("stride") or [1] * len(axes)]
    padding = [int(v) for v in spec.get("padding") or [0] * len(axes)]
    o_idx = "".join(f"[o{a}]" for a in axes)
    f_idx = "".join(f"[f{a}]" for a in axes)
    i_idx = "".join(f"[i{a}]" for a in axes)
    layer = {
        "id": layer_id, "name": spec["name"], "operator_type": "Conv",
        "equation": f"O[b][k]{o_idx}+=W[k][c]{f_idx}*I[b][c]{i_idx}",
        "dimension_relations": [f"i{a}={s}*o{a}+1*f{a}" for a, s in zip(axes, stride)],
        "loop_dims": ["B", "K", "C"] + [f"O{a.upper()}" for a in axes]
                     + [f"F{a.upper()}" for a in axes],
        "loop_sizes": [batch, int(spec["out_shape"][0]), int(spec["in_shape"][0])] + out_sp
                      + kernel,
        "operand_precision": precision, "operand_source": source,
        "pr_loop_dims": [f"I{a.upper()}" for a in axes],
        "pr_loop_sizes": in_sp,
        "padding": [[p, p] for p in padding],
    }
    return layer


def workload_from_trace(trace_path: str, batch: int | None = None) -> list[dict]:
    """ZigZag workload layers of a pimsim trace (read with pimsim.trace only)."""
    from pimsim.trace import load_trace

    tr = load_trace(trace_path)
    n = batch if batch is not None else tr.num_samples * tr.timesteps
    return [layer_to_zigzag(i, spec.to_meta(), n, tr.input_bits)
            for i, spec in enumerate(tr.layers)]


def dense_macs(workload: list[dict]) -> int:
    return sum(math.prod(layer["loop_sizes"]) for layer in workload)


def _write_yaml(layers: list[dict], out: str) -> None:
    # plain YAML written by hand: pimsim's environment need not have the same yaml as ZigZag's
    def scalar(v):
        return json.dumps(v)

    lines = []
    for layer in layers:
        first = True
        for key, value in layer.items():
            lead = "- " if first else "  "
            first = False
            if isinstance(value, dict):
                lines.append(f"{lead}{key}:")
                lines += [f"    {k}: {scalar(v)}" for k, v in value.items()]
            else:
                lines.append(f"{lead}{key}: {scalar(value)}")
        lines.append("")
    Path(out).write_text("\n".join(lines))


def _lean_stages():
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import (
        TemporalMappingGeneratorStage,
    )
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results.reduce_stages import MinimalEDPStage, SumStage
    from zigzag.stages.workload_iterator import WorkloadStage

    return [WorkloadParserStage, AcceleratorParserStage, SumStage, WorkloadStage,
            MinimalEDPStage, SpatialMappingGeneratorStage, MinimalEDPStage,
            TemporalMappingGeneratorStage, CostModelStage]


def evaluate(workload: str, accelerator: str, mapping: str, pipeline: str = "api") -> dict:
    import logging

    logging.disable(logging.CRITICAL)  # ZigZag logs every mapping at INFO
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zigzag-") as dump:
        if pipeline == "api":
            from zigzag.api import get_hardware_performance_zigzag

            energy, latency, _ = get_hardware_performance_zigzag(
                workload=workload, accelerator=accelerator, mapping=mapping, opt="EDP",
                dump_folder=dump, loma_show_progress_bar=False)
        else:
            from zigzag.mapping.temporal_mapping import TemporalMappingType
            from zigzag.stages.main import MainStage

            main = MainStage(list_of_callables=_lean_stages(), accelerator=accelerator,
                             workload=workload, mapping=mapping, dump_folder=dump,
                             loma_lpf_limit=6, loma_show_progress_bar=False,
                             nb_mappings_generated=3,
                             enable_mix_spatial_mapping_generation=False,
                             access_same_data_considered_as_no_access=True,
                             temporal_mapping_type=TemporalMappingType("uneven"))
            cmes = main.run()
            energy, latency = cmes[0][0].energy_total, cmes[0][0].latency_total2
    return {"zigzag_energy_pj": float(energy), "zigzag_latency_cycles": float(latency),
            "zigzag_call_s": time.perf_counter() - t0, "pipeline": pipeline}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("workload", help="trace -> ZigZag workload YAML (pimsim's environment)")
    w.add_argument("trace")
    w.add_argument("out")
    w.add_argument("--batch", type=int, default=None,
                   help="ZigZag batch (default: samples x time steps of the trace)")
    e = sub.add_parser("evaluate", help="ZigZag's evaluation of a workload (ZigZag's environment)")
    e.add_argument("workload")
    e.add_argument("--accelerator", default=str(ACCELERATOR))
    e.add_argument("--mapping", default=str(MAPPING))
    e.add_argument("--pipeline", choices=["api", "lean"], default="api")
    args = ap.parse_args(argv)
    if args.cmd == "workload":
        layers = workload_from_trace(args.trace, args.batch)
        _write_yaml(layers, args.out)
        print(json.dumps({"layers": len(layers), "batch": layers[0]["loop_sizes"][0],
                          "dense_macs": dense_macs(layers)}))
        return 0
    print(json.dumps(evaluate(args.workload, args.accelerator, args.mapping, args.pipeline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
