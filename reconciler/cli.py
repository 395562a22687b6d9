"""The `reconciler` command: parse → call the engine → render → exit code.

Exit codes: 0 success (and, with --detailed-exitcode, no changes), 1 error of any kind
(usage errors included: argparse's own exit 2 would read as "changes present" to a CI
script), 2 changes present (--detailed-exitcode only). Every error is rendered in one place,
`main`. Heavy modules are imported inside the commands so `reconciler --help` stays fast.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from reconciler import __version__, errors, sensitive
from reconciler.backends import DEFAULT_STATE
from reconciler.targets import DEFAULT_TARGET

if TYPE_CHECKING:
    from reconciler.apply.engine import Inputs
    from reconciler.inputs.requests import UpgradeRequest
    from reconciler.planning.plan import Plan
    from reconciler.progress import RolloutDisplay

UPGRADE_SYNTAX = (
    "DEPLOYMENT (every composition to its latest available version), DEPLOYMENT=TARGET "
    "(one image or version, single-composition deployments), or "
    "DEPLOYMENT:EXPERIMENT=TARGET[,...] with *=TARGET for the experiments not listed; "
    "DEPLOYMENT is workspaces/WS/deployments/ID or WS/ID; TARGET is latest, an image id, "
    "IMAGE/versions/vX.Y.Z, vX.Y.Z (of the image the composition runs) or an address"
)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """`30s`, `2m`, `1h`, `500ms` or plain seconds → seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration (try 30s, 2m or 1h)")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argument type: a whole number of at least `minimum`, named `what` in errors."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not {what}")
        return value

    return parse


_count = _at_least(0, "zero or more")  # --canary, --max-failures
positive_int = _at_least(1, "at least 1")  # --parallelism


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"'{text}' is not true or false")


class _Parser(argparse.ArgumentParser):
    """argparse that raises a UsageError instead of exiting 2, so `main` renders it and
    exits 1 like every other error (subcommand parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        raise errors.UsageError(
            f"{self.prog}: {message}", hint=f"see `{self.prog} --help` for the usage"
        )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reconciler",
        description="Plan and apply the runtime catalog of a model-serving platform.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    where = _Parser(add_help=False)
    where.add_argument(
        "--state",
        help="state location: a path or s3://BUCKET/KEY (env RECONCILER_STATE; "
        f"default {DEFAULT_STATE})",
    )
    where.add_argument(
        "--target",
        help="where to apply: dir:PATH, or kubernetes[:CONTEXT] for a cluster "
        f"(env RECONCILER_TARGET; default {DEFAULT_TARGET})",
    )
    where.add_argument("--no-color", action="store_true", help="never colour output")

    inputs = _Parser(add_help=False)
    inputs.add_argument(
        "--chart",
        metavar="DIR",
        help="chart directory: its values.yaml is the defaults layer beneath -f and --set "
        "(and its values.schema.json validates them), as `helm upgrade DIR` layers them",
    )
    inputs.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="Helm values file, read as Helm 4 reads one (every document merged); repeat "
        "to merge (later files win)",
    )
    inputs.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="set a value as Helm's --set does (repeatable)",
    )
    inputs.add_argument(
        "--set-string",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="set a string value as Helm's --set-string does (repeatable)",
    )
    inputs.add_argument("--overrides", metavar="FILE", help="overrides file (user intents)")
    inputs.add_argument(
        "--refresh-only",
        action="store_true",
        help="plan: show only what changed on a cluster target outside the tool; apply: "
        "record it in state, changing nothing on the cluster",
    )
    inputs.add_argument(
        "--refresh",
        type=_boolean,
        default=True,
        metavar="true|false",
        help="read a cluster target first and plan corrections of what changed there outside "
        "the tool (default true; false plans from state alone)",
    )
    inputs.add_argument(
        "--upgrade",
        action="append",
        default=[],
        metavar="SPEC",
        help=f"upgrade the runtime image of a deployment (repeatable): {UPGRADE_SYNTAX}",
    )

    output = _Parser(add_help=False)
    output.add_argument(
        "--format",
        choices=("human", "json", "markdown"),
        help="output format (default human)",
    )
    output.add_argument("--json", action="store_true", help="same as --format json")

    locking = _Parser(add_help=False)
    locking.add_argument(
        "--lock-timeout",
        type=duration,
        default=0.0,
        metavar="DURATION",
        help="wait this long for the state lock (e.g. 30s, 2m); default: fail at once",
    )

    plan = commands.add_parser(
        "plan", parents=[where, inputs, output], help="show what apply would change"
    )
    plan.add_argument("--out", metavar="FILE", help="save the plan for `reconciler apply FILE`")
    plan.add_argument(
        "--force-conflicts",
        action="store_true",
        help="plan to take over fields another field manager owns on a cluster (apply "
        "needs the flag too); default: the plan shows them as conflicts apply refuses",
    )
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 with no changes, 2 with changes, 1 on error",
    )

    applying = _Parser(add_help=False)
    applying.add_argument(
        "--auto-approve", action="store_true", help="apply without asking for confirmation"
    )
    applying.add_argument(
        "--force-conflicts",
        action="store_true",
        help="on a cluster, take over fields another field manager owns (default: refuse)",
    )
    applying.add_argument(
        "--canary",
        type=_count,
        default=0,
        metavar="N",
        help="roll N deployments first; start the rest only when those are healthy",
    )
    applying.add_argument(
        "--max-failures",
        type=_count,
        default=1,
        metavar="N",
        help="stop starting new upgrade rollouts after N failed (default 1; 0: no limit)",
    )
    applying.add_argument(
        "--parallelism",
        type=positive_int,
        default=10,
        metavar="N",
        help="changes and composition rollouts carried out at once (default 10)",
    )

    apply = commands.add_parser(
        "apply",
        parents=[where, inputs, output, locking, applying],
        help="apply changes to the target",
    )
    apply.add_argument("planfile", nargs="?", help="a plan saved by `reconciler plan --out`")

    upgrade = commands.add_parser(
        "upgrade",
        parents=[where, inputs, output, locking, applying],
        help="plan and apply runtime-image upgrades of deployments",
        description="Roll deployments to other runtime image versions: plan the upgrades, "
        "then apply them (with zero downtime on a cluster). Nothing else upgrades "
        "deployments. A composition on an older configuration of its runtime rolls to the "
        "runtime's current one too, on its own version when that is its target. "
        f"SPEC: {UPGRADE_SYNTAX}.",
    )
    upgrade.add_argument("specs", nargs="+", metavar="SPEC", help="what to upgrade")

    show = commands.add_parser(
        "show", parents=[where, output], help="show a saved plan, or the current state"
    )
    show.add_argument("planfile", nargs="?", help="a saved plan; without it, the state")

    commands.add_parser(
        "validate", parents=[where, inputs], help="check values and overrides without planning"
    )

    commands.add_parser(
        "crds",
        help="print the CustomResourceDefinitions of the catalog (for kubectl apply -f -)",
    )

    state = commands.add_parser("state", help="inspect the state or release its lock")
    state_commands = state.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    state_commands.add_parser("list", parents=[where], help="list the resources in state")
    state_show = state_commands.add_parser(
        "show", parents=[where], help="show one resource as JSON"
    )
    state_show.add_argument("address")
    unlock = state_commands.add_parser(
        "force-unlock", parents=[where], help="release a lock left behind, by its ID"
    )
    unlock.add_argument("lock_id", metavar="ID")
    _add_review(commands, output)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # One command is one short-lived process that parses a values file and a state of
    # hundreds of thousands of acyclic containers: the cyclic garbage collector would
    # traverse them again and again (a third of a large plan's time) and free nothing.
    gc.disable()
    colour = False
    # Names the user marks sensitive: the setting first, so even an error reading the
    # values hides them; `sensitiveNames` in the values adds to it once they are read.
    sensitivity = sensitive.Sensitivity(
        names=sensitive.names_from_setting(os.environ.get("RECONCILER_SENSITIVE_NAMES"))
    )
    parsed: argparse.Namespace | None = None
    try:
        args = _parser().parse_args(argv)
        args.sensitivity = sensitivity
        parsed = args
        colour = (
            not getattr(args, "no_color", False)
            and sys.stdout.isatty()
            and "NO_COLOR" not in os.environ
        )
        _resolve(args)
        return _COMMANDS[args.command](args, colour)
    except errors.ReconcilerError as exc:
        from reconciler import render

        if parsed is not None:
            sensitivity = parsed.sensitivity  # with the names the values marked, once read
        sys.stderr.write(
            render.error_text(exc, colour=colour and sys.stderr.isatty(), sensitivity=sensitivity)
        )
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 1


def _resolve(args: argparse.Namespace) -> None:
    """Fill in the defaults that come from the environment, and refuse flags that disagree."""
    if getattr(args, "state", "") is None:
        from reconciler.backends import state_from_environment

        args.state = state_from_environment()
    if getattr(args, "target", "") is None:
        from reconciler.targets import target_from_environment

        args.target = target_from_environment()
    if hasattr(args, "format"):
        if args.json and args.format not in (None, "json"):
            raise errors.UsageError(
                f"--json and --format {args.format} ask for two output formats",
                hint="give one of them: --json is the same as --format json",
            )
        args.format = "json" if args.json else (args.format or "human")


# Commands -----------------------------------------------------------------------------


def _inputs(args: argparse.Namespace) -> Inputs:
    from reconciler.apply.engine import Inputs

    values = overrides = None
    if args.chart or args.values or args.set or args.set_string:
        from reconciler.inputs.values import load_values

        values = load_values(args.values, args.set, args.set_string, chart=args.chart)
        args.sensitivity = args.sensitivity.with_names(sensitive.names_from_values(values.data))
    if args.overrides:
        from reconciler.inputs.overrides import load_overrides

        overrides = load_overrides(args.overrides)
    specs = [*args.upgrade, *getattr(args, "specs", ())]
    upgrades: tuple[UpgradeRequest, ...] = ()
    if specs:
        from reconciler.inputs.upgrade_specs import parse_spec

        upgrades = tuple(parse_spec(spec) for spec in specs)
    return Inputs(
        values=values, overrides=overrides, upgrades=upgrades, sensitivity=args.sensitivity
    )


def _fmt(args: argparse.Namespace) -> str:
    return str(args.format)


def _print_plan(plan: Plan, fmt: str, colour: bool, *, sensitivity: sensitive.Sensitivity) -> None:
    from reconciler import render

    if fmt == "json":
        sys.stdout.write(render.plan_json(plan, sensitivity=sensitivity))
    elif fmt == "markdown":
        sys.stdout.write(render.plan_markdown(plan, sensitivity=sensitivity))
    else:
        sys.stdout.write(render.plan_text(plan, colour=colour, sensitivity=sensitivity))


def _cmd_plan(args: argparse.Namespace, colour: bool) -> int:
    from reconciler import planfile
    from reconciler.apply import engine
    from reconciler.backends import open_backend
    from reconciler.targets import open_target

    target = (
        open_target(args.target, force_conflicts=args.force_conflicts)
        if args.refresh or args.refresh_only
        else None
    )
    the_plan = engine.plan(open_backend(args.state), _inputs(args), target=target)
    if args.refresh_only:
        the_plan = engine.only_refresh(the_plan)
    if args.out:
        planfile.save(the_plan, args.out)
    _print_plan(the_plan, _fmt(args), colour, sensitivity=args.sensitivity)
    if args.out and _fmt(args) == "human":
        sys.stdout.write(
            f"Saved the plan to {args.out}; apply it with: reconciler apply {args.out}\n"
        )
    return 2 if args.detailed_exitcode and the_plan.has_changes else 0


def _cmd_apply(args: argparse.Namespace, colour: bool) -> int:
    from reconciler import planfile, progress, render
    from reconciler.apply import engine
    from reconciler.backends import open_backend
    from reconciler.targets import open_target

    planfile_arg = getattr(args, "planfile", None)
    if planfile_arg and (
        args.chart or args.values or args.set or args.set_string or args.overrides or args.upgrade
    ):
        raise errors.UsageError(
            "a saved plan already carries its inputs",
            hint="drop --chart/-f/--set/--overrides/--upgrade, or plan again with them",
        )
    # A saved plan is the approval, as in Terraform: it was reviewed when it was made.
    if not planfile_arg and not args.auto_approve and not sys.stdin.isatty():
        raise errors.UsageError(
            "refusing to apply without confirmation: no terminal to ask on",
            hint="review the plan, then pass --auto-approve, or save it with "
            "`reconciler plan --out FILE` and apply that file",
        )
    if args.refresh_only and not planfile_arg:
        return _refresh_only(args, colour)
    if args.refresh_only:
        raise errors.UsageError(
            "--refresh-only records what the cluster holds: it applies no saved plan",
            hint="drop the plan file, or drop --refresh-only",
        )
    saved = planfile.load(planfile_arg) if planfile_arg else None
    inputs = None if saved else _inputs(args)
    backend = open_backend(args.state)
    target = open_target(args.target, force_conflicts=args.force_conflicts)
    fmt = _fmt(args)

    display = progress.RolloutDisplay(sys.stderr, terminal=sys.stderr.isatty())

    def confirm(plan: Plan) -> bool:
        display.expect(sum(len(c.compositions_to_write()) for c in plan.deployments))
        order = render.rollout_text(
            plan,
            canary=args.canary,
            max_failures=args.max_failures or None,
            parallelism=args.parallelism,
        )
        if saved is not None:
            # Reviewed when it was saved: neither shown nor asked again; how it rolls is
            # this run's choice, so that is said.
            if fmt == "human":
                sys.stdout.write(order)
            return True
        _print_plan(plan, fmt, colour, sensitivity=args.sensitivity)
        if fmt == "human" and plan.has_changes:
            sys.stdout.write(order)
        if args.auto_approve:
            return True
        answer = input("Apply these changes? Only 'yes' will be accepted: ")
        if answer.strip() != "yes":
            raise errors.UsageError("apply cancelled", hint="nothing was changed")
        return True

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        result = engine.apply(
            backend,
            target,
            inputs=inputs,
            saved=saved,
            saved_source=planfile_arg or "saved plan",
            confirm=confirm,
            lock_timeout=args.lock_timeout,
            parallelism=args.parallelism,
            stop=stop,
            progress=_catalog_progress(display) if sys.stderr.isatty() else None,
            refresh=args.refresh,
            canary=args.canary,
            max_failures=args.max_failures or None,
            on_rollout=display,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        display.close()
    if not result.plan.has_changes:
        _print_plan(result.plan, fmt, colour, sensitivity=args.sensitivity)
        return 0
    serial = result.state.serial if result.state else None
    out = sys.stdout if fmt == "human" else sys.stderr
    out.write(
        render.apply_text(
            len(result.applied),
            result.failed,
            result.skipped,
            serial=serial,
            interrupted=result.interrupted,
            rolled=result.rolled,
            roll_failed=result.roll_failed,
            roll_skipped=result.roll_skipped,
            roll_not_attempted=result.roll_not_attempted,
            corrected=result.corrected,
        )
    )
    return 0 if result.ok else 1


def _refresh_only(args: argparse.Namespace, colour: bool) -> int:
    from reconciler.apply import engine
    from reconciler.backends import open_backend
    from reconciler.targets import open_target

    given = args.chart or args.values or args.set or args.set_string or args.overrides
    if given or args.upgrade or getattr(args, "specs", None):
        raise errors.UsageError(
            "--refresh-only records what the cluster holds: it takes no inputs",
            hint="drop --chart/-f/--set/--overrides/--upgrade, or drop --refresh-only",
        )
    found, written = engine.refresh_only(
        open_backend(args.state), open_target(args.target), lock_timeout=args.lock_timeout
    )
    _print_plan(found, _fmt(args), colour, sensitivity=args.sensitivity)
    if written is not None:
        (sys.stdout if _fmt(args) == "human" else sys.stderr).write(
            f"Refresh complete! {len(found.drift)} objects changed outside the tool recorded "
            f"in state. State serial {written.serial}.\n"
        )
    return 0


def _catalog_progress(display: RolloutDisplay) -> Callable[[int, int], None]:
    """The progress line, kept off the terminal once the rollouts' bar is drawn there."""

    def show(done: int, total: int) -> None:
        if not display.drawing:
            _progress_line(done, total)

    return show


def _progress_line(done: int, total: int) -> None:
    """A progress line on the terminal, rewritten in place; gone once the apply is done."""
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    end = "\r\033[K" if done >= total else "\r"
    sys.stderr.write(f"\r  applying [{bar}] {done}/{total}{end}")
    sys.stderr.flush()


def _cmd_show(args: argparse.Namespace, colour: bool) -> int:
    from reconciler import planfile, render
    from reconciler.apply import engine
    from reconciler.backends import open_backend

    if args.planfile:
        _print_plan(planfile.load(args.planfile), _fmt(args), colour, sensitivity=args.sensitivity)
        return 0
    document, _ = engine.read_state(open_backend(args.state))
    if document is None:
        sys.stdout.write("No state yet: nothing has been applied.\n")
    elif _fmt(args) == "json":
        sys.stdout.write(render.state_json(document, sensitivity=args.sensitivity))
    else:
        sys.stdout.write(f"State serial {document.serial}, lineage {document.lineage}\n")
        sys.stdout.write(render.state_list(document.resources, document.deployments))
    return 0


def _cmd_validate(args: argparse.Namespace, colour: bool) -> int:
    from reconciler.apply import engine
    from reconciler.backends import open_backend

    # Planning checks everything a plan would, against the current state (overrides name
    # existing resources); validating is planning without showing the plan.
    engine.plan(open_backend(args.state), _inputs(args))
    checked = [*([args.chart] if args.chart else []), *args.values]
    checked += ["--set"] if args.set or args.set_string else []
    checked += [args.overrides] if args.overrides else []
    checked += [f"--upgrade {spec}" for spec in args.upgrade]
    sys.stdout.write(f"Valid: {', '.join(checked) or 'nothing given'}.\n")
    return 0


def _cmd_state(args: argparse.Namespace, colour: bool) -> int:
    from reconciler import render
    from reconciler.apply import engine
    from reconciler.backends import open_backend

    backend = open_backend(args.state)
    if args.state_command == "force-unlock":
        backend.unlock(args.lock_id)
        sys.stdout.write(f"Released lock {args.lock_id} on {backend.name}.\n")
        return 0
    document, _ = engine.read_state(backend)
    resources = document.by_address if document else {}
    running = document.deployments_by_address if document else {}
    if args.state_command == "list":
        sys.stdout.write(
            render.state_list(
                (resources[a] for a in sorted(resources)), (running[a] for a in sorted(running))
            )
        )
        return 0
    if args.address in running:
        sys.stdout.write(render.deployment_json(running[args.address]))
        return 0
    if args.address not in resources:
        raise errors.NotFoundError(
            f"{args.address} is not in the state", hint="see `reconciler state list`"
        )
    sys.stdout.write(render.resource_json(resources[args.address], sensitivity=args.sensitivity))
    return 0


def _cmd_crds(args: argparse.Namespace, colour: bool) -> int:
    from reconciler.targets import crds

    sys.stdout.write(crds.render_yaml())
    return 0


def _add_review(commands: argparse._SubParsersAction[Any], output: argparse.ArgumentParser) -> None:
    review = commands.add_parser(
        "review",
        parents=[output],
        help="dry-run review of a values change: blast radius, nothing written",
        description="Compare two revisions of the Helm values against the state (read "
        "only): the catalog changes, the deployments that get an upgrade available, the "
        "compositions whose running version becomes DISABLED, and what `reconciler upgrade` "
        "would then roll. Writes no state, plan, lock or target object.",
    )
    review.add_argument(
        "--base",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="the values files before the change, in -f order",
    )
    review.add_argument(
        "--head",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="the values files after the change, in -f order",
    )
    review.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="with --git: a values file, compared with itself at that revision (repeatable)",
    )
    review.add_argument(
        "--git",
        metavar="REV",
        help="the base side is the -f files as git revision REV has them (git show REV:FILE)",
    )
    review.add_argument("--overrides", metavar="FILE", help="overrides file (user intents)")
    review.add_argument(
        "--state",
        help="the state whose deployments and user intents the review reads, never writes "
        f"(env RECONCILER_STATE; default {DEFAULT_STATE})",
    )
    review.add_argument("--no-color", action="store_true", help="never colour output")


def _cmd_review(args: argparse.Namespace, colour: bool) -> int:
    from reconciler import render
    from reconciler.apply import engine
    from reconciler.backends import open_backend
    from reconciler.inputs.values import load_values
    from reconciler.planning import review

    if args.git is not None:
        if args.base or args.head or not args.values:
            raise errors.UsageError(
                "--git REV compares the -f files with themselves at REV",
                hint="write review -f FILE... --git REV, or review --base FILE... --head FILE...",
            )
        from reconciler.inputs.revisions import load_values_at

        head = load_values(args.values)
        base = load_values_at(args.values, args.git)
        base_values, absent = base.values, base.absent
    else:
        if args.values or not (args.base and args.head):
            raise errors.UsageError(
                "a review needs both sides: --base FILE... and --head FILE...",
                hint="or compare -f files with a git revision: review -f FILE... --git REV",
            )
        base_values, absent = load_values(args.base), ()
        head = load_values(args.head)
    overrides = None
    if args.overrides:
        from reconciler.inputs.overrides import load_overrides

        overrides = load_overrides(args.overrides)
    prior, _ = engine.read_state(open_backend(args.state))
    result = review.compute_review(
        prior,
        base=base_values,
        head=head,
        overrides=overrides,
        tool_version=engine.TOOL_VERSION,
        base_absent=absent,
    )
    names = (
        *sensitive.names_from_values(base_values.data),
        *sensitive.names_from_values(head.data),
    )
    hidden = args.sensitivity.with_names(names)
    fmt = _fmt(args)
    if fmt == "json":
        sys.stdout.write(render.review_json(result, sensitivity=hidden))
    elif fmt == "markdown":
        sys.stdout.write(render.review_markdown(result, sensitivity=hidden))
    else:
        sys.stdout.write(render.review_text(result, colour=colour, sensitivity=hidden))
    return 0


_COMMANDS = {
    "plan": _cmd_plan,
    "apply": _cmd_apply,
    "upgrade": _cmd_apply,
    "show": _cmd_show,
    "validate": _cmd_validate,
    "state": _cmd_state,
    "crds": _cmd_crds,
    "review": _cmd_review,
}


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
