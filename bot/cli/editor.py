"""`validate`, `diagram` and `stories`: for content editors."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..engine import diagram
from ..stories import read_story, run_story, unknown_windows
from ..validate import validate
from . import live_content


@click.command("validate")
@click.option("--today", metavar="YYYY-MM-DD", help="Judge verified_on dates as of this day.")
@with_appcontext
def validate_command(today: str | None) -> None:
    """Check every flow, contacts.yaml, keywords.yaml and examples/; exit 1 on any error."""
    day = date.fromisoformat(today) if today else date.today()
    problems = validate(current_app.config, day)
    for problem in problems:
        click.echo(str(problem))
    errors = [p for p in problems if not p.warning]
    summary = f"{len(errors)} errors, {len(problems) - len(errors)} warnings"
    click.echo(summary if problems else "ok: the flows, contacts.yaml, keywords.yaml and examples/ are valid",
               err=True)
    if errors:
        raise SystemExit(1)


@click.command("diagram")
@click.argument("flow", required=False)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "svg"]), default="mermaid",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file.")
@with_appcontext
def diagram_command(flow: str | None, fmt: str, out: str | None) -> None:
    """Draw a flow's state machine (default: every flow)."""
    flows = live_content().engine.flows
    names = [flow] if flow else list(flows)
    unknown = [n for n in names if n not in flows]
    if unknown:
        raise click.BadParameter(f"no flow named {unknown[0]!r}; flows: {', '.join(flows)}",
                                 param_hint="FLOW")
    if fmt == "mermaid":
        text = "\n".join(diagram.mermaid(flows[n].spec) for n in names)
        if out:
            Path(out).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
        return
    if len(names) != 1 or not out:
        raise click.UsageError("SVG needs one FLOW and --out FILE")
    if shutil.which("dot") is None:
        raise click.ClickException("SVG needs Graphviz's 'dot' command, which is not installed: "
                                   "apt-get install graphviz (Debian, Ubuntu) or brew install "
                                   "graphviz (macOS). Mermaid needs nothing: --format mermaid")
    svg = subprocess.run(["dot", "-Tsvg"], input=diagram.dot(flows[names[0]].spec),
                         capture_output=True, text=True, check=True).stdout
    Path(out).write_text(svg, encoding="utf-8")


@click.command("stories")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def stories_command(files: tuple[str, ...]) -> None:
    """Play conversation stories (default: every file in stories/); exit 1 on a failure."""
    content = live_content()
    engine, known = content.engine, {c.id for c in content.directory.all}
    paths = [Path(f) for f in files] or sorted(Path(current_app.config["STORIES_DIR"]).glob("*.yaml"))
    if not paths:
        raise click.ClickException(f"no stories in {current_app.config['STORIES_DIR']}")
    failed = 0
    for path in paths:
        story, errors = read_story(path, str(path))
        if story is not None:
            errors = errors + unknown_windows(story, known)
            story = None if errors else story
        failures = run_story(engine, story) if story else []
        for problem in list(errors) + failures:
            click.echo(str(problem))
        ok = story is not None and not failures
        failed += not ok
        click.echo(f"{'PASS' if ok else 'FAIL'} {path}" + (f": {story.name}" if story else ""))
    click.echo(f"{len(paths) - failed} passed, {failed} failed")
    if failed:
        raise SystemExit(1)


@click.command("crossvalidate")
@click.option("--folds", default=5, show_default=True, help="How many folds.")
@with_appcontext
def crossvalidate_command(folds: int) -> None:
    """Cross-validate examples/: per-label precision and recall, worst confusions with file:line.

    Then the examples whose topic, want or audience the rules read otherwise.
    """
    from ..nlu import disagreements
    from ..nlu.report import cross_validate

    understanding = live_content().classifier
    for report in cross_validate(understanding, folds):
        click.echo("\n".join(report.lines()))
        click.echo("")
    differ = disagreements(understanding)
    click.echo(f"examples the rules read otherwise: {len(differ)}")
    for problem in differ:
        click.echo(f"  {problem}")
