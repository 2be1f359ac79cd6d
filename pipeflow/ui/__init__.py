"""`pipeflow ui`: a web console for runs, served from this machine (needs `pipeflow[ui]`).

Server-rendered pages over the reads of `pipeflow.client` (the embedded state of this folder,
`pipeflow server`, or Amazon SWF), with a little script of its own for hovering, zooming and
live refresh; nothing is fetched from the internet.
"""

from ._app import create_app
from ._guard import Guard, is_loopback
from ._serve import serve
from ._source import Source

__all__ = [
    "Guard",
    "Source",
    "create_app",
    "is_loopback",
    "serve",
]
