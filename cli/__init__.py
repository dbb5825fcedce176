"""The `riskwire` command line (click): one module per verb, wired in
``cli.main``; verbs import their heavy dependencies lazily so `--help` is fast.
"""

__all__: list[str] = []
