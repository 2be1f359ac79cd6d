"""Pipelines with stages and sharded maps for the end-to-end tests (module level: worker processes import it)."""

from __future__ import annotations

import pipeflow as pf
from tests.e2e.pipelines import arith

# No retries of its own: only the stage's retry can run it again.
flaky_no_retry = pf.task(name="stages.flaky_no_retry")(arith._flaky)

# 0 -> 1, then the stage adds 2 in a child execution, then 1 more: 4.
stage_in_chain = pf.Pipeline(
    pf.chain(arith.inc, pf.stage(pf.chain(arith.inc, arith.inc), name="twice"), arith.inc), name="stages.in_chain"
)
# The stage's second step fails: the run fails with that step's error.
stage_fails = pf.Pipeline(pf.chain(arith.inc, pf.stage(pf.chain(arith.inc, arith.boom))), name="stages.fails")
# The stage's task fails on its first attempt; the stage's one retry runs it (and the stage) again.
stage_retried = pf.Pipeline(pf.chain(pf.stage(flaky_no_retry, retries=1)), name="stages.retried")
# Over [1, 2, 3]: a stage of a map; a map of stages in shards of 2; a stage holding a map and a stage.
nested = pf.Pipeline(
    pf.group(
        pf.stage(pf.map(arith.inc)),
        pf.chain(pf.map(pf.stage(arith.inc), shard_size=2), arith.total),
        pf.stage(pf.chain(pf.map(arith.inc), pf.stage(arith.total))),
    ),
    name="stages.nested",
)
# A map that shards by itself when long (20,000 items: no history may pass 10,000 events); the
# results come back as a list, so their order shows.
auto_sharded = pf.Pipeline(pf.map(arith.inc), name="stages.auto_sharded")
# Shards of 250 items asked for, then one more task over the joined list (in order).
sharded_250 = pf.Pipeline(pf.chain(pf.map(arith.inc, shard_size=250), arith.describe), name="stages.sharded_250")


@pf.task(name="stages.blob")
def blob(size: int) -> str:
    """A result over SWF's field limit: offloaded to the store."""
    return "x" * size


# The stage's result is offloaded by the child's worker: where it lands shows whose folder holds it.
big_stage = pf.Pipeline(pf.chain(pf.stage(blob), pf.task(name="stages.length")(len)), name="stages.big_stage")
