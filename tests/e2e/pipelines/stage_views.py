"""Pipelines for the views of stages (`tasks(expand=True)`, the timeline); module level: workers import it."""

from __future__ import annotations

import pipeflow as pf
from tests.e2e.pipelines import arith

# {"counter", "fail_times": 2}: the stage's task fails twice, then its third attempt returns 3; then 3 + 1.
flaky_stage = pf.Pipeline(pf.chain(pf.stage(arith.flaky_retries2, name="flaky"), arith.inc),
                          name="stage_views.flaky_stage")
# The same task in a stage within a stage (unnamed outer: its row says "stage").
nested = pf.Pipeline(pf.chain(pf.stage(pf.stage(arith.flaky_retries2, name="inner"))), name="stage_views.nested")
# Over [1, 2, 3]: shards of 2 items, each a child execution; then their total.
sharded = pf.Pipeline(pf.chain(pf.map(arith.inc, shard_size=2), arith.total), name="stage_views.sharded")
