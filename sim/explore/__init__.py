"""Exploratory modelling on the engine: parameter sweeps, reverse stress tests, global sensitivity.

Every study runs ensembles through ``sim.ensemble.run_ensemble`` on common random numbers
(the same seed at every point), so differences between points come from the parameters,
not from the draws, and a seed fixes every table bit for bit.

* ``sim.explore.params``      parameter specs (``PATH=10d:180d:10d``, ``PATH=2,4,8``, bounds)
  and scenario points (a set of ``--set``-style overrides);
* ``sim.explore.sweep``       grids of ensembles, metric percentiles per point;
* ``sim.explore.stress``      bisection for the break of a threshold, and route survival times;
* ``sim.explore.sensitivity`` Sobol and Morris indices with SALib (optional extra);
* ``sim.explore.discovery``   the box of inputs where a metric passes a threshold (PRIM, from the
  EMA Workbench, optional extra);
* ``sim.explore.figures``     their plots;
* ``sim.explore.output``      their run folders (table, plot, manifest), written atomically.

Layering: these modules sit beside ``sim.api`` (they import scenario, engine, ensemble,
results and plots, never ``sim.api`` or ``sim.cli``).
"""
