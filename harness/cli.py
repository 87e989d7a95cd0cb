"""The ``harness`` command: validate, render, list, run and clean scenarios; build boxes.

Exit codes of ``run``: 0 every check passed (or skipped), 1 a check failed, 2 bad input
or a harness/target error.
"""

from __future__ import annotations

import argparse
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


def scenario_files(paths: list[str]) -> list[Path]:
    """Expand files and directories (``*.yaml`` / ``*.yml`` inside, sorted) into scenario files.

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
    return files


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
    for file, scenario in load_all(args.paths):
        print(f"ok   {file}: {scenario.name}")
    return EXIT_OK


def cmd_list(args) -> int:
    for file, scenario in load_all(args.paths):
        checks = sum(len(s.checks) for s in scenario.all_steps)
        print(f"{scenario.name:<32} {len(scenario.all_steps)} steps {checks:>3} checks  {file}")
        if scenario.description:
            print(f"{'':<32} {scenario.description}")
    return EXIT_OK


def cmd_render(args) -> int:
    from harness.diagram import mermaid
    from harness.render import render

    [(_, scenario)] = load_all([args.file])
    if args.diagram:
        print(mermaid(scenario))
        return EXIT_OK
    rendered = render(scenario, args.run_id)
    sys.stdout.write(getattr(rendered, args.part))
    return EXIT_OK


def _target_options(args) -> dict:
    options = {}
    for name in ("box", "box_kernel", "destroy", "reuse", "identity", "known_hosts"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


def cmd_run(args) -> int:
    import time

    from harness.bundle import write_bundle
    from harness.facts import gather_facts
    from harness.report import format_scenario, format_timings, summary_line, write_json
    from harness.runner import run_scenario
    from harness.targets import get_target

    started = time.monotonic()
    loaded = load_all(args.paths)
    if args.json and not Path(args.json).resolve().parent.is_dir():
        print(f"harness: --json {args.json}: its directory does not exist", file=sys.stderr)
        return EXIT_ERROR
    results, timings, described = [], {}, {}
    target = get_target(args.target, **_target_options(args))
    if args.isolate == "scenario" and not hasattr(target, "fresh"):
        target.close()
        print(f"harness: --isolate scenario needs a VM target (--target vagrant), not {args.target}", file=sys.stderr)
        return EXIT_ERROR
    try:
        with target:
            facts, timings["facts"] = _timed_facts(target, gather_facts)
            print(f"target {target.name}: kernel {facts.kernel}, {facts.iproute2}, {facts.ping}", file=sys.stderr)
            try:
                for index, (file, scenario) in enumerate(loaded):
                    if index and args.isolate == "scenario":
                        target.fresh()   # a new copy of the VM: nothing the last scenario did remains
                    result = run_scenario(scenario, target, file=file, facts=facts, capture_state=args.report)
                    results.append(result)
                    timings.setdefault("first_verdict", round(time.monotonic() - started, 2))
                    print(format_scenario(result, args.verbose), flush=True)
                    if args.report or result.status in BUNDLE_STATUSES:
                        archive = write_bundle(Path(args.bundle_dir), scenario, result, facts, target.describe())
                        print(f"  bug-report bundle: {archive}  (replay: harness repro {archive})", flush=True)
            finally:
                failed = any(r.status in ("FAIL", "ERROR") for r in results)
                if hasattr(target, "set_outcome"):
                    target.set_outcome(passed=not failed)
                described = {**target.describe(), **facts.to_dict()}
    finally:
        # After close: the VM's destroy is a phase too.
        timings = {**getattr(target, "timings", {}), **timings}
        if args.json and described:
            write_json(Path(args.json), results, described, timings)
        if args.timings:
            print(format_timings(timings, results), file=sys.stderr)
    print(summary_line(results))
    if any(r.status == "ERROR" for r in results):
        return EXIT_ERROR
    return EXIT_FAILED if any(r.status == "FAIL" for r in results) else EXIT_OK


def _timed_facts(target, gather_facts):
    """The target's facts and the seconds they took: the call's time less what the target spent
    starting inside it (box, boot, restore: its own phases), plus any facts it gathered itself."""
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

    from harness.bundle import open_bundle
    from harness.facts import gather_facts
    from harness.runner import run_scenario
    from harness.targets import get_target

    with tempfile.TemporaryDirectory() as scratch:
        try:
            root = open_bundle(Path(args.bundle), Path(scratch))
        except ValueError as exc:
            print(f"harness: {exc}", file=sys.stderr)
            return EXIT_ERROR
        scenario = load_scenario(root / "scenario.yaml")
        before = json.loads((root / "results.json").read_text())
        recorded = json.loads((root / "target.json").read_text())
        options = _target_options(args)
        spec = args.target
        if spec is None:
            # Same kind of target as the bundle's: the same box in a fresh VM, or this machine.
            spec = "vagrant" if recorded.get("target") == "vagrant" else "local"
            if spec == "vagrant" and not options.get("box_kernel"):
                options.setdefault("box", recorded.get("box"))
        print(f"replaying {scenario.name} (bundle: {before['status']} on kernel {recorded.get('kernel')}) "
              f"on target {spec}", file=sys.stderr)
        with get_target(spec, **options) as target:
            facts = gather_facts(target)
            result = run_scenario(scenario, target, file=root / "scenario.yaml", facts=facts)
            if hasattr(target, "set_outcome"):
                target.set_outcome(passed=result.status not in ("FAIL", "ERROR"))
    was = {c["id"]: c["status"] for c in before["checks"]}
    now = {c.id: c.status for c in result.checks}
    print(f"{'check':<48} {'bundle':<6} now (kernel {facts.kernel})")
    for check in result.checks:
        mark = "" if was.get(check.id) == check.status else "   <- differs"
        print(f"{check.name[:48]:<48} {was.get(check.id, '-'):<6} {check.status}{mark}")
        if check.status != "PASS":
            print(f"{'':<48} expected {json.dumps(check.expected, sort_keys=True)}")
            print(f"{'':<48} observed {json.dumps(check.observed, sort_keys=True)}")
    same = was == now and before["status"] == result.status
    print(("REPRODUCED" if same else "NOT REPRODUCED") + f": bundle {before['status']}, now {result.status}")
    return EXIT_OK if same else EXIT_FAILED


def cmd_clean(args) -> int:
    from harness.render import render_clean
    from harness.targets import get_target

    try:
        script = render_clean(args.run_id)
    except ValueError as exc:
        print(f"harness: --run-id: {exc}", file=sys.stderr)
        return EXIT_ERROR
    with get_target(args.target, **_target_options(args)) as target:
        result = target.run(script, timeout=60)
    sys.stderr.write(result.stderr)
    removed = result.stdout.split()
    print("\n".join(f"removed namespace {n}" for n in removed) or "nothing to clean")
    return EXIT_OK if result.exit_code == 0 else EXIT_ERROR


def cmd_box_build(args) -> int:
    from harness.box import build_box

    info = build_box(kernel_package=args.kernel, force=args.force)
    print(f"box {info.name} ({info.kernel_release}) ready: HARNESS_BOX={info.name}")
    return EXIT_OK


def cmd_host_setup(args) -> int:
    from harness.host_setup import prepare_libvirt_host

    for action in prepare_libvirt_host():
        print(action)
    return EXIT_OK


def _add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="local",
                   help="where to run: local (default), vagrant, or ssh://user@host[:port]")
    p.add_argument("--box", help="vagrant: the box to boot (default $HARNESS_BOX)")
    p.add_argument("--box-kernel", dest="box_kernel",
                   help="vagrant: build (or reuse) a local libvirt box with this Debian kernel package")
    p.add_argument("--destroy", choices=["always", "passing", "never"],
                   help="vagrant: when to destroy the VM (default passing: keep it when a check fails)")
    p.add_argument("--reuse", action="store_true", default=None, help="vagrant: run on the VM that is already up")
    p.add_argument("--identity", help="ssh: private key file")
    p.add_argument("--known-hosts", dest="known_hosts", help="ssh: known_hosts file (default ~/.ssh/known_hosts)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"netns-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check scenario files without running anything")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("list", help="list scenarios with their steps and checks")
    p.add_argument("paths", nargs="*", default=["scenarios"], metavar="FILE_OR_DIR")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("render", help="print the bash script a scenario renders to")
    p.add_argument("file")
    p.add_argument("--part", choices=["run", "setup", "teardown"], default="run",
                   help="run (default: the whole self-contained script), setup or teardown")
    p.add_argument("--run-id", help="six hex digits for the namespace prefix (default: random)")
    p.add_argument("--diagram", action="store_true", help="print the topology as a Mermaid diagram")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("run", help="run scenarios and judge their checks")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    _add_target_args(p)
    p.add_argument("--json", metavar="FILE", help="write per-scenario and per-check results as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="show expected/observed for passing checks too")
    p.add_argument("--report", action="store_true",
                   help="write a bug-report bundle for every scenario (failing ones always get one)")
    p.add_argument("--bundle-dir", default=DEFAULT_BUNDLE_DIR, help="where bundles go (default %(default)s)")
    p.add_argument("--timings", action="store_true",
                   help="print where the time went: box, define, boot, ssh, facts, each scenario, destroy")
    p.add_argument("--isolate", choices=["run", "scenario"], default="run",
                   help="vagrant: one VM for the whole run (default), or a fresh copy of the booted "
                        "snapshot for every scenario")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("repro", help="re-run a bug-report bundle and say whether the verdicts match")
    p.add_argument("bundle", help="bundle directory or .tar.gz")
    _add_target_args(p)
    p.set_defaults(func=cmd_repro, target=None)

    p = sub.add_parser("clean", help="remove namespaces that killed runs left (only the harness's own)")
    _add_target_args(p)
    p.add_argument("--run-id", help="only this run's namespaces")
    p.set_defaults(func=cmd_clean)

    box = sub.add_parser("box", help="build VM boxes locally").add_subparsers(dest="box_command", required=True)
    p = box.add_parser("build", help="build a Debian libvirt box with a chosen kernel package")
    p.add_argument("--kernel", default="linux-image-cloud-amd64", help="kernel package (default %(default)s)")
    p.add_argument("--force", action="store_true", help="rebuild even when a cached box matches")
    p.set_defaults(func=cmd_box_build)

    p = sub.add_parser("host-setup", help="start libvirt daemons and define its default pool/network")
    p.set_defaults(func=cmd_host_setup)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of the ``harness`` command; returns the exit code."""
    from harness.targets.base import TargetError

    args = build_parser().parse_args(argv)
    # CI cancellation and `kill` send SIGTERM: clean up as for Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.func(args)
    except ScenarioError as err:
        print(err, file=sys.stderr)
        print(f"harness: {len(err.problems)} problem(s) found; nothing was run", file=sys.stderr)
        return EXIT_ERROR
    except TargetError as err:
        print(f"harness: target error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("harness: interrupted; the run's namespaces were removed", file=sys.stderr)
        return 130
    except OSError as err:
        print(f"harness: {err}", file=sys.stderr)
        return EXIT_ERROR
    except Exception:  # a harness bug: say so, and keep exit code 1 for "a check failed"
        traceback.print_exc()
        print("harness: internal error (a bug in netns-harness; the traceback above helps)", file=sys.stderr)
        return EXIT_ERROR


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
