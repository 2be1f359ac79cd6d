"""`@pf.task(cache=True)`: a task's result reused across runs, keyed by what it computes from.

The key is the sha256 of (task name, version, the activity input's piped value, args and
kwargs as encoded), references normalised to codec, size and sha256 (their locations differ
from run to run, their content does not). An entry is `<root>/cache/<key>`: the result's
envelope. A result offloaded to the run's folder is copied to `<root>/cache/objects/<sha256>`
first and the entry points there, so `pipeflow gc` of the run that made it cannot break it
(gc leaves `cache/` alone: it has no run manifest). Without a store there is no cache.

The cache is best effort: an entry that cannot be read is a miss, one that cannot be written
is logged and the task's result returned all the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import converters

from .. import wire

__all__ = ["cache_key", "lookup", "save"]

log = logging.getLogger("pipeflow.worker")

FOLDER = "cache"
OBJECTS = "objects"
MAX_ENTRY = 1 << 20  # bytes: an entry is one envelope (at most 32,768 characters)


def _normal(tree: Any, store: str | None) -> Any:
    """A value tree with every reference cut to `ref/1:<codec>/<version>:<size>:<sha256>`.

    An offloaded subtree is read: the references inside it name the run that wrote it.
    """
    if isinstance(tree, str):
        if converters.is_reference(tree):
            ref = converters.Reference.parse(tree)
            return f"ref/1:{ref.codec}/{ref.version}:{ref.size}:{ref.sha256}"
        return tree
    if isinstance(tree, list):
        return [_normal(t, store) for t in tree]
    if isinstance(tree, dict):
        if isinstance(tree.get("offloaded"), str) and len(tree) == 1:
            return _normal(converters.loads(tree["offloaded"], store=store), store)
        return {k: _normal(v, store) for k, v in tree.items()}
    return tree


def cache_key(task: Any, data: str, store: str | None) -> str | None:
    """The entry's key for this activity input (None without a store)."""
    if store is None:
        return None
    doc = wire.unfit(data, store)
    content = {
        "task": task.name, "version": task.version, "piped": _normal(doc.get("piped"), store),
        "args": _normal(doc.get("args") or [], store), "kwargs": _normal(doc.get("kwargs") or {}, store),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _folder(store: str) -> converters.Store:
    return converters.open_store(store).root.child(FOLDER)


def lookup(key: str, store: str) -> str | None:
    """The cached result envelope, or None (no entry, or its object is gone)."""
    try:
        folder = _folder(store)
        if not folder.exists(key):
            return None
        with folder.open(key) as fh:
            envelope = fh.read(MAX_ENTRY).decode("utf-8")
        if converters.is_reference(envelope):
            ref = converters.Reference.parse(envelope)
            root = converters.open_store(store).root
            where = root.key_for(ref.uri)
            if where is None or not root.exists(where):
                return None
        return envelope
    except (converters.ConverterError, OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("cache entry %s cannot be read (%s): running the task", key, exc)
        return None


def save(key: str, envelope: str, store: str) -> None:
    """Keep `envelope` under `key`, its object (if offloaded) copied into the cache's own folder."""
    try:
        root = converters.open_store(store).root
        folder = root.child(FOLDER)
        if converters.is_reference(envelope):
            ref = converters.Reference.parse(envelope)
            objects = folder.child(OBJECTS)
            if not objects.exists(ref.sha256):
                where = root.key_for(ref.uri)
                if where is None:
                    return  # stored outside this store: not ours to keep
                objects.put(ref.sha256, root.read(where, ref.size))
            envelope = str(converters.Reference(ref.codec, ref.version, ref.size, ref.sha256,
                                                objects.uri_for(ref.sha256)))
        folder.put(key, envelope.encode("utf-8"))
    except (converters.ConverterError, OSError, ValueError) as exc:
        log.warning("the result cannot be cached under %s: %s", key, exc)
