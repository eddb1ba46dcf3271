"""Command-line interface (docs/model.md §6 for the outputs), a thin layer over :mod:`pimsim.api`.

Every user error prints one line on stderr naming the file, the key and what was expected,
and exits with status 2 (no traceback).
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

import click
import numpy as np

from pimsim import __version__
from pimsim.errors import PimsimError

#: Output paths: checked by pimsim.atomic.check_output_path before any work (one-line errors,
#: a folder included), not by click.
OUT_PATH = click.Path()
SET_HELP = "override a config key, e.g. --set pim.adc_bits=5 (repeatable)"


def check_outputs(**paths: str | None) -> None:
    """Check output paths before any work (:func:`pimsim.atomic.check_output_path`); keyword
    names are the options (``json="o.json"`` is ``--json``)."""
    from pimsim.atomic import check_output_path

    for opt, path in paths.items():
        if path:
            check_output_path(path, key="--" + opt.replace("_", "-"))


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
@click.option("--hw", required=True, type=click.Path(dir_okay=False),
              help="hardware YAML, or a shipped config's name (pimsim configs)")
@click.option("--trace", "trace_path", required=True, type=click.Path(dir_okay=False),
              help="trace .npz (format v1 or v2, docs/trace-format.md)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--json", "json_out", type=OUT_PATH, help="write JSON here")
@click.option("--csv", "csv_out", type=OUT_PATH,
              help="write the per-layer table as CSV here")
@click.option("--wide", is_flag=True,
              help="every energy component and op count in its own column (wider than 120)")
def run(hw: str, trace_path: str, sets: tuple[str, ...], json_out: str | None,
        csv_out: str | None, wide: bool) -> None:
    """Simulate a trace on a hardware config: per-layer table and per-inference totals.

    HW is a YAML path or a shipped config's name (`pimsim configs` lists them)."""
    from pimsim.api import simulate
    from pimsim.report import run_table, write_csv, write_json

    check_outputs(json=json_out, csv=csv_out)
    cfg, trace = _load(hw, trace_path, sets)
    result = simulate(cfg, trace)
    click.echo(run_table(result, wide=wide))
    if json_out:
        write_json(json_out, result.to_json(), key="--json")
    if csv_out:
        write_csv(csv_out, result, key="--csv")


@cli.command()
@click.option("--hw", required=True, type=click.Path(dir_okay=False),
              help="hardware YAML, or a shipped config's name (pimsim configs)")
@click.option("--trace", "trace_path", required=True, type=click.Path(dir_okay=False),
              help="trace .npz (format v1 or v2, docs/trace-format.md)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--json", "json_out", type=OUT_PATH)
def compare(hw: str, trace_path: str, sets: tuple[str, ...], json_out: str | None) -> None:
    """The paper's table: CNN FP32, CNN INT-k, SNN digital, SNN + PIM first layer."""
    from pimsim.api import compare as do_compare
    from pimsim.report import compare_table, write_json

    check_outputs(json=json_out)
    cfg, trace = _load(hw, trace_path, sets)
    comp = do_compare(cfg, trace)
    click.echo(compare_table(comp))
    if json_out:
        write_json(json_out, comp.to_json(), key="--json")


@cli.command("configs")
@click.option("--spaces", is_flag=True, help="list the shipped sweep spaces instead")
def configs_cmd(spaces: bool) -> None:
    """List the shipped hardware configs (or sweep spaces) with their descriptions.

    Each NAME can be given to --hw (or --space, extends:) from any folder."""
    from pimsim.shipped import CONFIG_DIR, SPACE_DIR, shipped_configs, shipped_spaces

    items = shipped_spaces() if spaces else shipped_configs()
    folder = SPACE_DIR if spaces else CONFIG_DIR
    width = max(len(f.name) for f in items)
    click.echo(f"shipped {'sweep spaces' if spaces else 'hardware configs'} ({folder}):")
    for f in items:
        text = f.description
        first = re.split(r"(?<!\bal)\.\s+(?=[A-Z(])", text)[0].rstrip(".")
        if len(first) > 118 - width:
            first = first[:115 - width].rstrip() + "..."
        click.echo(f"  {f.name.ljust(width)}  {first}")
    other = "pimsim configs" if spaces else "pimsim configs --spaces"
    click.echo(f"(`pimsim config show NAME` prints one resolved; `{other}` lists the "
               f"{'configs' if spaces else 'sweep spaces'})")


@cli.group("config")
def config_group() -> None:
    """Show a resolved hardware config, or what differs between two."""


@config_group.command("show")
@click.argument("hw")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def config_show(hw: str, sets: tuple[str, ...]) -> None:
    """Print HW (a path or a shipped name) as resolved YAML with its sources: extends:,
    --set and technology scaling applied. The output loads as a config of its own."""
    from pimsim.config import load_config, parse_set_options
    from pimsim.config_view import resolved_yaml
    from pimsim.shipped import resolve_config

    overrides = parse_set_options(sets, file=hw)
    cfg = load_config(hw, overrides)
    click.echo(resolved_yaml(cfg, origin=resolve_config(hw), overrides=overrides), nl=False)


@config_group.command("diff")
@click.argument("hw_a")
@click.argument("hw_b")
@click.option("--sources", "with_sources", is_flag=True, help="compare the sources too")
def config_diff_cmd(hw_a: str, hw_b: str, with_sources: bool) -> None:
    """Print every key whose resolved value differs between HW_A and HW_B."""
    from pimsim.config import load_config
    from pimsim.config_view import config_diff

    rows = config_diff(load_config(hw_a), load_config(hw_b), sources=with_sources)
    if not rows:
        click.echo(f"{hw_a} and {hw_b} resolve to the same values")
        return
    kw = max(len(k) for k, _, _ in rows)
    va = max(len(hw_a), *(len(repr(a)) for _, a, _ in rows if len(repr(a)) <= 40))
    click.echo(f"{'key'.ljust(kw)}  {hw_a.ljust(va)}  {hw_b}")
    for key, a, b in rows:
        click.echo(f"{key.ljust(kw)}  {_short(a).ljust(va)}  {_short(b)}")


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@cli.group()
def trace() -> None:
    """Inspect, validate, synthesize and replay traces."""


@trace.command("info")
@click.argument("path", type=click.Path(dir_okay=False))
def trace_info(path: str) -> None:
    """Layers, shapes, samples, provenance, metrics, and spike rate per layer and step."""
    from pimsim.trace import load_trace, spike_rates

    tr = load_trace(path)
    m = tr.meta
    origin = tr.origin
    click.echo(f"{path}: {m['dataset']} / {m['model']}, {tr.num_samples} samples, "
               f"T = {tr.timesteps}, input {tr.input_bits} bits, weights {m['weight_bits']} bits")
    how = " (inferred: the trace predates the explicit fields)" if origin.inferred else ""
    click.echo(f"data: {origin.data}, trained network: {'yes' if origin.trained else 'no'}{how}")
    click.echo("provenance:")
    click.echo(indented_fields(tr.provenance, indent=2))
    if "metrics" in m:
        click.echo("metrics:")
        click.echo(indented_fields(m["metrics"], indent=2))
    click.echo("layers:")
    rates = spike_rates(tr)

    def per_channel(v: float | tuple[float, ...]) -> str:
        if not isinstance(v, tuple):
            return f"{v:.4g}"
        lo, hi = min(v), max(v)
        span = f"{lo:.4g}" if lo == hi else f"{lo:.4g}..{hi:.4g}"
        return f"[{span}] ({len(v)} ch)"

    for spec in tr.layers:
        geo = ""
        if spec.kind != "linear":
            geo = f" k{list(spec.kernel)} s{list(spec.stride)} p{list(spec.padding)}"
        line = (f"  {spec.name:10s} {spec.kind:7s} {list(spec.in_shape)} -> "
                f"{list(spec.out_shape)}{geo} in={spec.input}")
        if spec.is_pool:
            line += " OR over each window (no weights, no neuron)"
        else:
            line += (f" {spec.neuron} th={per_channel(spec.threshold)} "
                     f"leak={per_channel(spec.leak)}")
        if spec.bias_scale is not None:
            line += f" bias(scale {spec.bias_scale:.4g})"
        if spec.pool is not None:
            p = spec.pool
            line += (f" pool={p.kind} k{list(p.kernel)} s{list(p.stride)} p{list(p.padding)} "
                     f"of {list(spec.conv_shape)}")
        if spec.weighted and spec.neuron == "lif" and (spec.reset != "subtract"
                                                      or spec.reset_delay):
            line += f" reset={spec.reset}{' delayed' if spec.reset_delay else ''}"
        if spec.name in rates:
            r = rates[spec.name]
            line += (f"\n             input spike rate {r.mean():.4f}  per step: "
                     + " ".join(f"{x:.4f}" for x in r))
        click.echo(line)
    if origin.banner():
        click.echo(origin.banner())


def indented_fields(obj: Any, indent: int = 0, width: int = 110) -> str:
    """Nested mappings as indented ``key: value`` lines; long strings wrapped, short lists and
    numbers inline (for people; the JSON form is in the trace's meta)."""
    import textwrap

    pad = " " * indent
    lines: list[str] = []
    def scalar(v: Any) -> str:
        return f"{v:.6g}" if isinstance(v, float) else str(v)

    for key, value in obj.items():
        if isinstance(value, dict) and value and any(isinstance(v, (dict, list, str))
                                                     and len(str(v)) > 24
                                                     for v in value.values()):
            lines.append(f"{pad}{key}:")
            lines.append(indented_fields(value, indent + 2, width))
            continue
        if isinstance(value, dict):  # short fields on one wrapped line
            text = ", ".join(f"{k}={scalar(v)}" for k, v in value.items())
        elif isinstance(value, float):
            text = f"{value:.6g}"
        elif isinstance(value, (list, tuple)):
            text = ", ".join(scalar(v) for v in value)
        else:
            text = str(value)
        first = f"{pad}{key}: "
        lines.extend(textwrap.wrap(text, width, initial_indent=first,
                                   subsequent_indent=pad + "    ", break_on_hyphens=False)
                     or [first.rstrip()])
    return "\n".join(lines)


@trace.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
def trace_validate(path: str) -> None:
    """Check a trace against its format (v1 or v2); exit 0 when valid, 2 with the problem
    otherwise."""
    from pimsim.trace import load_trace

    tr = load_trace(path)
    click.echo(f"{path}: valid pimsim trace v{tr.version} ({len(tr.layers)} layers, {tr.num_samples} "
               f"samples, T = {tr.timesteps})")


@trace.command("synth")
@click.option("--out", required=True, type=OUT_PATH)
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

    check_outputs(out=out)
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
@click.option("--json", "json_out", type=OUT_PATH)
def trace_replay(path: str, json_out: str | None) -> None:
    """Re-run the SNN from the trace alone and compare with its stored spikes (docs/trace-format.md)."""
    from pimsim.replay import replay_trace
    from pimsim.report import write_json
    from pimsim.trace import load_trace

    check_outputs(json=json_out)
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
                              for k, v in rep.items()}, key="--json")


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
    except OSError as exc:  # a read or write the commands did not map (disk full, ...)
        where = f"{exc.filename}: " if exc.filename else ""
        text = " ".join((exc.strerror or str(exc) or type(exc).__name__).split())
        click.echo(f"pimsim: error: {where}{text}", err=True)
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
