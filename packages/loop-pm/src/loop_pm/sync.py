"""tasks/ ⇄ PM tool. Task files win every conflict; the one exception is a remote issue a human moved to
Done, which flips its task to `done` and archives it. Plan first (reads only), then apply step by step,
each step durable on its own, so a run cut off halfway is finished by running it again.

A task is linked to an issue by its `jira:` key alone (written back by our push, or by a human). An
issue carrying a task's marker label is reported as a possible link and never followed, unless the push
journal (loop_pm.journal) says our own push sent that task's create. Everything the remote sends is data:
control characters are made visible and every form of the adapter's secrets is redacted on receipt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loop_schemas import TaskStatus, describe_error, file_lock, printable, redact
from loop_schemas.pm import (
    FATAL_ERRORS,
    AdapterConnectionError,
    AdapterError,
    FetchResult,
    PmConnection,
    PossibleLink,
    RemoteIssue,
    SyncAction,
    SyncPlan,
    task_label,
)

from loop_pm import journal
from loop_pm.taskfiles import (
    ACTIVE,
    TaskFile,
    TaskTree,
    TaskWriteError,
    archive_done,
    create_task_file,
    display,
    key_problem,
    log_created,
    log_done,
    log_has_done,
    new_task_text,
    read_tree,
    reread_key,
    snapshot,
    task_path_for,
    write_key,
    writes_back,
)

CREATE_FROM = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


class SyncAbortedError(Exception):
    """A fatal adapter error (configuration, credentials, connection) or a failed plan stopped the run.

    `plan` is what had been planned (and partly applied) when it stopped, if anything.
    """

    def __init__(self, message: str, plan: SyncPlan | None = None) -> None:
        super().__init__(message)
        self.plan = plan


@dataclass
class Context:
    adapter: str
    tasks_dir: Path
    project_root: Path
    conn: PmConnection
    dry_run: bool
    options: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    """The adapter's credential values (HoldsSecrets): redacted, in every form, from all remote text."""

    def data(self, text: str, *, multiline: bool = False) -> str:
        """Remote text as data: secrets redacted, control characters visible (newlines, tabs kept when
        `multiline`)."""
        return printable(redact(text, self.secrets), multiline=multiline)


def received(ctx: Context, issue: RemoteIssue) -> RemoteIssue:
    """A remote issue with every text field made data (the key is checked, never rewritten)."""

    def opt(value: str | None) -> str | None:
        return None if value is None else ctx.data(value)

    return issue.model_copy(
        update={
            "title": ctx.data(" ".join(issue.title.split())),
            "status": ctx.data(" ".join(issue.status.split())),
            "description": ctx.data(issue.description, multiline=True),
            "url": opt(issue.url),
            "issue_type": opt(issue.issue_type),
            "parent": opt(issue.parent),
        }
    )


def _fetch(ctx: Context, keys: list[str]) -> FetchResult:
    fetched = ctx.conn.fetch(keys)
    fetched.issues = [received(ctx, i) for i in fetched.issues]
    return fetched


def _possible_link(
    ctx: Context, plan: SyncPlan, issue: RemoteIssue, task: TaskFile, *, journalled: bool = False
) -> None:
    """Report (never follow) an issue that carries `task`'s marker label while the task names no key."""
    label = task_label(task.id)
    detail = (
        f"{issue.key} carries the label {label}, but {task.id} names no issue: not linked, not imported, "
        f"nothing archived (if {issue.key} is {task.id}'s issue, write `jira: {issue.key}` into "
        f"{display(task.path, ctx.tasks_dir)}; if not, remove the label from {issue.key})"
    )
    if journalled:
        detail += f"; our push sent a create for {task.id} that was cut off: the next push links it"
    plan.possible_links.append(
        PossibleLink(direction=plan.direction, task_id=task.id, key=issue.key, label=label, detail=detail)
    )
    plan.warnings.append(f"possible link: {detail}")


@dataclass
class _Step:
    action: SyncAction
    task: TaskFile | None = None
    remote: RemoteIssue | None = None
    text: str | None = None
    duplicate: TaskFile | None = None


def _active_duplicates(tree: TaskTree) -> tuple[dict[str, tuple[TaskFile, TaskFile]], list[str]]:
    """Ids present in tasks/ (active) and tasks/archive/ (done): an archive move cut off midway."""
    interrupted: dict[str, tuple[TaskFile, TaskFile]] = {}
    warnings: list[str] = []
    ids: dict[str, list[TaskFile]] = {}
    for tf in tree.files:
        ids.setdefault(tf.id, []).append(tf)
    for task_id, files in ids.items():
        if len(files) < 2:
            continue
        live = [f for f in files if not f.archived and f.status in ACTIVE]
        done = [f for f in files if f.archived and f.status == TaskStatus.DONE]
        if (
            len(files) == 2
            and len(live) == 1
            and len(done) == 1
            and live[0].path.name == done[0].path.name
            and live[0].key == done[0].key
        ):
            interrupted[task_id] = (live[0], done[0])
        else:
            paths = ", ".join(display(f.path, tree.tasks_dir) for f in files)
            warnings.append(f"{task_id} is used by more than one file ({paths}); those files are skipped")
    return interrupted, warnings


def _usable(tree: TaskTree) -> tuple[list[TaskFile], dict[str, tuple[TaskFile, TaskFile]], list[str]]:
    interrupted, warnings = _active_duplicates(tree)
    counts: dict[str, int] = {}
    for tf in tree.files:
        counts[tf.id] = counts.get(tf.id, 0) + 1
    usable = [tf for tf in tree.files if counts[tf.id] == 1]
    keys: dict[str, TaskFile] = {}
    for tf in list(usable):
        if not tf.key:
            continue
        if tf.key in keys:
            warnings.append(f"{tf.key} is named by both {keys[tf.key].id} and {tf.id}; {tf.id} is skipped")
            usable.remove(tf)
        else:
            keys[tf.key] = tf
    return usable, interrupted, warnings


# --------------------------------------------------------------------------------------------- pull


def plan_pull(ctx: Context) -> tuple[SyncPlan, list[_Step]]:
    tree = read_tree(ctx.tasks_dir)
    plan = SyncPlan(direction="pull", warnings=list(tree.problems))
    usable, interrupted, dup_warnings = _usable(tree)
    plan.warnings.extend(dup_warnings)
    steps: list[_Step] = []
    for task_id, (live, done) in sorted(interrupted.items()):
        action = SyncAction(
            direction="pull",
            kind="archive-task",
            task_id=task_id,
            key=live.key,
            path=display(done.path, ctx.tasks_dir),
            title=live.task.frontmatter.title,
            detail="finish an interrupted move to tasks/archive/",
        )
        steps.append(_Step(action, task=live, duplicate=done))
    by_key = {tf.key: tf for tf in usable if tf.key}
    by_id = {tf.id: tf for tf in usable}
    linked_active = sorted(k for k, tf in by_key.items() if tf.status in ACTIVE)
    fetched = _fetch(ctx, linked_active)
    plan.warnings.extend(fetched.warnings)
    for key in fetched.missing:
        tf = by_key.get(key)
        who = f"{tf.id} names " if tf else ""
        plan.warnings.append(f"{who}{key}, which does not exist remotely (the file is left as it is)")
    next_number = tree.max_number + 1
    interrupted_keys = {live.key for live, _ in interrupted.values() if live.key}
    seen: set[str] = set()
    for issue in sorted(fetched.issues, key=_key_order):
        if issue.key in seen:
            continue
        seen.add(issue.key)
        problem = key_problem(issue.key)
        if problem:  # it could never be written into a task's `jira:` line: say so, import nothing
            plan.warnings.append(f"the remote key {issue.key[:60]!r} {problem}; that issue is ignored")
            continue
        tf = by_key.get(issue.key)
        if tf is not None:
            if tf.status not in ACTIVE:
                continue
            if issue.task_status == TaskStatus.DONE:
                target = ctx.tasks_dir / "archive" / tf.path.name
                action = SyncAction(
                    direction="pull",
                    kind="archive-task",
                    task_id=tf.id,
                    key=issue.key,
                    path=display(target, ctx.tasks_dir),
                    title=tf.task.frontmatter.title,
                    changes=[f"status: {tf.status.value} -> done"],
                    detail=f"{issue.key} is '{issue.status}' remotely",
                )
                steps.append(_Step(action, task=tf, remote=issue))
            elif issue.task_status == TaskStatus.DROPPED:
                plan.warnings.append(
                    f"{issue.key} is '{issue.status}' remotely; {tf.id} is left as it is "
                    "(only Done flips a task)"
                )
            continue
        if issue.key in interrupted_keys:
            continue  # its task file is being moved to the archive (above)
        if issue.key in tree.claimed:  # named by a file that is skipped: importing it would duplicate it
            if issue.task_status in ACTIVE:
                plan.warnings.append(
                    f"{issue.key} is named by {tree.claimed[issue.key]}, which is skipped; "
                    "not imported again (fix that file)"
                )
            continue
        if issue.task_id and issue.task_id in by_id:
            owner = by_id[issue.task_id]
            if owner.key is None:  # a label is a claim anyone can make: reported, never followed
                _possible_link(
                    ctx,
                    plan,
                    issue,
                    owner,
                    journalled=journal.pending(ctx.project_root, ctx.adapter, owner.id),
                )
                continue
        if issue.task_status not in ACTIVE:
            continue
        task_id = f"T{next_number:04d}"
        if next_number > 9999:
            plan.warnings.append(f"{issue.key}: no task id left (T9999 is taken); not imported")
            continue
        path = task_path_for(ctx.tasks_dir, task_id, issue.title)
        text = new_task_text(task_id, issue, ctx.adapter)
        problem = writes_back(text, path, issue.key)
        if problem:  # never write a task file that the next run would skip (and import again)
            plan.warnings.append(f"{issue.key}: not imported: its task file would not read back ({problem})")
            continue
        next_number += 1
        action = SyncAction(
            direction="pull",
            kind="create-task",
            task_id=task_id,
            key=issue.key,
            path=display(path, ctx.tasks_dir),
            title=" ".join(issue.title.split()) or issue.key,
            detail=f"new task from {issue.key} ('{issue.status}' -> {issue.task_status.value})",
        )
        steps.append(_Step(action, remote=issue, text=text))
    plan.actions = [s.action for s in steps]
    return plan, steps


def _key_order(issue: RemoteIssue) -> tuple[str, int, str]:
    prefix, _, number = issue.key.rpartition("-")
    return (prefix, int(number) if number.isdigit() else 0, issue.key)


def _apply_pull_step(ctx: Context, step: _Step) -> None:
    action = step.action
    if action.kind == "archive-task" and step.duplicate is not None and step.task is not None:
        step.task.path.unlink(missing_ok=True)
        if not log_has_done(ctx.project_root, step.task.id):
            log_done(ctx.project_root, step.task.id)
        return
    if action.kind == "archive-task" and step.task is not None:
        archive_done(step.task, ctx.tasks_dir)
        log_done(ctx.project_root, step.task.id)
        return
    if action.kind == "link-task" and step.task is not None and action.key:
        write_key(step.task, action.key)
        log_created(ctx.project_root, action.key, step.task.id)
        return
    if action.kind == "create-task" and step.text is not None and action.task_id and step.remote is not None:
        create_task_file(task_path_for(ctx.tasks_dir, action.task_id, step.remote.title), step.text)
        return
    raise TaskWriteError(f"internal: cannot apply {action.kind}")


# --------------------------------------------------------------------------------------------- push


def plan_push(ctx: Context) -> tuple[SyncPlan, list[_Step]]:
    tree = read_tree(ctx.tasks_dir)
    plan = SyncPlan(direction="push", warnings=list(tree.problems))
    usable, interrupted, dup_warnings = _usable(tree)
    plan.warnings.extend(dup_warnings)
    for task_id in sorted(interrupted):
        plan.warnings.append(f"{task_id} is half-moved to tasks/archive/; run pull to finish it (skipped)")
    steps: list[_Step] = []
    linked = {tf.key: tf for tf in usable if tf.key}
    fetched = _fetch(ctx, sorted(linked))
    plan.warnings.extend(fetched.warnings)
    remote_by_key = {i.key: i for i in fetched.issues}
    for key in fetched.missing:
        tf = linked.get(key)
        who = f"{tf.id} names " if tf else ""
        plan.warnings.append(
            f"{who}{key}, which does not exist remotely (not recreated: a key means an issue)"
        )
    for key, tf in sorted(linked.items(), key=lambda kv: kv[1].id):
        remote = remote_by_key.get(key)
        if remote is None:
            continue
        snap = snapshot(tf)
        changes = list(ctx.conn.diff(remote, snap))
        if (
            "status" in changes
            and remote.task_status in (TaskStatus.DONE, TaskStatus.DROPPED)
            and tf.status in ACTIVE
        ):
            changes.remove("status")
            plan.warnings.append(
                f"{key} is '{remote.status}' remotely while {tf.id} is {tf.status.value}: not reopened"
                + ("; pull archives the task" if remote.task_status == TaskStatus.DONE else "")
            )
        if not changes:
            continue
        action = SyncAction(
            direction="push",
            kind="update-issue",
            task_id=tf.id,
            key=key,
            path=display(tf.path, ctx.tasks_dir),
            title=tf.task.frontmatter.title,
            changes=changes,
            detail=f"remote '{remote.status}', file {tf.status.value}",
        )
        steps.append(_Step(action, task=tf, remote=remote))
    candidates = [tf for tf in usable if not tf.key and tf.status in CREATE_FROM and not tf.archived]
    marked = ctx.conn.find_marked([tf.id for tf in candidates]) if candidates else {}
    for tf in sorted(candidates, key=lambda f: f.id):
        found = marked.get(tf.id)
        if found is not None:
            found = received(ctx, found)
            if key_problem(found.key) or not journal.pending(ctx.project_root, ctx.adapter, tf.id):
                # not a create our push sent: the label is someone's claim; no link, and no second
                # issue for the task until a human says which it is
                _possible_link(ctx, plan, found, tf)
                continue
            action = SyncAction(
                direction="push",
                kind="link-task",
                task_id=tf.id,
                key=found.key,
                path=display(tf.path, ctx.tasks_dir),
                title=tf.task.frontmatter.title,
                detail=f"{found.key} was created from {tf.id} by our push, cut off; key written back",
            )
            steps.append(_Step(action, task=tf, remote=found))
            continue
        action = SyncAction(
            direction="push",
            kind="create-issue",
            task_id=tf.id,
            path=display(tf.path, ctx.tasks_dir),
            title=tf.task.frontmatter.title,
            detail=f"new issue (task status {tf.status.value})",
        )
        steps.append(_Step(action, task=tf))
    plan.actions = [s.action for s in steps]
    return plan, steps


def _apply_push_step(ctx: Context, step: _Step, warnings: list[str]) -> None:
    action = step.action
    tf = step.task
    if tf is None:
        raise TaskWriteError(f"internal: {action.kind} without a task")
    if action.kind == "update-issue" and step.remote is not None:
        result = ctx.conn.update(step.remote, snapshot(tf), action.changes)
        warnings.extend(f"{action.key}: {w}" for w in result.warnings)
        if result.changed:
            action.detail = "changed: " + ", ".join(result.changed)
        return
    if action.kind == "link-task" and action.key:  # planned only for a create the journal records
        write_key(tf, action.key)
        log_created(ctx.project_root, action.key, tf.id)
        journal.clear(ctx.project_root, ctx.adapter, tf.id)
        return
    if action.kind == "create-issue":
        current = reread_key(tf)
        if current:  # a key appeared since the plan: a non-empty key means an existing issue
            raise TaskWriteError(
                f"{tf.id} changed since it was read and now names {current}; no issue created"
            )
        journal.record(ctx.project_root, ctx.adapter, tf.id, tf.task.frontmatter.title)
        try:
            created = ctx.conn.create(snapshot(tf))
        except AdapterConnectionError:
            raise  # it may have been created: the journal entry lets the next push adopt it
        except AdapterError:
            journal.clear(ctx.project_root, ctx.adapter, tf.id)  # the remote refused it: nothing exists
            raise
        action.key = created.key
        warnings.extend(f"{tf.id}: {w}" for w in created.warnings)
        write_key(tf, created.key)
        log_created(ctx.project_root, created.key, tf.id)
        journal.clear(ctx.project_root, ctx.adapter, tf.id)
        return
    raise TaskWriteError(f"internal: cannot apply {action.kind}")


# -------------------------------------------------------------------------------------------- apply


@contextlib.contextmanager
def sync_lock(ctx: Context) -> Iterator[None]:
    """One sync at a time per project (a dry run takes no lock: it writes nothing, not even a lock file)."""
    if ctx.dry_run:
        yield
        return
    with file_lock(ctx.project_root / ".loop" / "pm-sync", timeout=60):
        yield


def apply(ctx: Context, plan: SyncPlan, steps: list[_Step]) -> None:
    """Run each step; a step's failure is recorded and the rest go on, a fatal adapter error stops all."""
    for index, step in enumerate(steps):
        action = step.action
        try:
            if plan.direction == "pull":
                _apply_pull_step(ctx, step)
            else:
                _apply_push_step(ctx, step, plan.warnings)
            action.state = "done"
        except FATAL_ERRORS as exc:
            _stop(steps, index, str(exc), plan)
        except (AdapterError, TaskWriteError) as exc:
            action.state = "failed"
            action.error = str(exc)
        except OSError as exc:
            action.state = "failed"
            action.error = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
        except Exception as exc:  # an adapter that broke its contract (it raises AdapterError only)
            _stop(steps, index, unexpected(ctx.adapter, exc), plan)


def _stop(steps: list[_Step], index: int, message: str, plan: SyncPlan) -> None:
    """Mark step `index` failed and the rest skipped, then stop the run."""
    steps[index].action.state = "failed"
    steps[index].action.error = message
    for rest in steps[index + 1 :]:
        rest.action.state = "skipped"
        rest.action.error = "not run: the sync stopped"
    raise SyncAbortedError(message, plan)


def unexpected(adapter: str, exc: BaseException) -> str:
    """One line for an exception an adapter should not have raised (only AdapterError is part of the
    protocol): what went wrong in a person's words, so the run still ends in one result (and one --json
    document)."""
    return f"adapter '{adapter}' failed unexpectedly: {describe_error(exc)}"


def run_direction(ctx: Context, direction: str) -> SyncPlan:
    """Plan one direction; apply it unless this is a dry run. SyncAbortedError when planning fails (any
    adapter error: nothing was written) or a fatal adapter error stops the apply."""
    try:
        plan, steps = plan_pull(ctx) if direction == "pull" else plan_push(ctx)
    except AdapterError as exc:
        raise SyncAbortedError(str(exc)) from None
    except (TaskWriteError, OSError):
        raise
    except Exception as exc:
        raise SyncAbortedError(unexpected(ctx.adapter, exc)) from None
    if not ctx.dry_run:
        try:
            apply(ctx, plan, steps)
        except SyncAbortedError as exc:
            raise SyncAbortedError(str(exc), plan) from None
    return plan
