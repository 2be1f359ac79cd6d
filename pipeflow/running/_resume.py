"""`pipeflow resume`: a new execution of a run's pipeline and input that reuses the steps it checkpointed.

The old run's history gives its input document (the pipeline input's envelope and the store's
root, not decoded) and its `pipeflow.checkpoint` markers (a top-level step's or a stage's result
as a value tree, see `pipeflow.decider._markers`). The new execution, of the same workflow type,
gets a new workflow id and an input document that also carries
`"resume": {"run": {"workflowId", "runId"}, "checkpoints": {path: tree}}` (the checkpoints
offloaded as `{"offloaded": ref}` when long); its decider completes those steps at once with
the old results (and checkpoints them again, so a resumed run can be resumed in turn) and runs
the rest. `from_step` drops the checkpoints of that step and of every later one.

A run started from a pipeline file also records that file's path and sha256 (`"source"`,
`"source_sha256"`). Resume never loads a file a history names (anyone who can start a run can
write the input document): the pipeline file comes from the user (`pipeflow resume FILE RUN`,
`client.resume(run, pipeline=...)`); the recorded path only shows in the hint, and the recorded
sha256 is checked against the file named, so code that changed since the run started is not
mixed with its checkpoints unless asked (`--allow-changed`).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import converters

from .. import wire
from .._errors import PipelineError
from ._executions import file_sha256
from ._old_run import OldRun, check_resumable, read_run, run_root, select_checkpoints


def resume(
    swf: Any, domain: str, run: str, from_step: str | None = None, *, definition: Any = None,
    task_list: str | None = None, old: OldRun | None = None, store: str | None = None,
) -> tuple[str, str, str | None]:
    """Start a new execution that resumes `run` (a run id, or a workflow id: its latest run).

    Returns `(workflow id, run id, store root)` of the new execution. `definition` (the
    Pipeline, when known) must be the run's workflow type; `task_list` defaults to the
    definition's, else the old run's. `store` is this process's store: the old run's store,
    which the new run reads from and writes to, must lie under it (PipelineError otherwise). An
    open run, or a completed one without `from_step`, is refused with a PipelineError.
    """
    old = old if old is not None else read_run(swf, domain, run)
    wtype = old.workflow_type
    if definition is not None and (definition.name, definition.version) != (wtype["name"], wtype["version"]):
        raise PipelineError(
            f"run {run} is of pipeline {wtype['name']} v{wtype['version']}, not {definition.name} "
            f"v{definition.version}: give the pipeline file (and :ATTR) it was started from"
        )
    check_resumable(old, run, from_step)
    if old.status == "CONTINUED_AS_NEW":  # a repeat's earlier run: its later runs carry on from it
        raise PipelineError(f"run {run} continued as new (pf.repeat): resume its workflow id "
                            f"{old.execution['workflowId']}, whose latest run is the one to resume")
    checkpoints = select_checkpoints(old, from_step, definition)
    root = run_root(old, store)
    workflow_id = f"{wtype['name'][:243]}-{uuid.uuid4().hex[:12]}"  # as `pipeflow run` names them
    doc = {k: v for k, v in old.doc.items() if k != "resume"}
    if root is not None:
        # What the new run reads from the old run's folder is copied into its own, so that
        # `pipeflow gc` of the old run cannot pull it from under the new one.
        adopt = _Adopter(root, old.execution["workflowId"], workflow_id)
        doc["input"] = adopt.tree(doc["input"])
        checkpoints = {path: adopt.tree(tree) for path, tree in checkpoints.items()}
    doc["resume"] = {"run": old.execution, "checkpoints": checkpoints}
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if len(text) > wire.LIMIT:
        ref = converters.dumps(checkpoints, codec="json", store=wire.run_scope(root, workflow_id), threshold=0,
                               what=f"the checkpoints of run {run}")
        doc["resume"] = {"run": old.execution, "checkpoints": {"offloaded": ref}}
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if root is not None:
        wire.write_manifest(root, domain=domain, workflow_id=workflow_id, workflow_type=wtype)
    settings = old.settings
    lst = task_list or (definition.task_list if definition is not None else None) or settings["taskList"]["name"]
    response = swf.start_workflow_execution(
        domain=domain, workflowId=workflow_id, workflowType=wtype, taskList={"name": lst}, input=text,
        **{k: v for k, v in settings.items() if k != "taskList"},
    )
    return workflow_id, str(response["runId"]), root

class _Adopter:
    """Copies the objects a value tree references in the old run's folder to the new run's input folder."""

    def __init__(self, root: str, old_workflow_id: str, workflow_id: str) -> None:
        self.root = converters.open_store(root).root
        self.prefix = old_workflow_id + "/"
        scope = wire.run_scope(root, workflow_id)
        assert scope is not None
        self.scope = scope
        self.target = converters.open_store(scope)

    def tree(self, tree: Any) -> Any:
        if isinstance(tree, str):
            return self.envelope(tree)
        if isinstance(tree, list):
            return [self.tree(t) for t in tree]
        if isinstance(tree, dict) and isinstance(tree.get("offloaded"), str) and len(tree) == 1:
            if not self._mine(tree["offloaded"]):
                return tree
            inner = self.tree(converters.loads(tree["offloaded"], store=self.root))
            return {"offloaded": converters.dumps(inner, codec="json", store=self.scope, threshold=0,
                                                  what="a checkpointed list of results")}
        return tree  # {"error": ...}: a failed member of a group, nothing stored

    def envelope(self, text: str) -> str:
        if not self._mine(text):
            return text
        ref = converters.Reference.parse(text)
        if not self.target.exists(ref.sha256):
            key = self.root.key_for(ref.uri)
            assert key is not None
            data = self.root.read(key, ref.size)
            if data.nbytes != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
                raise converters.IntegrityError(f"the object at {ref.uri} does not match its reference", key=ref.uri,
                                                expected=ref.sha256)
            self.target.put(ref.sha256, data)
        return str(converters.Reference(ref.codec, ref.version, ref.size, ref.sha256, self.target.uri_for(ref.sha256)))

    def _mine(self, text: str) -> bool:
        """True for a reference into the old run's folder."""
        if not converters.is_reference(text):
            return False
        key = self.root.key_for(converters.Reference.parse(text).uri)
        return key is not None and key.startswith(self.prefix)

def check_source(old: OldRun, file: str | Path, run: str, allow_changed: bool) -> None:
    """Refuse (PipelineError) a pipeline file whose content is not the one `run` was started from.

    Runs that recorded no sha256 (started from a notebook's cell, or by an older pipeflow) are
    not checked. `allow_changed` accepts a changed file: the checkpoints then meet new code.
    """
    expected = old.source_sha256
    if expected is None or allow_changed:
        return
    try:
        actual = file_sha256(file)
    except OSError:
        return  # the loader reports a missing or unreadable file in its own words
    if actual != expected:
        raise PipelineError(
            f"{file} is not the file run {run} was started from (sha256 {actual[:12]}..., the run recorded "
            f"{expected[:12]}... for {old.source}): its checkpoints came from other code. Give --allow-changed "
            "(client.resume(..., allow_changed=True)) to resume with this file as it is now"
        )


def definition_for(old: OldRun, target: Any, run: str, *, allow_changed: bool = False, hint: str | None = None) -> Any:
    """The Pipeline of the old run's workflow type, from `target`: FILE[:ATTR] named by the user, or a pipeline.

    Never from the file the run recorded: without a target, PipelineError naming it as a hint
    (`hint`: how to name the file, default the `pipeflow resume` command line). A named file
    must have the content the run recorded (see `check_source`) before it is loaded.
    """
    from .._loader import load_targets, parse_spec
    from .._pipeline import as_pipeline

    wtype = old.workflow_type
    if target is None:
        started = f" (the run was started from {old.source})" if old.source else ""
        raise PipelineError(f"name the pipeline file: {hint or f'pipeflow resume path/to/pipeline.py {run}'}"
                            f"{started}; resume runs only code you name")
    if isinstance(target, (str, os.PathLike)):
        spec = os.fspath(target)
        check_source(old, parse_spec(spec)[0], run, allow_changed)
        found = [as_pipeline(item.target, attr=item.attr) for item in load_targets(spec)]
    else:
        spec = repr(target)
        found = [as_pipeline(target)]
    for definition in found:
        if (definition.name, definition.version) == (wtype["name"], wtype["version"]):
            return definition
    names = ", ".join(f"{d.name} v{d.version}" for d in found)
    raise PipelineError(f"run {run} is of pipeline {wtype['name']} v{wtype['version']}, which {spec} does not "
                        f"define (it has {names}): give the file (and :ATTR) the run was started from")


def resume_file(
    target: str | None, run: str, from_step: str | None, *, workers: int | None, progress: bool,
    store: str | None = None, allow_changed: bool = False,
) -> Any:
    """`pipeflow resume` on the embedded engine: the runs in ./.pipeflow/state.sqlite; returns a RunOutcome.

    `store` is this process's store (default ./.pipeflow/payloads): the old run's must lie under it.
    """
    from ..engine import Engine
    from ._embedded import (
        STATE_DB,
        _embedded,
        default_store,
        interrupted_run,
        own_task_list,
        wait_here,
    )
    from ._executions import DOMAIN

    if not STATE_DB.exists():
        raise PipelineError(f"no run {run!r} here: {STATE_DB} does not exist; resume from the directory "
                            "`pipeflow run` ran in (or give --backend swf and its options)")
    with Engine(db=str(STATE_DB)) as engine:  # a first look, for the pipeline's type and store
        old = read_run(engine.client(), DOMAIN, run)
    store = default_store(store)
    adopting = old.status == "OPEN" and from_step is None
    check_resumable(old, run, from_step, open_ok=adopting)  # refusals first: no code is loaded for them
    root = run_root(old, store)
    definition = definition_for(old, target, run, allow_changed=allow_changed)
    db = str(STATE_DB)
    if adopting:
        # Opening the state fails the tasks its dead process had started as lost (`_embedded.adopt`);
        # the decider and workers here take the run's own task lists.
        definition = own_task_list(definition, old.settings["taskList"]["name"])
        ids = (old.execution["workflowId"], old.execution["runId"])
        with interrupted_run(lambda: ids), _embedded(definition, store=store, workers=workers, db=db) as embedded:
            return wait_here(embedded, *ids, root, db=db, progress=progress)
    definition = own_task_list(definition)  # a new run: task lists of its own, as `pipeflow run` gives
    started: tuple[str, str] | None = None
    with interrupted_run(lambda: started), _embedded(definition, store=store, workers=workers, db=db) as embedded:
        swf = embedded.swf
        workflow_id, run_id, root = resume(swf, DOMAIN, run, from_step, definition=definition,
                                           old=read_run(swf, DOMAIN, run), store=store)
        started = (workflow_id, run_id)
        return wait_here(embedded, workflow_id, run_id, root, db=db, progress=progress)


def resume_swf(
    target: str | None, run: str, from_step: str | None, *, domain: str, endpoint_url: str | None,
    region: str | None, workers: int | None, local_workers: bool = True, progress: bool = False,
    store: str | None = None, allow_changed: bool = False,
) -> Any:
    """`pipeflow resume --backend swf`: like `pipeflow run --backend swf`, the new execution resuming `run`.

    `store` is this process's store (with local workers default ./.pipeflow/payloads, as for
    `pipeflow run`): the old run's must lie under it.
    """
    from ..endpoint import service_errors, swf_client
    from ._embedded import default_store
    from ._swf import run_here

    if local_workers:
        store = default_store(store)
    with service_errors(domain):
        swf = swf_client(endpoint_url=endpoint_url, region=region)
        old = read_run(swf, domain, run)
        check_resumable(old, run, from_step)  # refusals first: no code is loaded for them
        run_root(old, store)
        definition = definition_for(old, target, run, allow_changed=allow_changed)
        return run_here(
            swf, domain, definition,
            lambda running: resume(swf, domain, run, from_step, definition=definition, task_list=running.task_list,
                                   old=old, store=store),
            store=store, workers=workers, local_workers=local_workers, progress=progress)
