"""The pipelines of the recorded histories in tests/histories/ (their names are part of the files)."""

from __future__ import annotations

import pipeflow as pf
from pipeflow._pipeline import Pipeline

from .tasks import add, flaky, inc, total, upto

PIPELINES = {
    "chain_group": Pipeline(pf.chain(inc, pf.group(inc, add.s(2)), total), name="chain_group"),
    "map_retry": Pipeline(pf.chain(upto, pf.map(flaky, max_parallel=2), total), name="map_retry"),
    # Recorded when step 1 was `inc`; the code now says `add`: the history no longer matches.
    "changed": Pipeline(pf.chain(inc, add.s(1), total), name="changed"),
}
