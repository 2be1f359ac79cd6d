"""Hypothesis strategies for values every codec must round-trip, and a type-aware equality."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from hypothesis import strategies as st

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.datetimes(timezones=st.none() | st.just(dt.timezone.utc) | st.timezones(), allow_imaginary=False),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=False),
    st.uuids(),
    st.binary(),
)

hashables = st.recursive(
    scalars,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)

values = st.recursive(
    hashables,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=5), children, max_size=5),
        st.dictionaries(hashables, children, max_size=4),
        st.sets(hashables, max_size=4),
    ),
    max_leaves=20,
)

plain_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, and with the same time zones."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, (dt.datetime, dt.time)):
        key = getattr(a.tzinfo, "key", None)
        return a == b and key == getattr(b.tzinfo, "key", None) and a.utcoffset() == b.utcoffset()
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)
