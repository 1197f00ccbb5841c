"""The one pipeline behind the plugin and the CLI: settings -> gated summaries -> archive + report.

Neither shell holds gating logic; both call these functions, so their verdicts cannot differ.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_model_gate.core.config import (
    ConfigChoice,
    GateConfig,
    choose_config,
    load_config,
    resolve_output,
)
from pytest_model_gate.core.gating import Assessment, BaselineValue, assess_all
from pytest_model_gate.core.summary import TrainingSummary
from pytest_model_gate.errors import ModelGateError
from pytest_model_gate.files import TargetError, append_text, refuse_inputs, write_text

if TYPE_CHECKING:
    from pytest_model_gate.archive.manager import Archive, ArchivedRun, RunReport
    from pytest_model_gate.core.document import RunDocument


@dataclass(frozen=True)
class GateSettings:
    """The effective config plus where its outputs go (None = off)."""

    config: GateConfig
    config_path: Path | None
    archive: str | None
    report: str | None
    html: str | None
    baseline_archive: str | None = None  # where baselines are read (even with archiving off)
    comment: str | None = None  # where the short PR-comment markdown is written
    write_back: bool = False  # set model_gate.* tags on the runs of mlflow sources
    choice: ConfigChoice | None = None  # which gate.yaml and why
    origins: dict[str, str] = field(default_factory=dict)  # output -> where its value came from

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the user should know before trusting the verdicts (one line each)."""
        beyond = (self.choice.warning,) if self.choice and self.choice.warning else ()
        return (*beyond, *self.config.warnings)


def resolve_settings(*, config_file: str | None, search_dir: Path | Sequence[Path],
                     base_dir: Path, archive: str | None = None, no_archive: bool = False,
                     report: str | None = None, html: str | None = None,
                     ini_archive: str | None = None, ini_report: str | None = None,
                     ini_base: Path | None = None, comment: str | None = None,
                     write_back: bool = False) -> GateSettings:
    """Apply the precedence: command line > ini option > gate.yaml > built-in default.

    gate.yaml is the one named, else the first found walking up from each `search_dir` to
    the repository root. Paths from the command line resolve against the current directory,
    paths from a file against that file's folder; built-in defaults against the folder of a
    gate.yaml found by walking up (the project root), else against `base_dir`.
    """
    choice = choose_config(config_file, search_dir)
    path = choice.path
    config = load_config(path) if path is not None else GateConfig()
    file_base = path.parent if path is not None else base_dir
    default_base = file_base if choice.discovered else base_dir
    explicit = {k for k in config.model_fields_set if k in ("archive", "report", "html")}
    origins: dict[str, str] = {}

    def pick(cli: str | None, ini: str | None, key: str) -> str | None:
        if cli is not None:
            origins[key] = "command line"
            return resolve_output(cli, Path.cwd())
        if ini is not None:
            origins[key] = "ini option"
            return resolve_output(ini, ini_base or base_dir)
        value: str | None = getattr(config, key)
        origins[key] = f"{path}" if key in explicit else "built-in default"
        return resolve_output(value, file_base if key in explicit else default_base)

    archive_at = pick(archive, ini_archive, "archive")
    if no_archive:
        origins["archive"] = "command line (off)"
    if config.table not in (None, False) and archive_at is not None:
        from pytest_model_gate.archive.lake import require_lake
        from pytest_model_gate.errors import ArchiveError, ConfigError

        try:  # before anything is gated or written
            require_lake()
        except ArchiveError as exc:
            raise ConfigError(f"table: {exc}", file=str(path) if path else None) from None
    return GateSettings(config=config, config_path=path,
                        archive=None if no_archive else archive_at,
                        report=pick(report, ini_report, "report"), html=pick(html, None, "html"),
                        baseline_archive=archive_at,
                        comment=resolve_output(comment, Path.cwd()) if comment else None,
                        choice=choice, origins=origins,
                        write_back=write_back or config.write_back)


@dataclass(frozen=True)
class GatedSummary:
    summary: TrainingSummary
    assessments: list[Assessment]
    kind: str = "summary"  # which reader gave it (sources: hf, mlflow, ...)
    model_files: dict[str, Path] = field(default_factory=dict)  # model id -> file it came from
    anchor: Path | None = None  # the summary file, or the source's file / folder


def gate_file(path: str | Path, settings: GateSettings, *,
              source: str | None = None) -> GatedSummary:
    """Load one summary or source (errors are SummaryError) and gate every model in it.

    `path` is a summary file or any source (`KIND:PATH_OR_URI`, a detected folder). With a
    `baseline:` config the archive is read once for the whole summary.
    """
    from pytest_model_gate.sources.loader import read_summary

    try:
        refuse_inputs([("report", settings.report), ("HTML report", settings.html),
                       ("comment", settings.comment)], [path])
    except TargetError as exc:
        raise ModelGateError(str(exc), file=exc.target) from None
    loaded = read_summary(str(path), settings.config, source=source)
    summary = loaded.summary
    gated = gate_summary(summary, settings.config, settings.baseline_archive)
    if summary.raw:
        # Once gated, nothing reads the parsed models again (records and reports use the
        # assessments, the archive stores the raw bytes): letting them go halves the objects
        # a long pytest session keeps alive for the garbage collector to walk.
        gated = GatedSummary(dataclasses.replace(summary, models=()), gated.assessments)
    return dataclasses.replace(gated, kind=loaded.kind, model_files=loaded.model_files,
                               anchor=loaded.anchor)


def gate_summary(summary: TrainingSummary, config: GateConfig,
                 baseline_archive: str | Archive | None) -> GatedSummary:
    """Gate every model of a loaded summary (baselines read once, when configured)."""
    baselines = read_baselines(summary, config, baseline_archive)
    return GatedSummary(summary, assess_all(summary.models, config, baselines))


def load_summary_data(summary_data: Mapping[str, Any] | str | os.PathLike[str],
                      config: GateConfig) -> TrainingSummary:
    """A summary given to the Python API: a parsed dict (stored as canonical JSON) or a path."""
    if not isinstance(summary_data, Mapping):  # a summary file or any source
        from pytest_model_gate.sources.loader import load_source

        return load_source(os.fspath(summary_data), config)
    from pytest_model_gate.archive.manager import canonical_summary
    from pytest_model_gate.core.summary import decode_summary, parse_summary

    raw = canonical_summary(summary_data)
    data = decode_summary(raw, "<summary>")
    return parse_summary(data, source="<summary>", raw=raw, config=config)


def read_baselines(summary: TrainingSummary, config: GateConfig, archive: str | Archive | None
                   ) -> dict[str, dict[str, BaselineValue]] | None:
    """Per model id, the archived baseline values (None when baselines are off).

    One archive read for the whole summary. A summary the archive already holds (a CI
    re-run) is gated against what the archive held before it, never against itself."""
    if config.baseline is None:
        return None
    if archive is None:
        return {m.id: {} for m in summary.models}
    from pytest_model_gate.archive.manager import Archive

    reader = Archive(archive, config=config) if isinstance(archive, str) else archive
    return reader.baseline_values(
        [m.id for m in summary.models], against=config.baseline.against,
        window=config.baseline.window, metrics=list(config.metrics),
        summary_sha256=summary.sha256)


def run_report(document: RunDocument, previous: RunDocument | None,
               history: list[RunDocument]) -> RunReport:
    """recommendations.md of one archived run (its document, the runs before it). A report
    bug must not lose the run: a stub pointing at the run document is archived instead."""
    from pytest_model_gate.archive.index import DOCUMENT_FILE
    from pytest_model_gate.archive.manager import RunReport
    from pytest_model_gate.report.markdown import render_markdown
    from pytest_model_gate.report.view import ReportSection

    try:
        return RunReport(render_markdown([ReportSection(
            document=document, previous=previous, history=history)]))
    except Exception as exc:
        return RunReport(f"# Model gate report\n\nrun `{document.get('run_id')}`: the report "
                         f"could not be rendered ({type(exc).__name__}: {exc}); see "
                         f"{DOCUMENT_FILE}.\n", complete=False)


def archive_run(archive: Archive, gated: GatedSummary, *, force: bool = False) -> ArchivedRun:
    """Archive one gated summary with its rendered report (or return the run it already is)."""
    return archive.archive_gated(gated.summary, gated.assessments, report=run_report,
                                 force=force)


@dataclass
class PublishResult:
    run_ids: list[str | None] = field(default_factory=list)
    reused: list[bool] = field(default_factory=list)
    archive: str | None = None
    report: str | None = None
    html: str | None = None
    comment: str | None = None
    errors: list[str] = field(default_factory=list)
    sections: list[Any] = field(default_factory=list)
    markdown: str | None = None  # the markdown report of the sections, once rendered

    def render_markdown(self) -> str:
        """The markdown report of `sections` (rendered once, however often asked for)."""
        if self.markdown is None:
            from pytest_model_gate.report import markdown as report_mod

            self.markdown = report_mod.render_markdown(self.sections)
        return self.markdown


def publish(gated: Sequence[GatedSummary], settings: GateSettings) -> PublishResult:
    """Archive each summary as one run, then write the report(s). Failures are collected,
    never raised: the verdicts stand whatever happens to the outputs."""
    from pytest_model_gate.core.document import run_document
    from pytest_model_gate.report.view import ReportSection

    result = PublishResult(archive=settings.archive)
    sections: list[ReportSection] = []
    manager = None
    if settings.archive is not None:
        try:
            from pytest_model_gate.archive.manager import Archive
            manager = Archive(settings.archive, config=settings.config)
        except Exception as exc:  # a broken store must not hide the verdicts
            result.errors.append(f"archive not written: {_describe(exc, settings.archive)}")
    for item in gated:
        section = None
        if manager is not None:
            try:
                run = archive_run(manager, item)
                result.run_ids.append(run.run_id)
                result.reused.append(run.reused)
                if run.table_error is not None:  # committed; the derived table lags
                    result.errors.append(f"lake table not written: {run.table_error}")
                section = ReportSection(
                    document=run.document, previous=run.previous, history=run.history)
                if len(gated) == 1:  # the archived recommendations.md is this very report
                    result.markdown = run.report_text
            except Exception as exc:
                result.errors.append(f"archive not written: {_describe(exc, settings.archive)}")
                manager = None
        if section is None:
            result.run_ids.append(None)
            result.reused.append(False)
            section = ReportSection(
                document=run_document(item.summary, item.assessments, settings.config))
        sections.append(section)
    result.sections = sections
    if settings.write_back:
        result.errors += _write_back(gated, result.run_ids)
    if settings.report is not None:
        try:
            write_text(settings.report, result.render_markdown())
            result.report = settings.report
        except OSError as exc:
            result.errors.append(f"report not written: {settings.report}: "
                                 f"{exc.strerror or exc}")
    if settings.html is not None:
        try:
            from pytest_model_gate.report.html import render_html

            write_text(settings.html, render_html(sections))
            result.html = settings.html
        except OSError as exc:
            result.errors.append(f"HTML report not written: {settings.html}: "
                                 f"{exc.strerror or exc}")
    _write_digests(result, settings)
    return result


def _write_back(gated: Sequence[GatedSummary], run_ids: Sequence[str | None]) -> list[str]:
    """Tag each run of each mlflow source with its verdict (errors, never raised)."""
    from pytest_model_gate.sources.mlflow_writeback import write_back

    errors: list[str] = []
    for item, run_id in zip(gated, run_ids, strict=True):
        if item.kind != "mlflow":
            continue
        try:
            models = json.loads(item.summary.raw).get("models", {})
            tags = {str(models[a.model_id]["run_id"]): {
                        "model_gate.class": a.classification,
                        "model_gate.flags": ",".join(a.flags),
                        "model_gate.run_id": run_id or ""}
                    for a in item.assessments if a.model_id in models}
            write_back(item.summary.source, tags)
        except ModelGateError as exc:
            errors.append(f"verdicts not written back: {exc}")
        except (ValueError, KeyError, TypeError) as exc:
            errors.append(f"verdicts not written back: {item.summary.source}: {exc}")
    return errors


def _write_digests(result: PublishResult, settings: GateSettings) -> None:
    """The short markdown: to --model-gate-comment / --comment, and appended to
    $GITHUB_STEP_SUMMARY when a report is written (so CI pages stay short at any size)."""
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY") if result.report else None
    if settings.comment is None and not step_summary:
        return
    from pytest_model_gate.report.digest import render_digest

    text = render_digest(result.sections, links=_links(result))
    if settings.comment is not None:
        try:
            write_text(settings.comment, text)
            result.comment = settings.comment
        except OSError as exc:
            result.errors.append(f"comment not written: {settings.comment}: "
                                 f"{exc.strerror or exc}")
    if step_summary:
        try:
            append_text(step_summary, text + "\n")
        except OSError as exc:
            result.errors.append(f"step summary not written: {step_summary}: "
                                 f"{exc.strerror or exc}")


def _links(result: PublishResult) -> list[str]:
    """Where the full report is: $MODEL_GATE_REPORT_URL if set, else the files written and,
    on GitHub Actions, the workflow run whose artifacts hold them."""
    from pytest_model_gate.report.markdown import md_text

    url = os.environ.get("MODEL_GATE_REPORT_URL")
    if url:
        return [f"[Full report with every model]({_url(url)})"]
    files = [f for f in (result.report, result.html) if f]
    where = " and ".join(md_text(Path(f).name) for f in files) if files else "not written"
    line = f"Full report: {where}"
    server, repo, run = (os.environ.get(k) for k in
                         ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run:
        line += (f", in the artifacts of [workflow run {md_text(run)}]"
                 f"({_url(f'{server}/{repo}/actions/runs/{run}')})")
    return [line]


def _url(url: str) -> str:
    """A URL safe inside markdown link parentheses (no space, parenthesis or angle bracket)."""
    from urllib.parse import quote

    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")


def _describe(exc: BaseException, where: str | None) -> str:
    if isinstance(exc, ModelGateError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{where}: {exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return f"{where}: {type(exc).__name__}: {exc}"
