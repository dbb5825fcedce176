"""`python -m cli` is the `riskwire` command (used where the script is not on PATH)."""

from cli.main import main

main(prog_name="riskwire")
