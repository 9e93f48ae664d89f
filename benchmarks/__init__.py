"""The benchmark harness: ``python -m benchmarks.run`` times every backend and mode on the same networks.

Each cell (backend × mode × model × batch size × threads) runs in its own fresh subprocess
(:mod:`benchmarks.child`); :mod:`benchmarks.run` orchestrates, :mod:`benchmarks.report` and
:mod:`benchmarks.plots` turn ``results.csv`` into ``benchmark.md`` and PNG plots. DESIGN.md section 5 is the method.
Importing this package imports no framework.
"""
