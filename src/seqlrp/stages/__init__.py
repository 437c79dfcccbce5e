"""One module per Snakemake rule file: ``workflow/rules/X.smk`` -> ``scripts/<rule>.py`` -> ``seqlrp.stages.X``.

A stage module only reads its rule's inputs, calls the library (the other subpackages) and writes
its outputs; :mod:`.runner` is the glue every ``scripts/`` file goes through (logging, one-line
errors, clean-up after a killed run). Nothing outside this package imports a stage.
"""
