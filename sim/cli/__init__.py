"""The ``routesim`` command: a thin layer over ``sim.api`` that parses, prints and exits.

One module per group of commands: ``run`` (run, rerun), ``compare``, ``backtest``, ``studies`` (sweep,
stress), ``uncertainty`` (sensitivity, discover) and ``files`` (validate, schema, targets, new); what
they share — consoles, safe text, exit codes, progress bars — is in ``output``, a run's tables in
``tables``.

Exit codes: 0 success; 1 results could not be written or an internal error; 2 bad input
(a scenario file, an option, a manifest) — with one line per problem and no traceback.
"""

from __future__ import annotations

import click

from sim import __version__
from sim.cli import backtest, compare, files, run, studies, uncertainty

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="routesim")
def cli() -> None:
    """routesim: what a disruption of Kazakhstan's crude-export routes costs.

    \b
    Examples:
      routesim run scenarios/cpc_court_suspension_2022.yaml
      routesim run scenarios/cpc_court_suspension_2022.yaml --seed 7 --set horizon="180 d"
      routesim validate scenarios/*.yaml
      routesim compare scenarios/baseline_2022.yaml scenarios/cpc_court_suspension_2022.yaml
      routesim targets scenarios/cpc_court_suspension_2022.yaml
      routesim new my_closure
      routesim rerun results/cpc_court_suspension_2022/<run-id>/manifest.json
    """


for _command in (
    run.run,
    run.rerun,
    compare.compare,
    backtest.backtest,
    studies.sweep,
    studies.stress,
    uncertainty.sensitivity,
    uncertainty.discover,
    files.validate,
    files.schema,
    files.targets,
    files.new_scenario,
):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``routesim`` console script."""
    cli(prog_name="routesim")
