"""`python -m pipeflow`: the same entry point as the `pipeflow` console script."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
