"""The ``harness`` command: validate, render, list, run and clean scenarios; build boxes; start,
enter, list and remove kept VMs (``up``, ``ssh``, ``status``, ``down``: ``harness.lifecycle``).

Exit codes of ``run``: 0 every check passed (or skipped), 1 a check failed, 2 bad input
or a harness/target error (a bundle that could not be written included); 130 after Ctrl-C,
143 after SIGTERM, 129 after SIGHUP (the run script tears its namespaces down first).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
import traceback
from pathlib import Path
from typing import Optional

from harness import __version__
from harness.bundle import BUNDLE_STATUSES, DEFAULT_BUNDLE_DIR
from harness.loader import ScenarioError, load_scenario
from harness.model import Scenario

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
RUN_ID = re.compile(r"[0-9a-f]{6}")
# Longest path a bundle adds below --bundle-dir (name, run id, suffixes, its deepest file).
BUNDLE_PATH_SLACK = 200
# How long clean-up after Ctrl-C or SIGTERM may take on the target (seconds).
INTERRUPT_CLEAN_TIMEOUT_S = 20


class UsageError(Exception):
    """A command-line value that cannot work (an output path, a run id); one line, exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived. A ``KeyboardInterrupt``, so every layer stops as for Ctrl-C
    (the run script tears down); ``main`` then exits 128 + ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    # Once is enough: a second TERM/HUP must not cut the tear-down the first one started.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def _say(text: str, stream=None) -> None:
    """Print a line, even when the terminal is gone (SIGHUP): then say nothing."""
    try:
        print(text, file=stream or sys.stderr, flush=True)
    except OSError:
        pass


def check_output_paths(json_path: Optional[str], bundle_dir: Optional[str], bundle_dir_given: bool) -> Optional[str]:
    """Refuse output paths that cannot be written, before anything runs.

    ``json_path`` must name a file in an existing, writable directory; ``bundle_dir`` must
    be a directory or creatable under a writable one. Raises ``UsageError`` (one line) for
    a path given on the command line; for the default bundle directory returns a warning
    instead (a passing run writes no bundle), else None.
    """
    if json_path:
        path = Path(json_path)
        if path.is_dir():
            raise UsageError(f"--json {json_path}: is a directory; give a file name, e.g. {path / 'results.json'}")
        if not path.parent.is_dir():
            raise UsageError(f"--json {json_path}: directory {path.parent} does not exist")
        if not (os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK | os.X_OK)):
            raise UsageError(f"--json {json_path}: cannot be written (permissions or a read-only file system)")
    problem = _bundle_dir_problem(Path(bundle_dir)) if bundle_dir else None
    if problem and bundle_dir_given:
        raise UsageError(f"--bundle-dir {bundle_dir}: {problem}")
    if problem:
        return f"bug-report bundles cannot be written to {bundle_dir} ({problem}): pass --bundle-dir DIR"
    return None


def _bundle_dir_problem(directory: Path) -> Optional[str]:
    if directory.exists() and not directory.is_dir():
        return "is a file, not a directory"
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} cannot be written (permissions or a read-only file system)"
    if len(os.fsencode(directory.absolute())) + BUNDLE_PATH_SLACK > os.pathconf(existing, "PC_PATH_MAX"):
        return "the path is too long for the bundles below it"
    return None

DESCRIPTION = "Test Linux network-namespace setups: YAML scenarios run on this machine, a VM or an ssh host."

EPILOG = """\
exit codes:
  0    every check passed (or was skipped)
  1    a check failed (repro: the verdicts differ from the bundle's)
  2    bad input, or a harness or target error; nothing half-done is left behind
  130  interrupted (Ctrl-C), 143 stopped by SIGTERM, 129 by SIGHUP: the run's namespaces
       were torn down first

environment:
  HARNESS_BOX               vagrant: the box (default debian/bookworm64)
  HARNESS_BOX_KERNEL        vagrant: build (or reuse) a local box with this kernel spec or .deb
  HARNESS_DESTROY           vagrant: always, passing (default) or never
  VAGRANT_DEFAULT_PROVIDER  vagrant: libvirt or virtualbox
  HARNESS_LIBVIRT_DRIVER    libvirt: kvm, or qemu for software emulation (no working KVM)
  HARNESS_LIBVIRT_URI       libvirt: another hypervisor, e.g. qemu+ssh://root@bighost/system
  HARNESS_BOX_PREFIX        names of the boxes built here (default netns-harness)
  HARNESS_SECURITY_MIRROR   box builds: the security archive's mirror (none: leave it out)
  HARNESS_MEMORY, HARNESS_CPUS  the VM's MiB and vCPUs (default 1024, 1)
  HARNESS_VAGRANT_DIR       where to run vagrant (default: ./Vagrantfile if present, else the packaged one)
  HARNESS_CACHE_DIR         where built boxes are cached
  XDG_STATE_HOME            where the records of kept VMs live (default ~/.local/state/netns-harness/vms)
  NO_COLOR                  set (not empty): no colour; output that is not a terminal never has any

examples:
  harness init                                  a scenarios/ folder, an example and a noxfile
  sudo harness run scenarios/                   run every scenario on this machine
  harness run scenarios/ --target vagrant       ... in a disposable VM (kept when a check fails)
  harness ssh --namespace client                a shell in a namespace the failing run left in it
  harness status; harness down                  the VMs kept, and remove them
  harness <command> --help                      a command's options and an example
"""


# PASS/FAIL/... at the start of a report line, and their ANSI colours (green, red, bold red, yellow, magenta).
_STATUS_WORD = re.compile(r"(?m)^(\s*)(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS)\b")
_COLOURS = {"PASS": "32", "FAIL": "31", "ERROR": "1;31", "SKIP": "33", "XFAIL": "33", "XPASS": "35"}


def use_colour(stream) -> bool:
    """Colour on a terminal only, and never when ``NO_COLOR`` is set and not empty (no-color.org)."""
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def coloured(text: str, stream) -> str:
    """``text`` with its status words coloured when ``stream`` is a terminal (see ``use_colour``)."""
    if not use_colour(stream):
        return text
    return _STATUS_WORD.sub(lambda m: f"{m[1]}\033[{_COLOURS[m[2]]}m{m[2]}\033[0m", text)


def scenario_files(paths: list[str]) -> list[Path]:
    """Expand files and directories (``*.yaml`` / ``*.yml`` inside, sorted) into scenario files.

    A file given twice (``a.yaml scenarios/``) counts once, as pytest counts a test path once.
    Raises ``ScenarioError`` for a path that does not exist or a directory with none.
    """
    from harness.loader import Problem

    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                raise ScenarioError([Problem(raw, None, "", "no *.yaml scenario files in this directory")])
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise ScenarioError([Problem(raw, None, "", "no such file or directory")])
    seen: set[Path] = set()
    return [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]


def load_all(paths: list[str]) -> list[tuple[Path, Scenario]]:
    """Load and validate every scenario first, so bad input stops the run before anything runs."""
    loaded, problems = [], []
    for file in scenario_files(paths):
        try:
            loaded.append((file, load_scenario(file)))
        except ScenarioError as err:
            problems += err.problems
    if problems:
        raise ScenarioError(problems)
    return loaded


def cmd_validate(args) -> int:
    from harness.report import one_line

    for file, scenario in load_all(args.paths):
        print(f"ok   {one_line(file)}: {scenario.name}")
    return EXIT_OK


def cmd_list(args) -> int:
    from harness.report import one_line

    for file, scenario in load_all(args.paths):
        checks = sum(len(s.checks) for s in scenario.all_steps)
        print(f"{scenario.name:<32} {len(scenario.all_steps)} steps {checks:>3} checks  {one_line(file)}")
        if scenario.description:
            print(f"{'':<32} {scenario.description}")
    return EXIT_OK


def cmd_render(args) -> int:
    from harness.diagram import mermaid
    from harness.render import render

    if args.run_id is not None and not RUN_ID.fullmatch(args.run_id):
        raise UsageError(f"--run-id {args.run_id!r}: a run id is six lowercase hex digits, as in namespace nh3fa2c1-client")
    loaded = load_all([args.file])
    if len(loaded) != 1:
        raise UsageError(f"render {args.file}: a folder of {len(loaded)} scenarios; render takes one file "
                         f"(e.g. harness render {loaded[0][0]})")
    [(_, scenario)] = loaded
    if args.diagram:
        print(mermaid(scenario))
        return EXIT_OK
    rendered = render(scenario, args.run_id)
    sys.stdout.write(getattr(rendered, args.part))
    return EXIT_OK


def _target_options(args) -> dict:
    options = {}
    for name in ("box", "box_kernel", "destroy", "reuse", "vm", "keep_all", "identity", "known_hosts", "ssh_config"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


class _Output:
    """Where ``harness run`` prints results. When its reader goes away (``harness run ... | head``)
    it prints nothing more but the run goes on, so ``--json`` and the bundles stay complete;
    ``main`` then exits 141, as a program that got SIGPIPE does."""

    gone = False

    @classmethod
    def print(cls, text: str, stream) -> None:
        if cls.gone:
            return
        try:
            print(text, file=stream, flush=True)
        except BrokenPipeError:
            cls.gone = True
            # What is still buffered goes nowhere instead of failing again at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def cmd_run(args) -> int:
    import time

    from harness.facts import gather_facts
    from harness.outcome import run_passed
    from harness.report import format_timings, one_line, summary_line, write_json
    from harness.targets import get_target

    started = time.monotonic()
    loaded = load_all(args.paths)
    out = sys.stderr if args.json == "-" else sys.stdout  # --json -: stdout is the JSON's alone
    json_file = None if args.json == "-" else args.json
    warning = check_output_paths(json_file, args.bundle_dir or DEFAULT_BUNDLE_DIR, args.bundle_dir is not None)
    if warning:
        _say(f"harness: warning: {warning}")
    results, facts, trouble, timings, described = [], None, [], {}, {}
    if args.isolate == "scenario" and getattr(args, "reuse", None):
        _say("harness: --isolate scenario gives every scenario a fresh VM and --reuse runs them on a kept "
             "one (which a fresh copy would replace): give one of them")
        return EXIT_ERROR
    target = get_target(args.target, **_target_options(args))
    if args.isolate == "scenario" and not hasattr(target, "fresh"):
        target.close()
        _say(f"harness: --isolate scenario needs a VM target (--target vagrant), not {args.target}")
        return EXIT_ERROR
    try:
        with target:
            failed_outside = False
            try:
                facts, timings["facts"] = timed_facts(target, gather_facts)
                _say(one_line(f"target {target.name}: kernel {facts.kernel}, {facts.iproute2}, {facts.ping}"))
                for index, (file, scenario) in enumerate(loaded):
                    if index and args.isolate == "scenario":
                        target.fresh()  # a new copy of the VM: nothing the last scenario did remains
                    results.append(_run_one(args, target, facts, file, scenario, trouble, out))
                    timings.setdefault("first_verdict", round(time.monotonic() - started, 2))
            except Exception:
                failed_outside = True
                raise
            finally:
                if hasattr(target, "set_outcome"):
                    target.set_outcome(passed=run_passed([r.status for r in results],
                                                         failed_outside_scenarios=failed_outside))
                described = {**target.describe(), **(facts.to_dict() if facts else {})}
    finally:
        # Written after close: the VM's destroy is a phase too.
        timings = {**getattr(target, "timings", {}), **timings}
        if args.json:
            try:
                write_json(Path(args.json), results, described, timings)
            except OSError as exc:
                trouble.append(f"could not write --json {args.json}: {exc.strerror or exc}")
                _say(f"harness: {trouble[-1]}")
        if args.timings:
            _say(format_timings(timings, results))
    if loaded:
        _Output.print(summary_line(results), out)
    if trouble or any(r.status == "ERROR" for r in results):
        return EXIT_ERROR
    return EXIT_FAILED if any(r.status == "FAIL" for r in results) else EXIT_OK


def _run_one(args, target, facts, file, scenario, trouble: list[str], out):
    """Run one scenario, clean up after a run that died, print it, write its bundle.

    A bundle that cannot be written is said in one line and added to ``trouble``; the next
    scenario runs all the same.
    """
    from harness.bundle import write_bundle
    from harness.cleanup import clean_run
    from harness.render import new_run_id
    from harness.report import format_scenario
    from harness.runner import run_scenario

    run_id = new_run_id()
    try:
        result = run_scenario(scenario, target, file=file, facts=facts, run_id=run_id, capture_state=args.report)
    except KeyboardInterrupt:
        # The script was stopped and tore down; if its grace ran out, its lock and temp dir go here.
        clean_run(target, run_id, timeout=INTERRUPT_CLEAN_TIMEOUT_S)
        raise
    if result.cleanup_problem:
        trouble.append(result.cleanup_problem)
        _say(f"harness: {result.cleanup_problem}; when the target is back: harness clean --target {args.target}")
    _Output.print(coloured(format_scenario(result, args.verbose), out), out)
    if args.report or result.status in BUNDLE_STATUSES:
        bundle_dir = Path(args.bundle_dir or DEFAULT_BUNDLE_DIR)
        try:
            archive = write_bundle(bundle_dir, scenario, result, facts, target.describe())
        except OSError as exc:
            trouble.append(f"could not write the bug-report bundle of {scenario.name} in {bundle_dir}: {exc.strerror or exc}")
            _say(f"harness: {trouble[-1]}")
        except Exception as exc:  # a harness bug: lose this bundle, not the rest of the run
            trouble.append(f"internal error writing the bundle of {scenario.name}: {type(exc).__name__}: {exc}")
            _say(f"harness: {trouble[-1]}")
        else:
            _Output.print(f"  bug-report bundle: {archive}  (replay: harness repro {archive})", out)
    return result
def timed_facts(target, gather_facts):
    """The target's facts and the seconds they took: the call's time less what the target spent
    starting inside it (box, boot, restore: its own phases), plus any facts it gathered itself.
    Used by ``harness run`` and the pytest plugin."""
    import time

    before = dict(getattr(target, "timings", {}))
    started = time.monotonic()
    facts = gather_facts(target)
    after = getattr(target, "timings", {})
    starting = sum(after.values()) - sum(before.values())
    own = after.get("facts", 0.0) - before.get("facts", 0.0)
    return facts, round(time.monotonic() - started - starting + own, 2)


def cmd_repro(args) -> int:
    import json
    import tempfile

    from harness.bundle import BundleError, open_bundle, read_bundle
    from harness.facts import gather_facts
    from harness.outcome import run_passed
    from harness.report import one_line
    from harness.runner import run_scenario
    from harness.targets import get_target

    with tempfile.TemporaryDirectory(prefix="netns-harness-repro-") as scratch:
        try:
            root = open_bundle(Path(args.bundle), Path(scratch))
            bundle = read_bundle(root, Path(args.bundle))
        except BundleError as exc:
            _say(f"harness: {exc}")
            return EXIT_ERROR
        try:
            scenario = load_scenario(bundle.scenario_file)
        except ScenarioError as err:
            text = str(err).replace(str(root), str(args.bundle))
            _say(f"harness: the bundle's scenario.yaml is not valid:\n{text}")
            return EXIT_ERROR
        if bundle.scenario_changed:
            _say("harness: warning: the bundle's scenario.yaml is not the one that ran (its sha256 differs from "
                 "results.json's scenario_sha256): the verdicts below compare different scenarios")
        elif bundle.scenario_changed is None:
            _say("harness: note: this bundle records no digest of scenario.yaml, so a change to it cannot be seen")
        before, recorded = bundle.results, bundle.target
        options = _target_options(args)
        spec = args.target
        if spec is None:
            # Same kind of target as the bundle's: the same box in a fresh VM, or this machine.
            spec = "vagrant" if recorded.get("target") == "vagrant" else "local"
            if spec == "vagrant" and not options.get("box_kernel") and isinstance(recorded.get("box"), str):
                options.setdefault("box", recorded["box"])
        _say(one_line(f"replaying {scenario.name} (bundle: {before['status']} on kernel {recorded.get('kernel')}) "
                      f"on target {spec}"))
        with get_target(spec, **options) as target:
            try:
                facts = gather_facts(target)
                result = run_scenario(scenario, target, file=bundle.scenario_file, facts=facts)
            except Exception:
                if hasattr(target, "set_outcome"):
                    target.set_outcome(passed=run_passed([], failed_outside_scenarios=True))
                raise
            if hasattr(target, "set_outcome"):
                target.set_outcome(passed=run_passed([result.status]))
    was = {c["id"]: c["status"] for c in before["checks"]}
    now = {c.id: c.status for c in result.checks}
    print(f"{'check':<48} {'bundle':<6} now (kernel {one_line(facts.kernel)})")
    for check in result.checks:
        mark = "" if was.get(check.id) == check.status else "   <- differs"
        print(f"{one_line(check.name)[:48]:<48} {one_line(was.get(check.id, '-'))[:6]:<6} {check.status}{mark}")
        if check.status != "PASS":
            print(f"{'':<48} expected {json.dumps(check.expected, sort_keys=True)}")
            print(f"{'':<48} observed {json.dumps(check.observed, sort_keys=True)}")
    same = was == now and before["status"] == result.status
    changed = " (with a scenario.yaml that differs from the one that ran)" if bundle.scenario_changed else ""
    print(("REPRODUCED" if same else "NOT REPRODUCED") + f": bundle {one_line(before['status'])}, now {result.status}{changed}")
    return EXIT_OK if same else EXIT_FAILED


def cmd_clean(args) -> int:
    from harness.render import render_clean
    from harness.report import printable
    from harness.targets import get_target

    if args.run_id is not None and not RUN_ID.fullmatch(args.run_id):
        raise UsageError(f"--run-id {args.run_id!r}: a run id is six lowercase hex digits, as in namespace nh3fa2c1-client")
    script = render_clean(args.run_id)
    with get_target(args.target, **_target_options(args)) as target:
        result = target.run(script, timeout=60)
    sys.stderr.write(printable(result.stderr))
    removed = printable(result.stdout).rstrip("\n")
    if removed or "kept run" not in result.stderr:   # kept runs said so: not "nothing to clean" too
        print(removed or "nothing to clean")
    return EXIT_OK if result.exit_code == 0 else EXIT_ERROR


def cmd_up(args) -> int:
    """``harness up``: a VM kept until ``harness down``, with the scenarios' namespaces set up in it."""
    args.target, args.destroy, args.keep_all, args.isolate = "vagrant", "never", True, "run"
    args.reuse = True if args.vm else None
    return cmd_run(args)


def cmd_ssh(args) -> int:
    from harness import lifecycle

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    record = lifecycle.choose(lifecycle.load_records(), vm=args.vm, box=args.box)
    state = record.state()
    if state == "gone":
        record.forget()
        raise lifecycle.LifecycleError(f"VM {record.name} is gone (removed outside the harness); its record is removed")
    if state != "running":
        raise lifecycle.LifecycleError(f"VM {record.name} is {state}, not running: remove it with harness down --vm {record.name}")
    namespace = record.namespace(args.namespace, args.scenario) if args.namespace else None
    if namespace is None and args.scenario:
        raise UsageError("--scenario picks the run of a --namespace: give --namespace too")
    argv = lifecycle.ssh_argv(record, namespace=namespace, command=command or None, tty=sys.stdin.isatty())
    if not shutil.which("ssh"):
        raise lifecycle.LifecycleError("the ssh client is not installed: apt-get install openssh-client")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("ssh", argv)   # as `vagrant ssh` does: the user's terminal talks to ssh itself


def cmd_status(args) -> int:
    from harness import lifecycle

    records = lifecycle.load_records()
    known = {r.domain for r in records if r.domain}
    others = [d for d in lifecycle.harness_domains() if d not in known]
    states = {r.name: r.state() for r in records}
    for line in lifecycle.status_lines(records, states, others):
        print(line)
    return EXIT_OK


def cmd_down(args) -> int:
    from harness import lifecycle

    records = lifecycle.load_records()
    if args.vm or args.box:
        records = [lifecycle.choose(records, vm=args.vm, box=args.box)] if args.vm else \
            [r for r in records if r.box == args.box]
    if not records:
        print("no VMs to remove" + (f" of box {args.box}" if args.box else ""))
        return EXIT_OK
    status = EXIT_OK
    for record in records:
        if record.in_use:
            _say(f"harness: VM {record.name} is in use by a harness run (pid {record.owner['pid']}): left alone")
            status = EXIT_ERROR
            continue
        try:
            lifecycle.destroy(record)
        except lifecycle.LifecycleError as exc:
            _say(f"harness: {exc}")
            status = EXIT_ERROR
            continue
        print(f"removed VM {record.name} ({record.box})")
    return status


def cmd_box_build(args) -> int:
    from harness.box import BoxBuildError, build_box

    if args.kernel_deb and args.kernel:
        raise UsageError("give --kernel PKG or --kernel-deb PATH, not both")
    try:
        info = build_box(kernel_package=args.kernel or "linux-image-cloud-amd64", suite=args.suite,
                         kernel_deb=args.kernel_deb, force=args.force)
    except BoxBuildError as exc:
        _say(f"harness: {exc}")
        return EXIT_ERROR
    version = f", package {info.kernel_version}" if info.kernel_version else ""
    print(f"box {info.name} ({info.kernel_release}{version}) ready: HARNESS_BOX={info.name}")
    return EXIT_OK


def cmd_matrix_merge(args) -> int:
    from harness.matrix import render_text
    from harness.matrix_files import MergeError, merge

    report, junit = Path(args.report), Path(args.junit) if args.junit else None
    try:
        runs, warnings = merge([Path(p) for p in args.files], report, junit)
    except MergeError as exc:
        _say(f"harness: {exc}")
        return EXIT_ERROR
    for warning in warnings:
        _say(f"harness: warning: {warning}")
    print(coloured(render_text(runs), sys.stdout))
    print(f"\nreport: {report}" + (f", JUnit: {junit}" if junit else ""))
    statuses = [r.status for run in runs for r in run.results]
    if warnings or "ERROR" in statuses:
        return EXIT_ERROR
    return EXIT_FAILED if "FAIL" in statuses else EXIT_OK


def cmd_bisect(args) -> int:
    from harness.bisect import BisectError, bisect_kernels

    try:
        outcome = bisect_kernels(Path(args.scenario), good=args.good, bad=args.bad, suite=args.suite,
                                 release=args.release, bundle_dir=Path(args.bundle_dir), progress=_say)
    except BisectError as exc:
        _say(f"harness: {exc}")
        return EXIT_ERROR
    print(outcome.text())
    return EXIT_OK if outcome.first_different else EXIT_FAILED


def cmd_box_remove(args) -> int:
    from harness.box import BoxBuildError, remove_box

    status = EXIT_OK
    for name in args.names:
        try:
            if not remove_box(name, progress=print):
                print(f"box {name}: nothing to remove")
        except BoxBuildError as exc:
            _say(f"harness: {exc}")
            status = EXIT_ERROR
    return status


def cmd_host_setup(args) -> int:
    from harness.host_setup import prepare_libvirt_host

    actions = prepare_libvirt_host()
    for action in actions:
        print(action)
    if not actions:
        print("libvirt is ready: its daemons run, its pool and network are defined; nothing changed")
    return EXIT_OK


def cmd_init(args) -> int:
    from harness.init import InitError, init_project

    try:
        written = init_project(Path(args.directory), force=args.force)
    except InitError as exc:
        print(f"harness init: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for path in written:
        print(f"wrote {path}")
    if Path(args.directory).resolve() != Path.cwd():
        print(f"next: cd {args.directory}")
    print("then: sudo harness run scenarios/ (on this machine), or nox -s scenarios (in a VM)")
    return EXIT_OK


def cmd_schema(args) -> int:
    import json

    from harness.schema import SCHEMAS

    print(json.dumps(SCHEMAS[args.kind](), indent=2))
    return EXIT_OK


def _add_target_args(p: argparse.ArgumentParser, default: str = "local (default)") -> None:
    p.add_argument("--target", default="local",
                   help=f"where to run: local, vagrant, or ssh://user@host[:port]; default: {default}")
    p.add_argument("--box", help="vagrant: the box to boot (default $HARNESS_BOX)")
    p.add_argument("--box-kernel", dest="box_kernel",
                   help="vagrant: build (or reuse) a local libvirt box with this Debian kernel package")
    p.add_argument("--destroy", choices=["always", "passing", "never"],
                   help="vagrant: when to destroy the VM (default passing: keep it when a check fails)")
    p.add_argument("--reuse", action="store_true", default=None,
                   help="vagrant: run on the VM of the box that is kept (harness status lists them)")
    p.add_argument("--vm", help="vagrant, with --reuse: which kept VM (when the box has several)")
    p.add_argument("--identity", help="ssh: private key file")
    p.add_argument("--known-hosts", dest="known_hosts", help="ssh: known_hosts file (default ~/.ssh/known_hosts)")
    p.add_argument("--ssh-config", dest="ssh_config",
                   help="ssh: OpenSSH client config to read (default ~/.ssh/config; Host aliases, HostName, "
                        "User, Port, IdentityFile, ProxyJump, ProxyCommand, ConnectTimeout)")


def _command(sub, name: str, summary: str, example: str, details: str = "") -> argparse.ArgumentParser:
    """A subcommand whose --help gives its summary, ``details`` and an example."""
    return sub.add_parser(name, help=summary, description=summary + (f"\n\n{details}" if details else ""),
                          epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"netns-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "init", "lay out a new project: scenarios/ with an example and its schema, a noxfile",
                 "harness init my-network-tests",
                 "Writes scenarios/client-gateway-server.yaml, scenarios/scenario.schema.json (for YAML "
                 "editors) and noxfile.py\n(session `scenarios`); refuses to overwrite files unless --force.")
    p.add_argument("directory", nargs="?", default=".", help="the project folder (default: this one)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(func=cmd_init)

    p = _command(sub, "validate", "check scenario files without running anything", "harness validate scenarios/",
                 "Every problem is reported with its file, line and field; exit 2 if there is one.")
    p.add_argument("paths", nargs="*", default=["scenarios"], metavar="FILE_OR_DIR")
    p.set_defaults(func=cmd_validate)

    p = _command(sub, "list", "list scenarios with their steps and checks", "harness list scenarios/")
    p.add_argument("paths", nargs="*", default=["scenarios"], metavar="FILE_OR_DIR")
    p.set_defaults(func=cmd_list)

    p = _command(sub, "render", "print the bash script a scenario renders to",
                 "harness render scenarios/veth-pair.yaml > run.sh && sudo bash run.sh",
                 "The script runs by hand as root on any box with bash, iproute2 and ping.")
    p.add_argument("file")
    p.add_argument("--part", choices=["run", "setup", "teardown"], default="run",
                   help="run (default: the whole self-contained script), setup or teardown")
    p.add_argument("--run-id", help="six hex digits for the namespace prefix (default: random)")
    p.add_argument("--diagram", action="store_true", help="print the topology as a Mermaid diagram")
    p.set_defaults(func=cmd_render)

    p = _command(sub, "run", "run scenarios and judge their checks",
                 "sudo harness run scenarios/ --json results.json",
                 "Exit 0: every check passed (or was skipped); 1: a check failed; 2: bad input or a "
                 "harness/target error.\nA failing scenario leaves a bug-report bundle in --bundle-dir.")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    _add_target_args(p)
    p.add_argument("--json", metavar="FILE",
                   help="write per-scenario and per-check results as JSON (-: to stdout, the report to stderr)")
    p.add_argument("-v", "--verbose", action="store_true", help="show expected/observed for passing checks too")
    p.add_argument("--report", action="store_true",
                   help="write a bug-report bundle for every scenario (failing ones always get one)")
    p.add_argument("--bundle-dir", help=f"where bundles go (default {DEFAULT_BUNDLE_DIR})")
    p.add_argument("--timings", action="store_true",
                   help="print where the time went: box, define, boot, ssh, facts, each scenario, destroy")
    p.add_argument("--isolate", choices=["run", "scenario"], default="run",
                   help="vagrant: one VM for the whole run (default), or a fresh copy of the booted "
                        "snapshot for every scenario")
    p.set_defaults(func=cmd_run)

    p = _command(sub, "repro", "re-run a bug-report bundle and say whether the verdicts match",
                 "harness repro results/bundles/vrf-3fa2c1.tar.gz --target local",
                 "Prints both verdicts per check, then REPRODUCED (exit 0) or NOT REPRODUCED (exit 1).")
    p.add_argument("bundle", help="bundle directory or .tar.gz")
    _add_target_args(p, default="the bundle's own kind: the same box in a fresh VM for a bundle "
                                "from a VM, else local")
    p.set_defaults(func=cmd_repro, target=None)

    p = _command(sub, "clean", "remove namespaces that killed runs left (only the harness's own)",
                 "sudo harness clean", "Only namespaces named nh<6 hex>-* are touched.")
    _add_target_args(p)
    p.add_argument("--run-id", help="only this run's namespaces")
    p.set_defaults(func=cmd_clean)

    p = _command(sub, "up", "start a VM to work in, with scenarios' namespaces set up in it; kept until harness down",
                 "harness up --box-kernel linux-image-cloud-amd64 scenarios/vrf.yaml && harness ssh --namespace red-host",
                 "Like netlab up: the VM (a copy of the box's booted snapshot, or a boot) stays, and so do the\n"
                 "namespaces of every scenario given (their checks run and are reported as by harness run).\n"
                 "With --vm NAME the scenarios are set up in that kept VM instead of a new one.")
    p.add_argument("paths", nargs="*", metavar="FILE_OR_DIR", help="scenarios to set up (none: just the VM)")
    p.add_argument("--box", help="the box to boot (default $HARNESS_BOX)")
    p.add_argument("--box-kernel", dest="box_kernel",
                   help="build (or reuse) a local libvirt box with this Debian kernel package")
    p.add_argument("--vm", help="set the scenarios up in this kept VM (harness status lists them)")
    p.add_argument("-v", "--verbose", action="store_true", help="show expected/observed for passing checks too")
    p.set_defaults(func=cmd_up, json=None, report=False, bundle_dir=None, timings=False)

    p = _command(sub, "ssh", "log in to a kept VM as root, or open a shell in one of its namespaces",
                 "harness ssh --namespace client      (then: ip route, ping 192.168.100.1, exit)",
                 "Runs the system ssh client (its host key checked against the one the harness pinned).\n"
                 "The namespaces are those a failing run left in the VM it kept (--destroy passing), or\n"
                 "those harness up set up; --namespace takes the scenario's name (client, not nh3fa2c1-client).\n"
                 "A COMMAND after -- runs instead of a shell: harness ssh --namespace client -- ip route")
    p.add_argument("--vm", help="the VM (harness status lists them); needed when several are kept")
    p.add_argument("--box", help="the kept VM of this box")
    p.add_argument("--namespace", metavar="NS", help="a shell inside this namespace of a kept run")
    p.add_argument("--scenario", help="with --namespace: the scenario whose run it is, when several kept it")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="run this instead of a shell")
    p.set_defaults(func=cmd_ssh)

    p = _command(sub, "status", "list the VMs the harness started: kept, in use, left by a run that died",
                 "harness status",
                 "For each: its name, box, state, login, when it started and why it is kept (with the\n"
                 "namespaces failing runs left in it). libvirt domains of netns-harness that have no record\n"
                 "here (another user's, an older harness's) are named at the end and never touched.")
    p.set_defaults(func=cmd_status)

    p = _command(sub, "down", "remove kept VMs (all of them, or those --vm / --box name)",
                 "harness down --vm netns-harness-bookworm-6.1",
                 "A VM a running harness uses is left alone. Copies of a booted snapshot go through libvirt,\n"
                 "booted VMs through vagrant destroy; the booted snapshots themselves stay.")
    p.add_argument("--vm", help="only this VM")
    p.add_argument("--box", help="only the VMs of this box")
    p.set_defaults(func=cmd_down)

    p = _command(sub, "schema", "print the JSON Schema of scenario files or of --json results",
                 "harness schema scenario > scenarios/scenario.schema.json",
                 "Generated from the harness's own models. In a scenario file, a first line\n"
                 "  # yaml-language-server: $schema=scenario.schema.json\n"
                 "gives YAML editors completion and checks.")
    p.add_argument("kind", choices=["scenario", "results"])
    p.set_defaults(func=cmd_schema)

    box = _command(sub, "box", "build VM boxes locally", "harness box build --kernel linux-image-cloud-amd64")
    box = box.add_subparsers(dest="box_command", required=True)
    p = _command(box, "build", "build a Debian libvirt box with a chosen kernel package",
                 "harness box build --kernel linux-image-cloud-amd64 --suite bullseye",
                 "Needs root and the Debian mirror only; cached, rebuilt when its inputs change.\n"
                 "--kernel PKG[/RELEASE][@SUITE]: a Debian kernel package, from RELEASE (e.g. bookworm-backports),\n"
                 "on the userspace of SUITE (default: RELEASE's suite, else bookworm). --kernel-deb PATH: your\n"
                 "own kernel (the linux-image-*.deb of `make bindeb-pkg`), cached by its SHA-256.")
    p.add_argument("--kernel", help="kernel package (default linux-image-cloud-amd64)")
    p.add_argument("--kernel-deb", dest="kernel_deb", metavar="PATH", help="a kernel .deb of your own build")
    p.add_argument("--suite", help="Debian suite of the userspace: bullseye, bookworm (default), trixie, sid")
    p.add_argument("--force", action="store_true", help="rebuild even when a cached box matches")
    p.set_defaults(func=cmd_box_build)
    p = _command(box, "remove", "remove a box built here: its snapshot, Vagrant's copy, libvirt volumes, cached builds",
                 "harness box remove netns-harness/bookworm-6.1.0-47-cloud-amd64",
                 "Refuses while a VM of the box runs.")
    p.add_argument("names", nargs="+", metavar="NAME", help="box names (netns-harness/SUITE-KERNEL)")
    p.set_defaults(func=cmd_box_remove)

    matrix = _command(sub, "matrix", "kernel matrix files", "harness matrix merge results/*/*.json")
    matrix = matrix.add_subparsers(dest="matrix_command", required=True)
    p = _command(matrix, "merge", "join the results of matrix parts (--harness-shard K/N) into one matrix",
                 "harness matrix merge parts/*/*.json --report results/matrix.md --junit results/matrix.xml",
                 "Reads the <kernel-id>[.shard-K-of-N].json files that matrix runs write next to their report,\n"
                 "joins each kernel's results and facts, and writes one Markdown matrix (each kernel's merged\n"
                 "results beside it) and one JUnit file. Exit 0 all passed, 1 a check failed, 2 an error\n"
                 "(a scenario that errored, a missing part, a file given twice).")
    p.add_argument("files", nargs="+", metavar="FILE", help="results files of the parts")
    p.add_argument("--report", default="results/matrix.md", help="the matrix (default %(default)s)")
    p.add_argument("--junit", default="results/matrix.xml", help="the JUnit file (default %(default)s)")
    p.set_defaults(func=cmd_matrix_merge)

    p = _command(sub, "bisect", "find the first kernel version on which a scenario's verdict changes",
                 "harness bisect scenarios/vrf.yaml --good linux-image-6.1.0-47-cloud-amd64 "
                 "--bad linux-image-6.1.0-57-cloud-amd64",
                 "GOOD and BAD are two packages of one Debian kernel line (linux-image-6.1.0-NN-cloud-amd64);\n"
                 "the versions between them are those the archive serves for the suite (and its security and\n"
                 "backports suites). Boxes are built and booted only for the versions the binary search visits;\n"
                 "the answer names the first version whose verdict differs from GOOD's, with both bundles.\n"
                 "Exit 0 found, 1 no version differs, 2 an error.")
    p.add_argument("scenario", help="the scenario file")
    p.add_argument("--good", required=True, metavar="PKG", help="a kernel package with the old verdict")
    p.add_argument("--bad", required=True, metavar="PKG", help="a later package of the same line with another verdict")
    p.add_argument("--suite", default="bookworm", help="Debian suite of the userspace and the versions (default %(default)s)")
    p.add_argument("--release", help="install the kernels from this release instead, e.g. bookworm-backports")
    p.add_argument("--bundle-dir", default="results/bisect", help="where both bundles go (default %(default)s)")
    p.set_defaults(func=cmd_bisect)

    p = _command(sub, "host-setup", "start libvirt daemons and define its default pool/network",
                 "sudo harness host-setup", "For hosts without systemd; idempotent.")
    p.set_defaults(func=cmd_host_setup)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of the ``harness`` command; returns the exit code."""
    from harness.lifecycle import LifecycleError
    from harness.targets.base import TargetError

    args = build_parser().parse_args(argv)
    # CI cancellation and `kill` send SIGTERM, a closed terminal SIGHUP: stop as for Ctrl-C,
    # so the run script tears down, instead of dying at once and orphaning it.
    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    _Output.gone = False
    try:
        code = args.func(args)
        return 141 if _Output.gone else code
    except ScenarioError as err:
        _say(str(err))
        _say(f"harness: {len(err.problems)} problem(s) found; nothing was run")
        return EXIT_ERROR
    except UsageError as err:
        _say(f"harness: {err}")
        return EXIT_ERROR
    except LifecycleError as err:
        _say(f"harness: {err}")
        return EXIT_ERROR
    except TargetError as err:
        _say(f"harness: target error: {err}")
        return EXIT_ERROR
    except Terminated as stop:
        name = signal.Signals(stop.signum).name
        _say(f"harness: stopped by {name}; the run's namespaces were torn down")
        return 128 + stop.signum
    except KeyboardInterrupt:
        _say("harness: interrupted; the run's namespaces were removed")
        return 130
    except BrokenPipeError:
        # The reader went away (`harness run ... | head`): stop quietly, as a SIGPIPE'd program does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:
        _say(f"harness: {err}")
        return EXIT_ERROR
    except Exception:  # a harness bug: say so, and keep exit code 1 for "a check failed"
        traceback.print_exc()
        _say("harness: internal error (a bug in netns-harness; the traceback above helps)")
        return EXIT_ERROR
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def entry() -> None:
    """The ``harness`` program: ``main``, then exit with its code.

    A SIGTERM or SIGHUP that lands after ``main`` returned (the run and its tear-down are over)
    changes nothing: the program still exits with the run's code instead of dying of the signal.
    """
    # Ignored outside main (main handles them while it runs and restores this after), so no
    # moment is left where the signal's default action would kill the finished program.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(main())


if __name__ == "__main__":
    entry()
