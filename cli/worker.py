"""`riskwire worker` and `riskwire api`."""

from __future__ import annotations

import click


@click.command()
@click.option("--loglevel", default="info", show_default=True)
def worker(loglevel: str) -> None:
    """Run the scoring worker (Faust) until Ctrl-C or SIGTERM."""
    from contracts.settings import get_settings
    from stream.runner import run_worker

    run_worker(get_settings(), loglevel=loglevel)


@click.command()
@click.option("--host", default=None, help="Bind address (default: RISKWIRE_API_HOST, loopback).")
@click.option("--port", type=int, default=None, help="Port (default: RISKWIRE_API_PORT).")
def api(host: str | None, port: int | None) -> None:
    """Serve the decision API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.main import create_app
    from contracts.settings import get_settings

    s = get_settings()
    uvicorn.run(create_app(s), host=host or s.api_host, port=port or s.api_port, log_level="info")
