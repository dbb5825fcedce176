"""`riskwire models`: list, promote, roll back and shadow on a registry (no services)."""

from __future__ import annotations

from click.testing import CliRunner

from cli.main import main


def test_list_promote_shadow_rollback(candidate_registry):
    reg = candidate_registry
    first = reg.current()
    run = CliRunner()
    root = ["--model-dir", str(reg.root)]

    listed = run.invoke(main, ["models", "list", *root])
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line for line in listed.output.splitlines()[1:]}
    assert set(lines) == {first, "v2-candidate"} and "current" in lines[first]

    assert run.invoke(main, ["models", "shadow", "v2-candidate", *root]).exit_code == 0
    assert reg.shadow() == "v2-candidate" and reg.current() == first
    assert "shadow" in run.invoke(main, ["models", "list", *root]).output

    promoted = run.invoke(main, ["models", "promote", "v2-candidate", *root])
    assert promoted.exit_code == 0 and reg.current() == "v2-candidate"
    assert run.invoke(main, ["models", "rollback", *root]).exit_code == 0 and reg.current() == first
    assert run.invoke(main, ["models", "shadow", *root]).exit_code == 0 and reg.shadow() is None

    missing = run.invoke(main, ["models", "promote", "nope", *root])
    assert missing.exit_code != 0 and "nope" in missing.output and reg.current() == first
