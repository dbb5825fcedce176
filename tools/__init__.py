"""Developer tools that are not part of the product or of ``make test`` (``make mutate``)."""

__all__: list[str] = []
