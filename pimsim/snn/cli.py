"""Click commands of the ``[train]`` extra: ``pimsim train``, ``pimsim export``, ``pimsim data``.

PyTorch is imported only inside the commands that need it, so ``pimsim --help`` works without it.
Every :class:`~pimsim.errors.PimsimError` is re-raised as a one-line ``click`` error (exit 2).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from pimsim.errors import PimsimError


def _one_line_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PimsimError as exc:
            click.echo(f"Error: {exc.one_line()}", err=True)
            sys.exit(2)
        except ModuleNotFoundError as exc:
            if exc.name in ("torch", "sklearn", "scipy"):
                click.echo(f"Error: {exc.name} is missing: install the [train] extra "
                           "(pip install torch==2.13.0, then pip install 'pimsim[train]')",
                           err=True)
                sys.exit(2)
            raise
    return wrapper


def _default_data_dir() -> str:
    return os.environ.get("PIMSIM_DATA_DIR", "data")


# ----------------------------------------------------------------------------- data


@click.group("data")
def data_group() -> None:
    """Hyperspectral scenes: download, build surrogates, inspect."""


@data_group.command("fetch")
@click.option("--dataset", required=True, help="indian_pines | indian_pines_uint8 | "
              "pavia_university | salinas")
@click.option("--dir", "directory", default=_default_data_dir, show_default="data",
              type=click.Path(file_okay=False), help="Where to store the .mat files.")
@click.option("--base-url", default=None, envvar="PIMSIM_DATA_BASE_URL",
              help="Fetch <base-url>/<file name> instead of the GIC page (also "
                   "$PIMSIM_DATA_BASE_URL).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_one_line_errors
def data_fetch(dataset: str, directory: str, base_url: str | None, quiet: bool) -> None:
    """Download a scene (cube + ground truth), resuming partial downloads; verify key, shape
    and sha256 (where published)."""
    from pimsim.snn.data import fetch_dataset

    for p in fetch_dataset(dataset, directory, base_url=base_url, progress=not quiet):
        click.echo(f"ok {p}")


@data_group.command("synth")
@click.option("--like", required=True,
              type=click.Choice(["indian_pines", "pavia_university", "salinas"]))
@click.option("--dir", "directory", default=_default_data_dir, show_default="data",
              type=click.Path(file_okay=False))
@click.option("--gt-dir", default=None, type=click.Path(file_okay=False),
              help="Where the real *_gt.mat is (default: --dir, then $PIMSIM_SHARED_DATA).")
@click.option("--seed", default=0, show_default=True, type=int)
@_one_line_errors
def data_synth(like: str, directory: str, gt_dir: str | None, seed: int) -> None:
    """Build a SURROGATE scene (synthetic spectra on the real ground-truth map)."""
    from pimsim.snn.data import synth_scene

    p = synth_scene(like, directory, gt_dir=gt_dir, seed=seed)
    click.echo(f"wrote {p} (SURROGATE scene: synthetic spectra on the real {like} ground truth)")


@data_group.command("info")
@click.option("--dataset", required=True)
@click.option("--data-dir", default=_default_data_dir, show_default="data",
              type=click.Path(file_okay=False))
@_one_line_errors
def data_info(dataset: str, data_dir: str) -> None:
    """Load a scene and print its shape, classes, HybridSN split and provenance."""
    import numpy as np

    from pimsim.snn.data import hybridsn_split, labelled_pixels, load_scene

    scene = load_scene(dataset, data_dir)
    _, labels = labelled_pixels(scene.gt)
    tr, te = hybridsn_split(labels)
    tag = " [SURROGATE/synthetic]" if scene.synthetic else ""
    click.echo(f"{dataset}{tag}: cube {scene.cube.shape} values "
               f"[{scene.cube.min():g}, {scene.cube.max():g}], {scene.classes} classes, "
               f"{labels.size} labelled pixels, split {tr.size}/{te.size} (train/test)")
    click.echo("per-class counts: " + " ".join(str(int(c)) for c in np.bincount(labels)))
    click.echo(f"provenance: {scene.provenance.get('data')}")


# ----------------------------------------------------------------------------- train/export


@click.command("train")
@click.option("--dataset", required=True, help="A name from 'pimsim data', e.g. "
              "indian_pines_uint8 or salinas_surrogate.")
@click.option("--data-dir", default=_default_data_dir, show_default="data",
              type=click.Path(file_okay=False))
@click.option("--model", default="hybrid", show_default=True, type=click.Choice(["hybrid", "3d"]))
@click.option("--run-dir", default=None, type=click.Path(file_okay=False),
              help="Checkpoint directory (default runs/<dataset>_<model>); resumes if present.")
@click.option("--fresh", is_flag=True, help="Discard an existing checkpoint in --run-dir.")
@click.option("--components", default=None, type=int,
              help="PCA components (default 30 IP, 15 PU/SA).")
@click.option("--window", default=25, show_default=True, type=int)
@click.option("--timesteps", default=5, show_default=True, type=int)
@click.option("--weight-bits", default=6, show_default=True, type=int)
@click.option("--input-bits", default=8, show_default=True, type=int)
@click.option("--cnn-epochs", default=15, show_default=True, type=int)
@click.option("--qat-epochs", default=3, show_default=True, type=int)
@click.option("--snn-epochs", default=2, show_default=True, type=int)
@click.option("--batch-size", default=256, show_default=True, type=int)
@click.option("--snn-batch-size", default=32, show_default=True, type=int)
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--qat-lr", default=1e-4, show_default=True, type=float)
@click.option("--snn-lr", default=1e-4, show_default=True, type=float)
@click.option("--train-fraction", default=1.0, show_default=True, type=float,
              help="Stratified fraction of the 30 % training split used.")
@click.option("--eval-fraction", default=1.0, show_default=True, type=float,
              help="Stratified fraction of the test split used for the reported metrics.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--init", "init", default="default", show_default=True,
              type=click.Choice(["default", "lsuv"]),
              help="Weight init: PyTorch default, or LSUV-like data-dependent scaling.")
@click.option("--threads", default=2, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:i]")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Also export a trace here when training is done.")
@click.option("--samples", default=64, show_default=True, type=int,
              help="Test samples in the exported trace (stratified).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_one_line_errors
def train_cmd(dataset: str, data_dir: str, model: str, run_dir: str | None, fresh: bool,
              components: int | None, window: int, timesteps: int, weight_bits: int,
              input_bits: int, cnn_epochs: int, qat_epochs: int, snn_epochs: int,
              batch_size: int, snn_batch_size: int, lr: float, qat_lr: float, snn_lr: float,
              train_fraction: float, eval_fraction: float, seed: int, init: str,
              threads: int, device: str,
              out: str | None, samples: int, quiet: bool) -> None:
    """Train CNN -> 6-bit CNN -> SNN (conversion + surrogate gradients); resumable."""
    from pimsim.snn.data import get_spec
    from pimsim.snn.train import TrainConfig, Trainer, report_lines

    get_spec(dataset)
    if not 0.0 < train_fraction <= 1.0 or not 0.0 < eval_fraction <= 1.0:
        raise PimsimError("fractions must be in (0, 1]", key="train-fraction/eval-fraction")
    if not 2 <= weight_bits <= 16:
        raise PimsimError(f"expected 2..16, got {weight_bits}", key="weight-bits")
    if input_bits not in range(1, 17):
        raise PimsimError(f"expected 1..16, got {input_bits}", key="input-bits")
    if timesteps < 1:
        raise PimsimError(f"expected >= 1, got {timesteps}", key="timesteps")
    run_dir = run_dir or str(Path("runs") / f"{dataset}_{model}")
    ck = Path(run_dir) / "checkpoint.pt"
    if fresh and ck.exists():
        ck.unlink()
    cfg = TrainConfig(dataset=dataset, data_dir=data_dir, model=model, components=components,
                      window=window, input_bits=input_bits, weight_bits=weight_bits,
                      timesteps=timesteps, cnn_epochs=cnn_epochs, qat_epochs=qat_epochs,
                      snn_epochs=snn_epochs, batch_size=batch_size,
                      snn_batch_size=snn_batch_size, lr=lr, qat_lr=qat_lr, snn_lr=snn_lr,
                      train_fraction=train_fraction, eval_fraction=eval_fraction, seed=seed,
                      init=init)
    trainer = Trainer(cfg, run_dir, device=device, threads=threads, progress=not quiet,
                      log=lambda m: click.echo(m, err=True))
    if out and not 1 <= samples <= trainer.data.test_idx.size:
        raise PimsimError(f"asked for {samples} samples but the test set has "
                          f"{trainer.data.test_idx.size}", key="samples")
    if trainer.data.synthetic:
        click.echo(f"NOTE: {dataset} is a SURROGATE scene (synthetic spectra); results say so.",
                   err=True)
    metrics = trainer.run()
    for line in report_lines(dataset, trainer.data.synthetic, metrics):
        click.echo(line)
    if out:
        from pimsim.snn.export import export_run

        path, info = export_run(trainer, out, samples=samples, command=_command_line())
        click.echo(f"wrote {path} ({info})")


@click.command("export")
@click.option("--run-dir", required=True, type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@click.option("--samples", default=64, show_default=True, type=int)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Override the data directory stored in the checkpoint.")
@click.option("--seed", default=0, show_default=True, type=int, help="Sample selection seed.")
@_one_line_errors
def export_cmd(run_dir: str, out: str, samples: int, data_dir: str | None, seed: int) -> None:
    """Export a trace (docs/trace-format.md) from a finished training run."""
    from pimsim.snn.export import export_run, trainer_from_run

    trainer = trainer_from_run(run_dir, data_dir=data_dir)
    path, info = export_run(trainer, out, samples=samples, seed=seed, command=_command_line())
    click.echo(f"wrote {path} ({info})")


def _command_line() -> str:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]]
    return " ".join(argv)
