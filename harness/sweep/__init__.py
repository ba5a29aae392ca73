"""`utvm sweep`: one model over the cross product of targets, executors, weight placements, compiler
optimisation levels, tuning and build configurations, every cell checked against the model's own runtime.

plan     the axes from the command line (checked: a bad value is one line, exit 2) and their cross product
configs  a cell's build configuration (opt, weights, named config) applied to its target
devices  where cells run: local devices, or lab boards leased as the nightly leases them
run      the cells: models compiled once per tuning, images built in parallel (cached by content), run
         on as many devices as given, each row its figures or the error that stopped it
report   sweep.json, the `--json` document and report.html (self-contained SVG, Pareto front marked)
command  the command line
"""
