"""A pipeline with Lambda steps (run by the stand-in off Amazon), one of them in a stage, and a class task."""

import pipeflow as pf


@pf.task(lambda_function="e2e-split")
def split(x: int) -> list[int]:
    return [x, x + 1]


@pf.task(lambda_function="e2e-square", retries=1, retry_delay=0)
def square(x: int) -> int:
    return x * x


@pf.task
class Total:
    def __call__(self, values: list[int]) -> int:
        return sum(values)


pipeline = pf.chain(split, pf.map(square), Total, pf.stage(square))
