"""Command-line interface (design.md §5), a thin layer over :mod:`pimsim.api`.

Every user error prints one line on stderr naming the file, the key and what was expected,
and exits with status 2 (no traceback).
"""

from __future__ import annotations

import importlib
import json
import sys

import click
import numpy as np

from pimsim import __version__
from pimsim.errors import PimsimError

SET_HELP = "override a config key, e.g. --set pim.adc_bits=5 (repeatable)"


def _load(hw: str, trace_path: str, sets: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from pimsim.api import load_config, load_trace
    from pimsim.config import parse_set_options

    cfg = load_config(hw, parse_set_options(sets, file=hw))
    trace = load_trace(trace_path)
    return cfg, trace


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pimsim")
def cli() -> None:
    """pimsim: energy, delay and EDP of trained SNNs on a digital core with an SRAM PIM
    first layer."""


@cli.command()
@click.option("--hw", required=True, type=click.Path(dir_okay=False), help="hardware YAML")
@click.option("--trace", "trace_path", required=True, type=click.Path(dir_okay=False),
              help="trace .npz (format v1)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="write JSON here")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False),
              help="write the per-layer table as CSV here")
def run(hw: str, trace_path: str, sets: tuple[str, ...], json_out: str | None,
        csv_out: str | None) -> None:
    """Simulate a trace on a hardware config: per-layer table and per-inference totals."""
    from pimsim.api import simulate
    from pimsim.report import run_table, write_csv, write_json

    cfg, trace = _load(hw, trace_path, sets)
    result = simulate(cfg, trace)
    click.echo(run_table(result))
    if json_out:
        write_json(json_out, result.to_json())
    if csv_out:
        write_csv(csv_out, result)


@cli.command()
@click.option("--hw", required=True, type=click.Path(dir_okay=False))
@click.option("--trace", "trace_path", required=True, type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--json", "json_out", type=click.Path(dir_okay=False))
def compare(hw: str, trace_path: str, sets: tuple[str, ...], json_out: str | None) -> None:
    """The paper's table: CNN FP32, CNN INT-k, SNN digital, SNN + PIM first layer."""
    from pimsim.api import compare as do_compare
    from pimsim.report import compare_table, write_json

    cfg, trace = _load(hw, trace_path, sets)
    comp = do_compare(cfg, trace)
    click.echo(compare_table(comp))
    if json_out:
        write_json(json_out, comp.to_json())


@cli.group()
def trace() -> None:
    """Inspect, validate, synthesize and replay traces."""


@trace.command("info")
@click.argument("path", type=click.Path(dir_okay=False))
def trace_info(path: str) -> None:
    """Layers, shapes, samples, and spike rate per layer and per time step."""
    from pimsim.trace import load_trace, spike_rates

    tr = load_trace(path)
    m = tr.meta
    click.echo(f"{path}: {m['dataset']} / {m['model']}, {tr.num_samples} samples, "
               f"T = {tr.timesteps}, input {tr.input_bits} bits, weights {m['weight_bits']} bits")
    click.echo(f"provenance: {json.dumps(tr.provenance)}")
    if "metrics" in m:
        click.echo(f"metrics: {json.dumps(m['metrics'])}")
    rates = spike_rates(tr)
    for spec in tr.layers:
        geo = ""
        if spec.kind != "linear":
            geo = f" k{list(spec.kernel)} s{list(spec.stride)} p{list(spec.padding)}"
        line = (f"  {spec.name:10s} {spec.kind:7s} {list(spec.in_shape)} -> "
                f"{list(spec.out_shape)}{geo} in={spec.input} {spec.neuron} "
                f"th={spec.threshold:.4g} leak={spec.leak:.4g}")
        if spec.name in rates:
            r = rates[spec.name]
            line += (f"\n             input spike rate {r.mean():.4f}  per step: "
                     + " ".join(f"{x:.4f}" for x in r))
        click.echo(line)
    if tr.is_synthetic:
        click.echo("SYNTHETIC trace: spikes are not produced by a trained network")


@trace.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
def trace_validate(path: str) -> None:
    """Check a trace against format v1; exit 0 when valid, 2 with the problem otherwise."""
    from pimsim.trace import load_trace

    tr = load_trace(path)
    click.echo(f"{path}: valid pimsim trace v1 ({len(tr.layers)} layers, {tr.num_samples} "
               f"samples, T = {tr.timesteps})")


@trace.command("synth")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@click.option("--like", type=click.Choice(["indian_pines", "pavia_university", "salinas"]),
              default="salinas", show_default=True, help="HybridSN geometry of this scene")
@click.option("--layers", "layers_file", type=click.Path(dir_okay=False),
              help="YAML/JSON layer list (keys of meta.layers) instead of --like")
@click.option("--samples", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--timesteps", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--rate", "rates", type=float, multiple=True,
              help="input spike rate of each spiking layer (one value, or one per layer)")
@click.option("--clustering", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--cluster-size", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--weight-bits", type=click.IntRange(2, 16), default=6, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def trace_synth(out: str, like: str, layers_file: str | None, samples: int, timesteps: int, rates: tuple[float, ...],
                clustering: float, cluster_size: int, weight_bits: int, seed: int) -> None:
    """Write a SYNTHETIC trace (random spikes on a HybridSN geometry) for tests/benchmarks."""
    from pimsim.networks import scene_layers
    from pimsim.synth import layers_from_file, synth_trace

    layers = (layers_from_file(layers_file) if layers_file
              else scene_layers(like, weight_bits=weight_bits))
    n_spiking = sum(1 for s in layers if s.input == "spikes")
    rate_arg: list[float] | float = 0.1
    if len(rates) == 1:
        rate_arg = rates[0]
    elif rates:
        if len(rates) != n_spiking:
            raise click.BadParameter(f"give 1 or {n_spiking} rates", param_hint="--rate")
        rate_arg = list(rates)
    cmd = "pimsim trace synth " + " ".join(sys.argv[3:])
    synth_trace(out, layers, num_samples=samples, timesteps=timesteps, rates=rate_arg,
                clustering=clustering, cluster_size=cluster_size, seed=seed,
                dataset="custom_synthetic" if layers_file else f"{like}_synthetic",
                model="custom_synthetic" if layers_file else "hybridsn_synthetic", command=cmd)
    click.echo(f"wrote {out} (SYNTHETIC, {samples} samples)")


@trace.command("replay")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "json_out", type=click.Path(dir_okay=False))
def trace_replay(path: str, json_out: str | None) -> None:
    """Re-run the SNN from the trace alone and compare with its stored spikes (design.md §4)."""
    from pimsim.replay import replay_trace
    from pimsim.report import write_json
    from pimsim.trace import load_trace

    rep = replay_trace(load_trace(path))
    for k in ("spike_agreement", "prediction_agreement", "accuracy"):
        click.echo(f"{k:22s} {rep[k]:.6f}")
    for k, v in rep.items():
        if k in ("spike_agreement", "prediction_agreement", "accuracy"):
            continue
        if isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()):
            click.echo(f"{k}:")
            for name, d in v.items():
                click.echo(f"  {name:12s} " + "  ".join(
                    f"{kk}={vv:.6g}" if isinstance(vv, float) else f"{kk}={vv}"
                    for kk, vv in d.items()))
        else:
            click.echo(f"{k:22s} {v}")
    if json_out:
        write_json(json_out, {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                              for k, v in rep.items()})


def _register_optional() -> None:
    """Commands that live in other modules (training needs the [train] extra)."""
    for module, names in (
        ("pimsim.snn.cli", ("train_cmd", "data_group", "export_cmd")),
        ("pimsim.sweep_cli", ("sweep_cmd", "pareto_cmd", "report_cmd")),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        for name in names:
            cmd = getattr(mod, name, None)
            if cmd is not None:
                cli.add_command(cmd)


_register_optional()


def main() -> None:
    """Console entry point: one-line errors with exit status 2 for bad input."""
    try:
        cli.main(standalone_mode=False)
    except PimsimError as exc:
        click.echo(f"pimsim: error: {exc.one_line()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("pimsim: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
