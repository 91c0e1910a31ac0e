"""The builder: a parsed Dockerfile and a context in, a tagged image out.

Plan first (`berth.build.plan`): the stages the target needs, their step
numbers, and which stage waits for which. Then each stage runs on its own
thread as soon as the stages it depends on are done, so independent stages
build in parallel; their output is released in stage order, so the log reads
as Docker's classic builder's (`Step N/M : ...`, ` ---> Using cache`,
` ---> <id>`, `Successfully built <id>`).

Every step produces an image, as in Docker's classic builder: RUN and COPY/ADD
(and WORKDIR when it creates its directory) with a new layer, the others
with an empty history entry. Before doing the work a step looks up the
cache by (parent image, step key); a hit reuses the image and creates
nothing. A failed step tags nothing; its container and mounts are removed.
"""

from __future__ import annotations

import json
import logging
import posixpath
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.build import copier, words
from berth.build.cache import BuildCache, step_key
from berth.build.configstep import config_step, nop_outcome
from berth.build.context import Context
from berth.build.copystep import CopyStep
from berth.build.dockerfile import Heredoc
from berth.build.instructions import (
    PROXY_ARGS,
    Arg,
    Copy,
    Dockerfile,
    From,
    Instruction,
    Run,
    Single,
    Stage,
    parse_change,
)
from berth.build.output import Output, Sequencer, familiar_tag
from berth.build.plan import Plan, make_plan
from berth.build.runner import BUILD_CONTAINER_PREFIX, RunRequest, StepRunner, resolve_in_root
from berth.build.state import StageState, StepOutcome, dump, short_id
from berth.build.views import ImageViews
from berth.errors import InvalidArgument, NotFound

log = logging.getLogger(__name__)

Puller = Callable[[str, Output], None]


class StepFailed(InvalidArgument):
    """A RUN returned non-zero (`code` is its exit code, Docker's errorDetail code)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    network: str = "default"  # default | host | none


@dataclass(frozen=True, slots=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...] = ()


class Builder:
    """Builds one Dockerfile; create one per build (it holds that build's views)."""

    def __init__(
        self,
        images: Any,
        cache: BuildCache,
        runner: StepRunner,
        *,
        state_dir: Path,
        pull: Puller | None = None,
    ) -> None:
        self.images = images  # berth.image.service.ImageService
        self.cache = cache
        self.runner = runner
        self.state_dir = Path(state_dir)
        self.pull = pull
        self.views = ImageViews(images, self.state_dir)

    # -- the build -------------------------------------------------------------

    def build(
        self,
        dockerfile: Dockerfile,
        context: Context,
        opts: BuildOptions,
        out: Output,
        on_built: Callable[[str], None] | None = None,
    ) -> BuildResult:
        """Build the target; `on_built(image_id)` runs before "Successfully built"."""
        self._df = dockerfile
        self._ctx = context
        self._opts = opts
        self._consumed: set[str] = set()
        self._lock = threading.Lock()
        self._stage_images: dict[int, Future[str]] = {}
        self._meta = self._meta_args(dockerfile, opts)
        plan = make_plan(dockerfile, opts.target, bool(opts.labels), self._meta)
        self._plan = plan
        seq = Sequencer(out, [s.index for s in plan.stages])
        # Removing a step's container (unmount, delete its snapshot) overlaps the
        # next steps; the build waits for every removal before it returns.
        self._cleanups = ThreadPoolExecutor(max_workers=2, thread_name_prefix="build-cleanup")
        try:
            final = self._run_stages(plan, seq)
        finally:
            try:
                self.views.close(self._cleanups)
            finally:
                self._cleanups.shutdown(wait=True)
        seq.flush_all()
        unused = sorted(
            k for k in opts.build_args if k not in self._consumed and k not in PROXY_ARGS
        )
        if unused:
            out(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        if on_built is not None:
            on_built(final)
        out(f"Successfully built {short_id(final)}\n")
        tagged = []
        for tag in opts.tags:
            self.images.tag(final, tag)
            tagged.append(tag)
            out(f"Successfully tagged {familiar_tag(tag)}\n")
        return BuildResult(final, tuple(tagged))

    def _meta_args(self, df: Dockerfile, opts: BuildOptions) -> dict[str, str]:
        meta: dict[str, str] = {}
        for inst in df.meta_args:
            for name, default in inst.pairs:
                given = opts.build_args.get(name)
                if given is not None:
                    meta[name] = given
                    self._consumed_add(name)
                elif default is not None:
                    meta[name] = words.expand(default, meta, df.escape)
        return meta

    def _consumed_add(self, name: str) -> None:
        with self._lock:
            self._consumed.add(name)

    def _run_stages(self, plan: Plan, seq: Sequencer) -> str:
        futures: dict[int, Future[str]] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(plan.stages))) as pool:
            for st in plan.stages:
                fut: Future[str] = Future()
                futures[st.index] = fut
            self._stage_images = futures
            for st in plan.stages:
                pool.submit(self._stage_thread, st, futures[st.index], seq)
            errors: list[BaseException] = []
            for st in plan.stages:
                try:
                    futures[st.index].result()
                except BaseException as exc:
                    errors.append(exc)
        if errors:
            real = [e for e in errors if not isinstance(e, _Cancelled)]
            raise (real or errors)[0]
        return futures[plan.stages[-1].index].result()

    def _stage_thread(self, stage: Stage, fut: Future[str], seq: Sequencer) -> None:
        try:
            for dep in self._plan.deps[stage.index]:
                try:
                    self._stage_images[dep].result()
                except BaseException:
                    raise _Cancelled(f"stage {dep} failed") from None
            image = self._build_stage(stage, lambda text: seq.write(stage.index, text))
            fut.set_result(image)
        except BaseException as exc:
            fut.set_exception(exc)
        finally:
            seq.finish(stage.index)

    # -- a stage ---------------------------------------------------------------

    def _build_stage(self, stage: Stage, out: Output) -> str:
        numbers = iter(self._plan.step_numbers[stage.index])
        total = self._plan.total
        state = StageState(stage)
        out(f"Step {next(numbers)}/{total} : {stage.base.original}\n")
        self._from(state, stage.base, out)
        triggers = list(state.config.get("OnBuild") or [])
        state.config.pop("OnBuild", None)
        if triggers:
            out(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            for text in triggers:
                inst = parse_change(text, self._df.escape)
                self._step(state, inst, out)
        else:
            out(f" ---> {short_id(state.image_id) if state.image_id else '(scratch)'}\n")
        for inst in stage.instructions:
            out(f"Step {next(numbers)}/{total} : {inst.original}\n")
            self._step(state, inst, out)
        if self._plan.label_stage == stage.index and self._opts.labels:
            text = "LABEL " + " ".join(
                f"{json.dumps(k)}={json.dumps(v)}" for k, v in sorted(self._opts.labels.items())
            )
            out(f"Step {next(numbers)}/{total} : {text}\n")
            self._step(state, parse_change(text), out)
        if not state.image_id:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        return state.image_id

    def _from(self, state: StageState, inst: From, out: Output) -> None:
        name = words.expand(inst.image, self._meta, self._df.escape)
        if not name:
            raise InvalidArgument(
                f"{self._df.file} line {inst.line}: base name ({inst.image}) should not be blank"
            )
        stage = self._df.stage(name)
        if stage is not None and stage.index < state.stage.index:
            state.image_id = self._stage_images[stage.index].result()
        elif name.lower() == "scratch":
            state.image_id = ""
        else:
            state.image_id = self._base_image(name, out)
        if state.image_id:
            rec = self.images.resolve(state.image_id)
            state.config = json.loads(json.dumps(rec.config.config or {}))
        else:
            state.config = {}

    def _base_image(self, name: str, out: Output) -> str:
        if self._opts.pull and self.pull is not None:
            self.pull(name, out)
        try:
            return self.images.resolve(name).id
        except NotFound:
            if self.pull is None or self._opts.pull:
                raise
        self.pull(name, out)
        return self.images.resolve(name).id

    # -- one step ----------------------------------------------------------------

    def _step(self, state: StageState, inst: Instruction, out: Output) -> None:
        outcome = self._dispatch(state, inst, out)
        parent = state.image_id
        if not self._opts.no_cache:
            hit = self.cache.get(parent, outcome.key)
            if hit is not None:
                out(f" ---> Using cache\n ---> {short_id(hit)}\n")
                state.image_id = hit
                state.config = outcome.config
                return
        if outcome.make is not None:
            image_id = outcome.make()
        else:
            image_id = self.images.create_image(
                config=outcome.config,
                parent=parent,
                layer=None,
                created_by=outcome.created_by,
                author=outcome.author,
            ).id
        self.cache.put(parent, outcome.key, image_id)
        state.image_id = image_id
        state.config = outcome.config
        out(f" ---> {short_id(image_id)}\n")

    def _dispatch(self, state: StageState, inst: Instruction, out: Output) -> StepOutcome:
        esc = self._df.escape
        cfg = json.loads(json.dumps(state.config))
        env = state.env()

        def nop(text: str, **kw: Any) -> StepOutcome:
            return nop_outcome(cfg, text, **kw)

        if isinstance(inst, Run):
            return self._run(state, inst, cfg, out)
        if isinstance(inst, Copy):
            return self._copy_step().plan(state, inst, cfg, env)
        if isinstance(inst, Single) and inst.keyword == "WORKDIR":
            return self._workdir(state, cfg, words.expand(inst.value, env, esc))
        if isinstance(inst, Arg):
            shown = []
            for name, default in inst.pairs:
                given = self._opts.build_args.get(name, None)
                if name in self._opts.build_args:
                    self._consumed_add(name)
                if given is not None:
                    state.args[name] = given
                elif default is not None:
                    state.args[name] = words.expand(default, env, esc)
                elif name in self._meta:
                    state.args[name] = self._meta[name]
                shown.append(name if default is None else f"{name}={default}")
            outcome = nop(f"ARG {' '.join(shown)}")
            outcome.key = step_key(outcome.key, dump(state.args))
            return outcome
        return config_step(state, inst, cfg, env, esc)

    # -- RUN -------------------------------------------------------------------

    def _run(self, state: StageState, inst: Run, cfg: dict[str, Any], out: Output) -> StepOutcome:
        argv = list(inst.command) if inst.exec_form else [*state.shell, inst.command[0]]
        run_args = {k: v for k, v in state.args.items() if not _in_env(cfg, k)}
        shown_args = {k: v for k, v in run_args.items() if k not in PROXY_ARGS}
        created_by = " ".join(argv)
        if shown_args:
            prefix = " ".join(f"{k}={v}" for k, v in sorted(shown_args.items()))
            created_by = f"|{len(shown_args)} {prefix} {created_by}"
        env = [*(cfg.get("Env") or []), *(f"{k}={v}" for k, v in run_args.items())]
        network = inst.network or self._opts.network
        mounts, mount_keys = self._run_mounts(state, inst)
        script = _shebang_script(inst)
        if script is not None:
            # BuildKit's rule: a heredoc that starts with #! is a file, executed as is
            target = f"/dev/pipes/{script.name}"
            mounts.append({**_bind("", target, True), "content": script.content})
            argv = [target]
            mount_keys.append(step_key("script", script.content))
        key = step_key("run", created_by, dump(cfg), dump(run_args), network, *mount_keys)
        parent = state.image_id

        def make() -> str:
            if not parent:
                raise InvalidArgument("RUN cannot run on an empty image (FROM scratch)")
            short = secrets.token_hex(32)
            cid = BUILD_CONTAINER_PREFIX + short
            out(f" ---> Running in {short[:12]}\n")
            scratch = Path(tempfile.mkdtemp(dir=self._tmp_dir(), prefix="run-"))
            try:
                code = self.runner.run(
                    RunRequest(
                        container_id=cid,
                        image_id=parent,
                        argv=argv,
                        env=env,
                        user=cfg.get("User") or "",
                        workdir=cfg.get("WorkingDir") or "/",
                        network=network,
                        mounts=_materialize(mounts, scratch),
                    ),
                    lambda chunk: out(chunk.decode("utf-8", "replace")),
                )
                if code != 0:
                    raise StepFailed(
                        f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code
                    )
                image = self.images.commit_container(cid, parent, config=cfg, created_by=created_by)
            finally:
                self._cleanups.submit(self.runner.cleanup, cid)
                self._cleanups.submit(shutil.rmtree, scratch, True)
            out(f"Removing intermediate container {short[:12]}\n")
            return image.id

        return StepOutcome(cfg, created_by, key, make)

    def _run_mounts(self, state: StageState, inst: Run) -> tuple[list[dict[str, Any]], list[str]]:
        env = state.env()
        mounts: list[dict[str, Any]] = []
        keys: list[str] = []
        for m in inst.mounts:
            target = words.expand(m.target, env, self._df.escape)
            if not target.startswith("/"):
                target = posixpath.join(state.workdir, target)
            opts = {k: words.expand(v, env, self._df.escape) for k, v in m.options.items()}
            if m.type == "tmpfs":
                size = opts.get("size")
                mounts.append(
                    {
                        "destination": target,
                        "type": "tmpfs",
                        "source": "tmpfs",
                        "options": ["nosuid", "nodev", *([f"size={size}"] if size else [])],
                    }
                )
                keys.append(f"tmpfs:{target}")
            elif m.type == "cache":
                cache_id = opts.get("id") or target
                path = self.state_dir / "cache-mounts" / step_key(cache_id)[7:]
                path.mkdir(parents=True, exist_ok=True)
                ro = opts.get("readonly", opts.get("ro", "false")) == "true"
                mounts.append(_bind(str(path), target, ro))
                keys.append(f"cache:{cache_id}:{target}")
            else:
                source = opts.get("source") or opts.get("src") or "."
                rw = opts.get("rw", opts.get("readwrite", "false")) == "true"
                if opts.get("from"):
                    root = self.views.root(self._source_image(state, opts["from"]))
                    path = resolve_in_root(root, source)
                    keys.append(f"bind:{opts['from']}:{source}:{target}")
                else:
                    selected = self._ctx.select(source)
                    path = selected[0].path
                    keys.append(f"bind:{source}:{target}:{self._ctx.digest(selected)}")
                if rw:
                    # a private copy is made when the step runs: writes are discarded
                    mounts.append({**_bind(str(path), target, False), "copy": True})
                    continue
                mounts.append(_bind(str(path), target, not rw))
        return mounts, keys

    def _tmp_dir(self) -> Path:
        path = self.state_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- WORKDIR ---------------------------------------------------------------

    def _workdir(self, state: StageState, cfg: dict[str, Any], value: str) -> StepOutcome:
        path = posixpath.normpath(posixpath.join(state.workdir, value))
        cfg["WorkingDir"] = path
        created_by = f"/bin/sh -c #(nop) WORKDIR {path}"
        parent = state.image_id

        def make() -> str:
            root = self.views.acquire(parent)
            try:
                rel = resolve_in_root(root, path).relative_to(root).as_posix()
                missing = not (root / rel).is_dir()
                entries = copier.parent_entries(root, rel + "/x") if missing else []
            finally:
                self.views.release(parent, self._cleanups)
            if not entries:
                return self.images.create_image(
                    config=cfg, parent=parent, layer=None, created_by=created_by
                ).id
            return self._layer_image(parent, cfg, created_by, entries)

        return StepOutcome(cfg, created_by, step_key("workdir", path, dump(cfg)), make)

    def _layer_image(
        self, parent: str, cfg: dict[str, Any], created_by: str, entries: list[copier.Entry]
    ) -> str:
        with tempfile.TemporaryFile(dir=self._tmp_dir()) as f:
            copier.write_layer(entries, f)
            f.seek(0)
            return self.images.create_image(
                config=cfg, parent=parent, layer=f, created_by=created_by
            ).id

    # -- COPY / ADD ---------------------------------------------------------------

    def _copy_step(self) -> CopyStep:
        return CopyStep(
            context=self._ctx,
            views=self.views,
            escape=self._df.escape,
            tmp_dir=self._tmp_dir(),
            source_image=self._source_image,
            layer_image=self._layer_image,
            pool=self._cleanups,
        )

    def _source_image(self, state: StageState, name: str) -> str:
        stage = self._df.stage(name)
        if stage is not None:
            if stage.index >= state.stage.index:
                raise InvalidArgument(
                    f"COPY --from={name}: a stage can only copy from an earlier stage"
                )
            return self._stage_images[stage.index].result()
        if name.isdigit():
            raise InvalidArgument(f"invalid from flag value {name}: no stage with index {name}")
        return self._base_image(name, lambda _t: None)


class _Cancelled(Exception):
    pass


def _in_env(cfg: dict[str, Any], name: str) -> bool:
    return any(e.partition("=")[0] == name for e in cfg.get("Env") or [])


def _bind(source: str, target: str, ro: bool) -> dict[str, Any]:
    return {
        "destination": target,
        "type": "bind",
        "source": source,
        "options": ["rbind", "rprivate", "ro" if ro else "rw"],
    }


def _shebang_script(inst: Run) -> Heredoc | None:
    heredocs = inst.node.heredocs
    if inst.exec_form or len(heredocs) != 1:
        return None
    doc = heredocs[0]
    if inst.command[0] != doc.content or not doc.content.startswith("#!"):
        return None
    return doc


def _materialize(mounts: list[dict[str, Any]], scratch: Path) -> list[dict[str, Any]]:
    """The step's mounts with their private files made under `scratch`: heredoc
    scripts (`content`) and copies for `rw` binds (`copy`)."""
    out = []
    for i, m in enumerate(mounts):
        m = dict(m)
        if "content" in m:
            path = scratch / f"script-{i}"
            path.write_text(m.pop("content"))
            path.chmod(0o755)
            m["source"] = str(path)
        elif m.pop("copy", False):
            src = Path(m["source"])
            dst = scratch / f"bind-{i}"
            if src.is_dir():
                shutil.copytree(src, dst, symlinks=True)
            else:
                shutil.copy2(src, dst)
            m["source"] = str(dst)
        out.append(m)
    return out
