"""The benchmark harness: ``python -m benchmarks.run`` times every backend and mode on the same networks.

Each cell (backend × mode × model × batch size × threads) runs in R fresh subprocesses (:mod:`benchmarks.child`),
round by round (:mod:`benchmarks.schedule`), over the cells a sweep chooses (:mod:`benchmarks.sweeps`,
:mod:`benchmarks.cells`); :mod:`benchmarks.run` orchestrates, :mod:`benchmarks.results` stores every process,
:mod:`benchmarks.stats` gives the intervals and the tie rule, and :mod:`benchmarks.report` and
:mod:`benchmarks.plots` turn the folder into ``benchmark.md``, ``summary.md`` and PNG plots. DESIGN.md section 5 is
the method. Importing this package imports no framework.
"""
