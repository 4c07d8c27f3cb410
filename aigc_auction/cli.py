"""The ``aigc-auction`` command line (also ``python -m aigc_auction``).

Subcommands:

* ``run``   -- one auction, from arguments or a JSON/TOML file, printed as a table;
* ``sweep`` -- ``sweep CONFIG --out DIR``: a resumable parallel sweep, with a
  progress bar and a summary table; the results land in ``DIR/results.parquet``;
* ``plot``  -- ``plot DIR``: the figures of a finished sweep, in ``DIR/figures``;
* ``demo``  -- one auction per mechanism and user model, then the smoke sweep.

Exit codes: 0 success, 1 some sweep tasks failed (the others are saved),
2 bad usage or input (one line on stderr, no traceback), 130 interrupted (rerun
the same command to resume).

Numbering: advertisers, positions and the reading rank are all counted from 0,
as in :meth:`aigc_auction.Outcome.to_frame` (``rank`` 0 = read first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._optional import MissingDependencyError
from .analysis import summary_table  # public here too (aigc_auction.cli.summary_table)
from .exceptions import SweepError

if TYPE_CHECKING:
    from .instance import Instance
    from .outcome import Outcome

__all__ = ["main", "outcome_table", "summary_table"]

DEMO_OUT = "demo-output"


class UsageError(Exception):
    """Bad command-line input (reported without a traceback, exit code 2)."""


# -- helpers -----------------------------------------------------------------------
def outcome_table(outcome: Outcome, instance: Instance) -> str:
    """A readable table of one outcome: allocation, CTRs, per-click prices, totals.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> from aigc_auction.cli import outcome_table
    >>> inst = aa.Instance(ctr=[[0.5], [0.5]])
    >>> print(outcome_table(aa.VCG().run(inst, [0.9, 0.4]), inst))
     ad  bid position rank ctr(alone) ctr price/click payment
      0 0.90        0    0     0.5000 0.5      0.4000  0.2000
      1 0.40        -    -          -   0      0.0000  0.0000
    welfare 0.45  revenue 0.2  shown 1 of 2 (1 slot)

    ``ad``, ``position`` and ``rank`` (the reading rank, 0 = read first) count
    from 0, like :meth:`~aigc_auction.Outcome.to_frame`.
    """
    import pandas as pd

    rank = outcome.rank
    alone = [
        f"{instance.ctr[i, j]:.4f}" if j >= 0 else "-"
        for i, j in enumerate(outcome.assignment)
    ]
    df = pd.DataFrame({
        "ad": range(outcome.n_advertisers),
        "bid": [f"{b:.2f}" for b in outcome.bids],
        "position": [str(j) if j >= 0 else "-" for j in outcome.assignment],
        "rank": [str(r) if r >= 0 else "-" for r in rank],
        "ctr(alone)": alone,
        "ctr": [f"{c:.4g}" for c in outcome.ctr],
        "price/click": [f"{p:.4f}" for p in outcome.price_per_click],
        "payment": [f"{p:.4f}" for p in outcome.payments],
    })
    shown = int((outcome.assignment >= 0).sum())
    k = instance.slots
    totals = (f"welfare {outcome.welfare:.4g}  revenue {outcome.revenue:.4g}  "
              f"shown {shown} of {outcome.n_advertisers} ({k} slot{'s' if k > 1 else ''})")
    return df.to_string(index=False) + "\n" + totals


def _load_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path!r} is a directory; give a JSON or TOML file")
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    kind = "TOML" if p.suffix.lower() == ".toml" else "JSON"
    try:
        if kind == "TOML":
            return tomllib.loads(text.decode())
        data = json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path!r} is not valid {kind}: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path!r} nests arrays or tables too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path!r} must hold an object/table at the top level")
    return data


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- run -------------------------------------------------------------------------------
#: Keys of a ``run`` file (see ``docs/howto.md``).
RUN_KEYS = frozenset({
    "ctr", "slots", "bids", "mechanism", "mechanisms", "model", "model_params", "solver",
    "prior", "prior_loc", "prior_scale", "prior_shape", "prior_shape2", "seed",
    "generator", "n_advertisers", "n_positions",
})
_PRIOR_FLAT = ("prior_loc", "prior_scale", "prior_shape", "prior_shape2")


def _run_prior(spec: dict[str, Any], args: argparse.Namespace) -> Any:
    """The prior of ``run``: the file's ``prior`` (name, table or list, one per
    advertiser) or flat ``prior_*`` keys, overridden by ``--prior*`` options."""
    from .priors import prior_from_spec

    raw = spec.get("prior", "uniform")
    flat = {k: spec[k] for k in _PRIOR_FLAT if k in spec}
    cli = {k: getattr(args, k) for k in _PRIOR_FLAT if getattr(args, k) is not None}
    if args.prior is not None:
        raw = args.prior
    if flat or cli:
        if isinstance(raw, str):
            raw = {"name": raw}
        elif not isinstance(raw, dict):
            raise UsageError("`prior_loc`, `prior_scale`, `prior_shape` and `prior_shape2` "
                             "go with a single prior; for per-advertiser priors give "
                             "each its own table in the `prior` list")
        table = dict(raw)
        for k, v in {**flat, **cli}.items():
            table.pop(k.removeprefix("prior_"), None)
            table[k] = v
        raw = table
    return prior_from_spec(raw)


def _print_market(inst: Instance, bids: Any, *, drawn: bool, random_bids: bool,
                  spec: dict[str, Any], prior: Any) -> None:
    """Show the market ``run`` drew (so that the outcome can be read against it)."""
    import numpy as np

    if drawn:
        print(f"random market (generator {spec.get('generator', 'lowrank')!r}, seed "
              f"{spec.get('seed', 0)}): standalone CTR p[i, j] (rows: advertisers, "
              "columns: positions):")
        print(np.array2string(inst.ctr, precision=4, suppress_small=True))
    if random_bids:
        names = sorted({_prior_label(p) for p in (prior if isinstance(prior, list)
                                                  else [prior])})
        print(f"bids = values drawn from {' / '.join(names)} (truthful): "
              f"{np.array2string(bids, precision=4)}")


def _prior_label(prior: Any) -> str:
    from .priors import _describe

    return _describe(prior)


def _cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    from . import generators as gen
    from .instance import Instance
    from .mechanisms import get_mechanism
    from .models import get_model

    spec: dict[str, Any] = _load_file(args.file) if args.file else {}
    unknown = sorted(set(spec) - RUN_KEYS)
    if unknown:
        raise UsageError(f"unknown key(s) {unknown} in {args.file!r}; valid: {sorted(RUN_KEYS)}")
    for key in ("ctr", "slots", "bids", "solver", "seed", "generator", "n_advertisers",
                "n_positions"):
        value = getattr(args, key)
        if value is not None:
            spec[key] = value
    if args.mechanism:
        spec["mechanisms"] = args.mechanism
    if args.model:
        spec["model"] = args.model
    if args.model_param:
        params = spec.get("model_params", {})
        if not isinstance(params, dict):
            raise UsageError(f"`model_params` must be a table; got {params!r}")
        params = dict(params)
        for item in args.model_param:
            if "=" not in item:
                raise UsageError(f"--model-param must look like KEY=VALUE; got {item!r}")
            k, v = item.split("=", 1)
            params[k] = _parse_value(v)
        spec["model_params"] = params
    prior = _run_prior(spec, args)
    seed = spec.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"`seed` must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng(seed)
    drawn = "ctr" not in spec
    if not drawn:
        ctr = spec["ctr"]
        if isinstance(ctr, str):
            try:
                ctr = json.loads(ctr)
            except ValueError:
                raise UsageError(f"--ctr must be a JSON matrix; got {ctr!r}") from None
            except RecursionError:
                raise UsageError("--ctr nests lists too deeply; give a 2-D matrix such "
                                 "as [[0.3, 0.1], [0.2, 0.25]]") from None
    else:
        ctr = gen.generate_ctr(spec.get("generator", "lowrank"),
                               spec.get("n_advertisers", 5), spec.get("n_positions", 4),
                               rng=rng)
    inst = Instance(ctr=ctr, slots=spec.get("slots"))
    bids: Any = spec.get("bids")
    random_bids = bids is None
    if isinstance(prior, list) and len(prior) != inst.n_advertisers:
        raise UsageError(f"`prior` lists {len(prior)} priors for {inst.n_advertisers} "
                         "advertisers; give one per advertiser")
    if random_bids:
        if isinstance(prior, list):
            bids = np.array([gen.draw_values(p, 1, rng=rng)[0] for p in prior])
        else:
            bids = gen.draw_values(prior, inst.n_advertisers, rng=rng)
    mechs = spec.get("mechanisms", spec.get("mechanism", ["vcg", "myerson"]))
    mechs = [mechs] if isinstance(mechs, str) else mechs
    if not isinstance(mechs, list) or not mechs:
        raise UsageError(f"`mechanisms` must be a name or a non-empty list; got {mechs!r}")
    model_params = spec.get("model_params", {})
    if not isinstance(model_params, dict):
        raise UsageError(f"`model_params` must be a table; got {model_params!r}")
    model = get_model(spec.get("model", "mnl"), **model_params)
    if (drawn or random_bids) and not args.json:
        _print_market(inst, np.asarray(bids, dtype=float), drawn=drawn,
                      random_bids=random_bids, spec=spec, prior=prior)
    results = []
    for name in mechs:
        extra = {"prior": prior} if isinstance(name, str) and name.lower() == "myerson" else {}
        mech = get_mechanism(name, model, solver=spec.get("solver"), **extra)
        out = mech.run(inst, bids)
        results.append(out)
        if not args.json:
            print(f"\n{name.upper()} under {model!r} (solver {out.solver}), {inst!r}")
            print(outcome_table(out, inst))
    if args.json:
        print(json.dumps({"instance": inst.to_dict(),
                          "outcomes": [o.to_dict() for o in results]}, indent=2))
    return 0


# -- sweep -------------------------------------------------------------------------
def _backend_from_args(args: argparse.Namespace) -> Any:
    from .sweep import DaskBackend

    if args.scheduler is not None:
        return DaskBackend(args.scheduler, n_workers=args.workers)
    return args.workers  # None: all cores


def _raise_interrupt(signum: int, frame: Any) -> None:
    from .sweep.runner import request_stop

    request_stop()  # stops the sweep at the next chunk even if this raise is swallowed
    raise KeyboardInterrupt


def _sweep(config: str | Path, out: str | Path, args: argparse.Namespace) -> int:
    import warnings

    from .sweep import SweepWarning, load_config, run_sweep

    try:
        cfg = load_config(config)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"invalid config {str(config)!r}: {exc}") from None
    allocs = cfg.n_tasks * cfg.allocations_per_task
    extra = f" + {allocs} allocations (no payments)" if allocs else ""
    print(f"sweep {cfg.name!r}: {cfg.n_points} grid point(s) x {cfg.replicates} "
          f"replicate(s) = {cfg.n_tasks} tasks, {cfg.n_tasks * cfg.auctions_per_task} "
          f"auctions{extra} -> {out}", flush=True)
    # Ctrl-C and SIGTERM both set the stop flag too: an interrupt that library
    # code swallowed still stops the sweep after the chunk it is waiting for
    previous = {sig: signal.signal(sig, _raise_interrupt)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    backend = None
    try:
        backend = _backend_from_args(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SweepWarning)
            df = run_sweep(cfg, executor=backend, out=out, progress=not args.no_progress,
                           chunk_size=args.chunk_size, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished tasks are saved in {out}; rerun the same "
              "command to resume", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if backend is not None and not isinstance(backend, int):
            backend.close()
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 20,
                           "display.float_format", "{:.4f}".format):
        print("\nsummary (means over all grid points and replicates):")
        print(summary_table(df).to_string())
    print(f"\n{len(df)} rows -> {Path(out) / 'results.parquet'}")
    failures = df.attrs.get("failures", [])
    for w in caught:
        if not issubclass(w.category, SweepWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif "sweep tasks failed (rerun to retry)" not in str(w.message):
            print(f"warning: {w.message}", file=sys.stderr)  # e.g. a quarantined shard
    if failures:
        print(f"\n{len(failures)} task(s) failed (details in {Path(out) / 'failures.json'}; "
              "rerun the same command to retry them):", file=sys.stderr)
        for f in failures[:10]:
            print(f"  task {f['task']} params {f['params']} rep {f['rep']} seed {f['seed']}: "
                  f"{f['error']}", file=sys.stderr)
        return 1
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    return _sweep(args.config, args.out, args)


# -- plot -------------------------------------------------------------------------
def _cmd_plot(args: argparse.Namespace) -> int:
    from .plotting import plot_sweep

    folder = Path(args.dir)
    results = folder / "results.parquet" if folder.is_dir() else folder
    if not results.is_file():
        raise UsageError(f"no results at {str(results)!r}; run `aigc-auction sweep` first")
    import pandas as pd

    df = pd.read_parquet(results)
    out = Path(args.out) if args.out else results.parent / "figures"
    cfg = results.parent / "config.json"  # the sweep's config, for the figure captions
    written = plot_sweep(df, out, fmt=args.format, x=args.x,
                         config=cfg if cfg.is_file() else None)
    for path in written:
        print(path)
    return 0


# -- demo -------------------------------------------------------------------------
def _find_smoke() -> Path:
    from .data import example_config  # shipped in the wheel (package data)

    return example_config("smoke")


def _usable(model: str, registered: list[str]) -> bool:
    """Whether ``model`` is registered with at least one solver."""
    from .solvers import available_solvers

    if model not in registered:
        return False
    try:
        return bool(available_solvers(model))
    except ValueError:
        return False


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from . import generators as gen
    from .instance import Instance
    from .mechanisms import get_mechanism
    from .models import available_models, get_model

    rng = np.random.default_rng(args.seed)
    ctr = gen.lowrank_ctr(5, 4, rank=2, scale=1.5, rng=rng)
    prior = gen.value_prior("uniform")
    values = gen.draw_values(prior, 5, rng=rng)
    inst = Instance(ctr=ctr, slots=3)
    print("== One auction per mechanism and user model ==")
    print(f"{inst!r}: 5 creatives, 4 candidate positions in the generated text, at "
          "most 3 ads; values ~ U[0, 1], bids truthful")
    print("standalone CTR p[i, j] (rows: creatives, columns: positions):")
    print(np.array2string(ctr, precision=3, suppress_small=True))
    models = [m for m in ("mnl", "cascade") if _usable(m, available_models())]
    for model_name in models:
        model = get_model(model_name)
        for mech_name in ("vcg", "myerson"):
            extra = {"prior": prior} if mech_name == "myerson" else {}
            mech = get_mechanism(mech_name, model, **extra)
            out = mech.run(inst, values)
            print(f"\n{mech_name.upper()} under {model!r} (solver {out.solver}):")
            print(outcome_table(out, inst))
    config = Path(args.config) if args.config else _find_smoke()
    out_dir = Path(args.out)
    print(f"\n== Smoke sweep {config} -> {out_dir}/ ==", flush=True)
    args.overwrite = True  # the demo always starts fresh
    code = _sweep(config, out_dir, args)
    if code not in (0, 1):
        return code
    import pandas as pd

    from .plotting import plot_sweep

    written = plot_sweep(pd.read_parquet(out_dir / "results.parquet"),
                         out_dir / "figures", config=out_dir / "config.json")
    print("\nfigures:")
    for path in written:
        print(f"  {path}")
    print(f"\nresults: {out_dir / 'results.parquet'}  (plot again with "
          f"`aigc-auction plot {out_dir}`)")
    return code


# -- parser -------------------------------------------------------------------------
def _count(text: str) -> int:
    """An argparse type: a non-negative whole number, also written like ``1e6``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
    if not value.is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0; got {text!r}")
    return int(value)


def _real(text: str) -> float:
    """An argparse type: a finite real number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


def _add_parallel(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=_count, default=None, metavar="N",
                   help="worker processes (default: all cores; 1 runs in this process); "
                        "with --scheduler local, the LocalCluster's workers")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run on Dask: 'local' starts a LocalCluster, otherwise the "
                        "address of a running scheduler (e.g. tcp://host:8786)")
    p.add_argument("--chunk-size", type=_count, default=None, metavar="TASKS",
                   help="tasks per chunk/shard (default: about 8 chunks per worker)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``aigc-auction``."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="aigc-auction",
        description="Ad auctions inside AI-generated content: run one auction, "
                    "sweep many markets, plot the results.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run one auction and print the outcome",
        description="Run one auction and print each mechanism's outcome (advertisers, "
                    "positions and the reading rank count from 0). Without --ctr or a "
                    "file, a random market is drawn and printed (see --generator, --seed); "
                    "without --bids, truthful bids are drawn from --prior and printed. "
                    "Options override the file's keys.",
        epilog="FILE keys (JSON object or TOML table; see docs/howto.md): ctr (matrix), "
               "slots, bids (one per advertiser), mechanisms (name or list), model, "
               "model_params (table), solver, seed, generator, n_advertisers, "
               "n_positions, and prior: a scipy.stats name, a table {name, loc, scale, "
               "shape, shape2}, or a list of such tables, one per advertiser; flat "
               "prior_loc, prior_scale, prior_shape, prior_shape2 keys (the sweep "
               "spelling) set the parameters of a single prior.",
    )
    run.add_argument("file", nargs="?", metavar="FILE",
                     help="JSON or TOML file describing the auction (keys below)")
    run.add_argument("--ctr", help="CTR matrix as JSON, e.g. '[[0.3, 0.1], [0.2, 0.25]]'")
    run.add_argument("--bids", type=float, nargs="+", help="one bid per advertiser "
                     "(default: values drawn from --prior)")
    run.add_argument("--slots", type=_count, help="most ads shown (default: all positions)")
    run.add_argument("--mechanism", action="append", metavar="NAME",
                     help="vcg or myerson (repeatable; default: both)")
    run.add_argument("--model", help="user model: mnl or cascade (default mnl)")
    run.add_argument("--model-param", action="append", metavar="KEY=VALUE",
                     help="user-model parameter, e.g. continue_after_skip=0.8")
    run.add_argument("--solver", help="allocation solver (see aa.available_solvers)")
    run.add_argument("--prior", help="value prior for Myerson and random bids "
                     "(scipy.stats name, default uniform on [0, 1])")
    run.add_argument("--prior-loc", type=_real, dest="prior_loc", metavar="X",
                     help="location of --prior (default 0)")
    run.add_argument("--prior-scale", type=_real, dest="prior_scale", metavar="X",
                     help="scale of --prior (default 1)")
    run.add_argument("--prior-shape", type=_real, dest="prior_shape", metavar="X",
                     help="first shape parameter of --prior, in scipy's order "
                          "(e.g. s of lognorm, a of gamma)")
    run.add_argument("--prior-shape2", type=_real, dest="prior_shape2", metavar="X",
                     help="second shape parameter of --prior (e.g. b of beta)")
    run.add_argument("--generator", help="uniform, separable or lowrank (random market; "
                     "default lowrank)")
    run.add_argument("--n-advertisers", type=_count, dest="n_advertisers", metavar="N",
                     help="advertisers of the random market (default 5)")
    run.add_argument("--n-positions", type=_count, dest="n_positions", metavar="M",
                     help="candidate positions of the random market (default 4)")
    run.add_argument("--seed", type=_count, help="seed of the random market and bids "
                     "(default 0)")
    run.add_argument("--json", action="store_true", help="print JSON instead of tables")
    run.set_defaults(func=_cmd_run)

    sw = sub.add_parser("sweep", help="run a sweep config (resumable, parallel)",
                        description="Run a TOML sweep config; rerunning on the same DIR "
                                    "resumes it. The table lands in DIR/results.parquet.")
    sw.add_argument("config", help="TOML sweep config (see docs/sweeps.md)")
    sw.add_argument("--out", required=True, metavar="DIR",
                    help="output folder (locked while the sweep runs)")
    sw.add_argument("--overwrite", action="store_true",
                    help="delete the files a previous sweep wrote in DIR first (only "
                         "those its manifest lists)")
    _add_parallel(sw)
    sw.set_defaults(func=_cmd_sweep)

    pl = sub.add_parser("plot", help="plot the results of a sweep",
                        description="Write the figures of DIR/results.parquet to "
                                    "DIR/figures.")
    pl.add_argument("dir", metavar="DIR", help="sweep folder (or a results .parquet file)")
    pl.add_argument("--out", metavar="FIGDIR", help="figure folder (default DIR/figures)")
    pl.add_argument("--format", default="png", choices=["png", "pdf", "svg"],
                    help="figure file format (default png)")
    pl.add_argument("--x", help="swept column for the x axis (default: the first one)")
    pl.set_defaults(func=_cmd_plot)

    demo = sub.add_parser("demo", help="one auction per mechanism, then the smoke sweep",
                          description="Print one auction of each mechanism and user model, "
                                      "then run experiments/configs/smoke.toml.")
    demo.add_argument("--out", default=DEMO_OUT, metavar="DIR",
                      help=f"output folder (default {DEMO_OUT}/)")
    demo.add_argument("--config", help="sweep config (default experiments/configs/smoke.toml)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the example auction")
    _add_parallel(demo)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aigc-auction``; returns the exit code.

    Examples
    --------
    >>> from aigc_auction.cli import main
    >>> main(["run", "--ctr", "[[0.5], [0.5]]", "--bids", "0.9", "0.4",
    ...       "--mechanism", "vcg"])  # doctest: +ELLIPSIS
    <BLANKLINE>
    VCG under MNL() (solver ...), Instance(n_advertisers=2, n_positions=1, slots=1)
     ad  bid position rank ctr(alone) ctr price/click payment
      0 0.90        0    0     0.5000 0.5      0.4000  0.2000
    ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # the reader went away (e.g. `aigc-auction plot DIR | head`): stop quietly
        _silence_stdout()
        return 0
    except (UsageError, ValueError, TypeError, MissingDependencyError) as exc:
        return _fail(args.command, exc)
    except SweepError as exc:
        return _fail(args.command, exc)
    except RecursionError:
        return _fail(args.command, "the input nests lists or tables too deeply")
    except MemoryError:
        return _fail(args.command, "out of memory; choose a smaller input")
    except OSError as exc:
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        return _fail(args.command, f"cannot access{where}: {exc.strerror or exc}")


def _fail(command: str, exc: BaseException | str) -> int:
    """Report an input error on one line of stderr; return exit code 2."""
    text = " ".join(str(exc).split()) if not isinstance(exc, str) else exc
    with contextlib.suppress(BrokenPipeError):  # stderr closed too
        print(f"aigc-auction {command}: error: {text}", file=sys.stderr)
    return 2


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured)
        pass
