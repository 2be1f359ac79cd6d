"""`Client`: submit pipelines and look at their runs from Python (a notebook, a script); each run is a `Run`.

`pf.Client()` uses the embedded engine with its state in ./.pipeflow/ (as `pipeflow run` does). The
engine is opened on first use and held until `close()` (or the interpreter's exit): one process
holds an embedded state at a time, so this one serves the control inbox meanwhile and `pipeflow
cancel/signal/runs/status/...` from a terminal reach it. On first submit the deciders and a worker
pool start on background threads (`pipeflow.running`), so `submit` returns at once. Clients of one
process on one state directory share its engine.

`pf.Client.swf(domain=...)` and `pf.Client(endpoint_url=...)` (a `pipeflow server`) use boto3. They
decide and work nothing here unless `workers=N` is given: the steps go to `pipeflow decider` and
`pipeflow worker` processes on the domain.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from .._errors import EngineError, PipelineError
from ..running import DEFAULT, DOMAIN, Holder, hold, release
from ._run import Run


log = logging.getLogger("pipeflow.client")



class Client:
    """Where pipelines run: the embedded engine (`Client()`), a `pipeflow server`, or Amazon SWF.

    Args:
        endpoint_url: an SWF endpoint (a `pipeflow server`); without it, the embedded engine.
        domain: the SWF domain (default "pipeflow", the embedded engine's).
        region: the AWS region (SWF).
        workers: worker processes run here. Embedded: default the CPU count. SWF and servers:
            default 0, nothing decided or worked here (`pipeflow decider/worker` elsewhere do);
            N >= 1 runs a decider and N worker processes here for the pipelines submitted.
        store: where large values go (`s3://bucket/prefix` or a directory); default
            `PIPEFLOW_STORE`, else ./.pipeflow/payloads when the steps run here, else none. It
            is this client's own: a run's values are read from the store the run names only
            when that lies under it, and the deciders and workers here serve only such runs.
        state_dir: the embedded engine's directory (default ./.pipeflow); None for an engine in
            memory, this Client's own: nothing on disk but the values in `store` (by default a
            temporary directory, removed at close), gone at close (tests, throwaway work).
        timer_scale: the embedded engine's timers (retry back-off, pauses) last this many times
            their length; 0 makes them fire at once (tests: `pipeflow.testing`'s fake time).
        backend: "embedded" or "swf" (what `Client.swf` gives); by default "swf" with an endpoint_url.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        domain: str | None = None,
        region: str | None = None,
        workers: int | None = None,
        store: str | None = DEFAULT,
        state_dir: str | os.PathLike[str] | None = ".pipeflow",
        backend: str | None = None,
        timer_scale: float = 1.0,
    ) -> None:
        self.backend = backend or ("swf" if endpoint_url else "embedded")
        if self.backend not in ("embedded", "swf"):
            raise PipelineError(f"backend {backend!r}: give 'embedded' or 'swf'")
        if self.backend == "embedded" and (endpoint_url or region or (domain not in (None, DOMAIN))):
            raise PipelineError("endpoint_url, region and domain go with pf.Client.swf(...) or "
                                "pf.Client(endpoint_url=...); the embedded engine has its own domain")
        if workers is not None and (workers < 0 or (workers == 0 and self.backend == "embedded")):
            raise PipelineError(f"workers={workers}: give at least 1 (0 only with SWF, where workers run elsewhere)")
        self.endpoint_url = endpoint_url
        self.region = region
        self.domain = domain or DOMAIN
        self.workers = workers if workers is not None else (None if self.backend == "embedded" else 0)
        if timer_scale < 0 or (timer_scale != 1.0 and (self.backend != "embedded" or state_dir is not None)):
            raise PipelineError(f"timer_scale={timer_scale}: give a number >= 0, with state_dir=None (an engine "
                                "in memory); timers of a shared state or of SWF keep their length")
        self.timer_scale = timer_scale
        self.state_dir = Path(state_dir).resolve() if state_dir is not None else None
        self._tempdir: str | None = None  # the store of an engine in memory, when none was given
        if store is DEFAULT:
            store = os.environ.get("PIPEFLOW_STORE") or None
            if store is None and self.workers != 0:  # the steps run here: a local directory serves them
                if self.state_dir is not None:
                    store = str(self.state_dir / "payloads")
                else:
                    import tempfile

                    store = self._tempdir = tempfile.mkdtemp(prefix="pipeflow-payloads-")  # 0700
        self.store = store
        self._holder: Holder | None = None
        self._reader: Any = None  # the inbox of the process holding the embedded state
        self._remote: Any = None  # boto3's SWF client
        self._service: Any = None  # deciders and workers for SWF, when workers >= 1
        self._closed = False

    @classmethod
    def swf(cls, domain: str, region: str | None = None, endpoint_url: str | None = None, *, workers: int = 0,
            store: str | None = DEFAULT) -> Client:
        """A client of Amazon SWF (or of any SWF endpoint) in `domain`, registered if new."""
        return cls(endpoint_url, domain=domain, region=region, workers=workers, store=store, backend="swf")

    # -- connection ------------------------------------------------------------------------------

    def _swf(self, write: bool = False) -> Any:
        """The SWF client: the embedded engine's, the holder's inbox (read-only), or boto3's."""
        if self._closed:
            raise PipelineError("this Client is closed: make a new pf.Client()")
        if self.backend == "swf":
            if self._remote is None:
                from ..endpoint import swf_client

                self._remote = swf_client(endpoint_url=self.endpoint_url, region=self.region)
            return self._remote
        if self._holder is not None:
            return self._holder.swf
        if self.state_dir is None:  # an engine in memory, this client's own
            from ..running import hold_memory

            self._holder = hold_memory(self.store, timer_scale=self.timer_scale)
            atexit.register(self.close)
            return self._holder.swf
        from ..running import held

        db = self.state_dir / "state.sqlite"
        if self._reader is None or write:  # to write, the state must be held here: free now, perhaps
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            holder = hold(db, self.store)
            if holder is not None:
                self._holder, self._reader = holder, None
                atexit.register(self.close)
                return holder.swf
        if self._reader is None:
            from ..running import InboxReader

            self._reader = InboxReader(self.state_dir / "control", held=lambda: held(db))
        if write:
            raise EngineError(f"the embedded state {self.state_dir} is held by another process (a `pipeflow run` "
                              "or another notebook's Client): runs can be read and canceled from here, not "
                              "started; close that one, or give this Client another state_dir")
        return self._reader

    def _running_here(self) -> Any:
        """The Service deciding and working here (started if needed), or None when the steps run elsewhere."""
        self._swf(write=True)
        if self._holder is not None:
            service = self._holder.service
            service.processes = self.workers
            return service
        if not self.workers:
            return None
        if self._service is None:
            from ..running import Service

            self._service = Service(self._swf(), self.domain, processes=self.workers, store=self.store)
            atexit.register(self.close)
        return self._service

    def _check(self) -> None:
        """Raise the error that stopped a decider or worker of this client, if one did."""
        service = self._holder.service if self._holder is not None else self._service
        if service is not None:
            service.check()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SWF's and the engine's errors as pipeflow's (EngineError)."""
        from ..endpoint import service_errors
        from ..running import HolderGone

        try:
            with service_errors(self.domain):
                yield
        except HolderGone:
            self._reader = None  # the next call opens the state here
            raise EngineError("the process holding the embedded state let it go meanwhile; try again") from None

    def close(self) -> None:
        """Stop this client's deciders and workers and let the embedded state go (also at exit)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self._holder is not None:
            release(self._holder)
            self._holder = None
        if self._service is not None:
            self._service.stop()
            self._service.join_workers()  # the deciders' long polls on the endpoint cannot be woken
        if self._tempdir is not None:
            import shutil

            shutil.rmtree(self._tempdir, ignore_errors=True)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.state_dir or "in memory") if self.backend == "embedded" else \
            f"domain={self.domain}" + (f" endpoint={self.endpoint_url}" if self.endpoint_url else "")
        return f"<pipeflow.Client {self.backend} {where}{' closed' if self._closed else ''}>"

    # -- runs ----------------------------------------------------------------------------------

    def submit(self, pipeline: Any, input: Any = None, *, store: str | None = DEFAULT, tags: Any = None,
               priority: int | None = None, lambda_role: str | None = None) -> Run:
        """Start a run of `pipeline` (a Pipeline, a canvas, a task, or "file.py[:attr]") and return at once.

        `tags={"team": "data"}` (at most 5, its stages get them too); `priority`: of its steps that set none;
        `lambda_role`: the IAM role Amazon SWF invokes its Lambda steps with (required there when it has some).
        """
        from ..running import check_lambda_role, check_registration, register, run_options, start

        run_options(tags, priority)  # a bad tag or priority is refused before anything is registered
        definition = _definition(pipeline)
        store = self.store if store is DEFAULT else store
        with self._errors():
            swf = self._swf(write=True)
            check_lambda_role(swf, definition, lambda_role)  # ... and Lambda steps without a role on Amazon SWF
            if self._holder is not None:  # on this session's own task lists
                definition = self._session(definition)
            register(swf, self.domain, definition)
            if self.backend == "swf":
                check_registration(swf, self.domain, definition)
            service = self._running_here()
            if service is not None:
                _check_store(service, store)
                service.serve(definition)
            workflow_id, run_id = start(swf, self.domain, definition, input, store=store, tags=tags, priority=priority,
                                        lambda_role=lambda_role)
        found = Run(self, workflow_id, run_id)
        found._root = store  # this process chose it: its values are read from it
        return found

    def _session(self, definition: Any) -> Any:
        """The pipeline on the task lists of this process's session of the embedded state."""
        from ..running import own_task_list, session_list

        assert self._holder is not None
        return own_task_list(definition, session_list(definition, self._holder.session))

    def run(self, run: str, pipeline: Any = None) -> Run:
        """The run with this run id (or the latest run of this workflow id), open or closed.

        An open run whose pipeline nothing decides here (after a kernel restart) is picked up
        again when its steps run here and `pipeline` is given (a Pipeline, a canvas, a task, or
        "file.py[:attr]"): the file the run recorded is never loaded on its say-so.
        """
        from ..running import find_any_run

        with self._errors():
            info = find_any_run(self._swf(), self.domain, run)
        found = Run(self, info["execution"]["workflowId"], info["execution"]["runId"])
        if info.get("executionStatus") == "OPEN" and (self._holder is not None or self.workers):
            self._pick_up(found, info["workflowType"], pipeline)
        return found

    def _pick_up(self, run: Run, workflow_type: dict[str, str], pipeline: Any) -> None:
        from ..running import read_run, register

        with self._errors():
            service = self._running_here()
            task_list = None
            if self.backend == "embedded":  # it is served only on its own task list
                config = self._swf().describe_workflow_execution(domain=self.domain, execution=run.execution)
                task_list = config["executionConfiguration"]["taskList"]["name"]
            if service.serves(workflow_type, task_list):
                return
            if pipeline is None:
                pipeline = service.served(workflow_type)  # this pipeline is served here: its run is taken up
            if pipeline is None:
                source = read_run(self._swf(), self.domain, run.run_id).source
                log.warning("run %s is open, but nothing here runs its steps: pass its pipeline, "
                            "client.run(run, pipeline='path/to/pipeline.py')%s", run.run_id,
                            f" (it was started from {source})" if source else "")
                return
            definition = _definition(pipeline)
            if task_list is not None:  # its own task lists (a run's, or a session's): served here now
                from ..running import own_task_list

                definition = own_task_list(definition, task_list)
            register(self._swf(), self.domain, definition)
            service.serve(definition)

    def runs(self, status: str | None = None, limit: int = 50, *, tag: str | None = None) -> Any:
        """A DataFrame of the latest runs, newest first; `status`: RUNNING, CLOSED, FAILED, ...; `tag`: "key=value"."""
        import pandas as pd

        from ._reader import Reader, list_runs

        with self._errors():
            rows = list_runs(Reader(self._swf(), self.domain), status, limit, tag=tag)
        columns = ["workflow_id", "run_id", "pipeline", "version", "status", "started", "closed", "duration"]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("started", "closed"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame

    def resume(self, run: str, from_step: str | None = None, pipeline: Any = None, *,
               allow_changed: bool = False) -> Run:
        """Start a run that resumes `run` (see `pipeflow resume`): its checkpointed steps are not run again.

        `pipeline` (a Pipeline, a canvas, a task, or "file.py[:attr]") runs its steps here; it is
        needed when the steps run here and nothing here serves the run's pipeline yet: the file
        the run recorded is never loaded on its say-so. A file whose content is not the one the
        run was started from is refused unless `allow_changed`.
        """
        from ..running import (
            check_resumable,
            definition_for,
            read_run,
            register,
            resume,
            run_root,
        )

        with self._errors():
            swf = self._swf(write=True)
            old = read_run(swf, self.domain, run)
            service = self._running_here()
            store = service.store if service is not None else self.store
            check_resumable(old, run, from_step)  # refusals first: no code is loaded for them
            run_root(old, store, fix="make the Client with the run's store (store=...) to resume it")
            definition = None
            if pipeline is not None or (service is not None and not service.serves(old.workflow_type)):
                definition = definition_for(old, pipeline, run, allow_changed=allow_changed,
                                            hint=f"client.resume({run!r}, pipeline='path/to/pipeline.py')")
            if self._holder is not None:  # on this session's own task lists
                definition = self._session(definition or service.served(old.workflow_type))
            if definition is not None and service is not None:
                register(swf, self.domain, definition)
                service.serve(definition)
            workflow_id, run_id, root = resume(swf, self.domain, run, from_step, definition=definition, old=old,
                                               store=store)
        found = Run(self, workflow_id, run_id)
        found._root = root
        return found

    def _control(self, op: str, run: Run, reason: str | None = None, name: str = "", value: Any = None) -> None:
        """Cancel or signal a run: on the engine or SWF, or through the inbox of the state's holder."""
        import converters

        from .. import running

        with self._errors():
            swf = self._swf()
            if swf is self._reader:
                assert self.state_dir is not None  # only a state on disk has a holder elsewhere
                request: dict[str, Any] = {"op": op, "run": run.run_id}
                if op == "cancel":
                    request["reason"] = reason
                else:
                    request.update(name=name, input=converters.dumps(value, what=f"the value of signal {name!r}"))
                running.post(self.state_dir / "control", request)
            elif op == "cancel":
                running.cancel(swf, self.domain, run.execution, reason)
            else:
                running.signal(swf, self.domain, run.execution, name, value, store=run._store())  # the run's if trusted


def _check_store(service: Any, store: str | None) -> None:
    """Refuse a run whose store the deciders and workers here would refuse (their own is the service's)."""
    import converters

    from .. import wire

    if store is None:
        return
    try:
        wire.run_store(store, service.store, "client", fix="")
    except converters.StoreError:
        raise PipelineError(
            f"the steps here run with the store {service.store}, not {store}: submit without store=, or give "
            f"the Client store={store!r} (on the embedded engine, the first Client of this process)"
        ) from None


def _definition(pipeline: Any) -> Any:
    """The Pipeline of a Pipeline, canvas or task, or of "file.py[:attr]" loaded now."""
    from .._pipeline import as_pipeline

    if isinstance(pipeline, (str, os.PathLike)):
        from .._loader import load_pipeline

        loaded = load_pipeline(os.fspath(pipeline))
        return as_pipeline(loaded.target, attr=loaded.attr)
    return as_pipeline(pipeline)
