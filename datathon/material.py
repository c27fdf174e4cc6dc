"""Keep the material executable: run every notebook of ``course/`` and ``solutions/`` with papermill.

:func:`run_material` (what ``datathon material run`` and ``make material`` call) executes the
notebooks in parallel processes, each in its own directory (as JupyterLab and nbval do), with
parameters injected after its ``parameters`` cell:

``data_dir``
    the data directory, as an absolute path (``--data``, default ``data_samples``);
``output_path``
    where the notebook should write its submission: ``OUT/submissions/<notebook>.csv``
    (solutions write one; other notebooks may ignore it);
any ``-p key=value``
    values are read as Python literals when they are (``-p seed=7``, ``-p split='"train"'``),
    as text otherwise (``-p split=train``).

A parameter a notebook does not declare is still injected, without a warning: it is just an
unused variable.

It writes, under ``OUT`` (default ``out/material``):

- ``<path>.ipynb`` and ``<path>.html``: each executed notebook and its HTML rendering (images
  embedded), at the notebook's path relative to the repository (``course/01_data.html``);
- ``submissions/<notebook>.csv``: the submissions the notebooks wrote at ``output_path``;
- ``summary.json`` and ``summary.md``: per notebook, its status (``ok`` / ``failed``), seconds,
  and key metrics. Metrics come from two places, both optional:

  * ``metrics``: what the notebook recorded with :func:`datathon.course.record_metrics` (an
    output of MIME type ``application/vnd.datathon.metrics+json``; the last one wins);
  * ``submission_score``: the submission it wrote, scored by the data's challenge against
    the data directory's test truth (or the train split's, when the submission is on train).

A failed notebook is named with its failing cell: the cell's number in the source notebook
(1-based, markdown cells counted, as JupyterLab shows them), the first line of its source and
the exception's message. The summary is written in every case; :attr:`MaterialRun.ok` says
whether everything ran.
"""
from __future__ import annotations

import ast
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datathon.errors import UserError

DEFAULT_OUT = "out/material"
DEFAULT_JOBS = 2
#: Seconds a single cell may run before the notebook counts as failed (a hung cell must not hang CI).
DEFAULT_CELL_TIMEOUT = 600
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: papermill's own marker cells on a failed notebook (not part of the source).
_ERROR_MARKER_TAG = "papermill-error-cell-tag"


@dataclass
class NotebookResult:
    """One notebook's run. Paths of outputs are relative to OUT."""

    notebook: str  # path relative to the root, e.g. "course/00_challenge.ipynb"
    status: str = "pending"  # "ok" or "failed"
    seconds: float = 0.0
    executed: str | None = None
    html: str | None = None
    submission: str | None = None
    metrics: dict | None = None
    submission_score: dict | None = None
    error: dict | None = None  # cell_number, cell_index, first_line, exception, message

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe_failure(self) -> str:
        """'course/x.ipynb: cell 5 (`df = load(...)`): KeyError: 'CABBI'' — one line."""
        return f"{self.notebook}: {(self.error or {}).get('message', 'failed')}"


@dataclass
class MaterialRun:
    out: Path
    data_dir: Path
    parameters: dict[str, Any]
    jobs: int
    results: list[NotebookResult] = field(default_factory=list)
    seconds: float = 0.0
    started: str = ""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[NotebookResult]:
        return [r for r in self.results if not r.ok]

    def to_json(self) -> dict:
        return {
            "started": self.started,
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
            "data_dir": str(self.data_dir),
            "parameters": self.parameters,
            "jobs": self.jobs,
            "notebooks": [asdict(r) for r in self.results],
        }


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def parse_parameters(items: Iterable[str] | None) -> dict[str, Any]:
    """``["seed=7", "split=train"]`` → ``{"seed": 7, "split": "train"}``.

    A value is read as a Python literal when it is one (numbers, ``True``, ``None``, quoted text,
    lists), as text otherwise. Raises :class:`UserError` for an item without ``=`` or whose key is
    not a Python identifier.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not _IDENTIFIER.match(key):
            raise UserError(f"-p {item!r}: parameters are given as key=value, the key a Python "
                            "identifier (e.g. -p seed=7 or -p split=train)")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = raw
        out[key] = value
    return out


def default_sources(challenge: str | None = None) -> tuple[str, str]:
    """Where a challenge's notebooks live, relative to the checkout: ``course/<c>``, ``solutions/<c>``."""
    from datathon.challenges import DEFAULT

    return f"course/{challenge or DEFAULT}", f"solutions/{challenge or DEFAULT}"


def default_data(challenge: str | None = None) -> str:
    """A challenge's public sample, relative to the checkout: ``data_samples/<c>``."""
    from datathon.challenges import DEFAULT

    return f"data_samples/{challenge or DEFAULT}"


def discover(sources: Sequence[str | Path] | None = None, *, root: str | Path = ".",
             challenge: str | None = None) -> list[tuple[str, Path]]:
    """The notebooks to run, as (name relative to ``root``, absolute path), sorted by name.

    ``sources`` are directories (searched recursively, checkpoints left out) or ``.ipynb`` files,
    relative to ``root``; by default the challenge's (:func:`default_sources`), either of which may
    be absent or empty. A source given explicitly must exist.
    """
    root = Path(root).resolve()
    explicit = sources is not None
    found: dict[str, Path] = {}
    for source in (sources if explicit else default_sources(challenge)):
        path = Path(source)
        path = (path if path.is_absolute() else root / path).resolve()
        if not path.exists():
            if explicit:
                raise UserError(f"no notebook or notebook directory {source} (looked at {path})")
            continue
        if path.is_file():
            if path.suffix != ".ipynb":
                raise UserError(f"{source} is not a notebook (.ipynb) or a directory of notebooks")
            candidates = [path]
        else:
            candidates = [p for p in sorted(path.rglob("*.ipynb"))
                          if ".ipynb_checkpoints" not in p.parts and not any(
                              part.startswith(".") for part in p.relative_to(path).parts)]
        for nb in candidates:
            try:
                name = nb.relative_to(root).as_posix()
            except ValueError:
                name = f"{path.name}/{nb.relative_to(path).as_posix()}" if path.is_dir() else nb.name
            found[name] = nb
    return sorted(found.items())


def _submission_names(names: Sequence[str]) -> dict[str, str]:
    """``solutions/names/names.ipynb`` → ``names``; on a clash, the parent directory is prefixed."""
    stems = [Path(n).stem for n in names]
    out = {}
    for name, stem in zip(names, stems):
        if stems.count(stem) > 1:
            parts = Path(name).with_suffix("").parts
            stem = "-".join(parts[1:] if len(parts) > 1 else parts)
        out[name] = stem
    return out


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_material(
    sources: Sequence[str | Path] | None = None,
    *,
    root: str | Path = ".",
    data_dir: str | Path | None = None,
    out: str | Path = DEFAULT_OUT,
    jobs: int = DEFAULT_JOBS,
    parameters: Mapping[str, Any] | None = None,
    progress: bool = True,
    cell_timeout: int | None = DEFAULT_CELL_TIMEOUT,
    challenge: str | None = None,
) -> MaterialRun:
    """Execute the notebooks, write OUT, and return what happened (see the module docstring).

    ``sources`` and ``data_dir`` default to the challenge's (Sirene's by default): its course and
    solutions, and its sample. ``data_dir`` and ``out`` relative paths are taken from the working directory. Raises
    :class:`UserError` for bad arguments (missing data directory, unknown source, ``jobs`` < 1);
    a notebook that fails does not raise: it is ``failed`` in the result and the summary.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UserError(f"--jobs must be a whole number of processes, at least 1 (got {jobs!r})")
    if data_dir is None:
        data_dir = Path(root) / default_data(challenge)
    data = Path(data_dir).expanduser().resolve()
    if not data.is_dir():
        raise UserError(f"--data: no data directory {data_dir} (run `make sample`, or `datathon generate "
                        f"--scale sample --seed N --out {data_dir}`)")
    params = dict(parameters or {})
    for key in params:
        if not _IDENTIFIER.match(str(key)):
            raise UserError(f"parameter {key!r} is not a Python identifier")
    notebooks = discover(sources, root=root, challenge=challenge)
    out = Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out)
    submissions = out / "submissions"
    submissions.mkdir(parents=True, exist_ok=True)

    run = MaterialRun(out=out, data_dir=data, parameters={k: _jsonable(v) for k, v in params.items()}, jobs=jobs,
                      started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    stems = _submission_names([name for name, _ in notebooks])
    tasks = []
    for name, path in notebooks:
        submission = submissions / f"{stems[name]}.csv"
        submission.unlink(missing_ok=True)  # a stale file must not pass for this run's
        injected = {"data_dir": str(data), "output_path": str(submission), **params}
        tasks.append({"name": name, "path": str(path), "out": str(out), "parameters": injected,
                      "submission": str(submission), "data_dir": str(data), "cell_timeout": cell_timeout})

    start = time.perf_counter()
    results: dict[str, NotebookResult] = {}
    if tasks:
        import multiprocessing

        from tqdm.auto import tqdm

        # spawn: a fresh interpreter per worker, never a fork of a process holding threads or kernels.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool, \
                tqdm(total=len(tasks), desc="notebooks", unit="nb", disable=not progress, leave=True) as bar:
            futures = {pool.submit(run_notebook, task): task["name"] for task in tasks}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    result = NotebookResult(**future.result())
                except Exception as err:  # the worker itself died (out of memory, ...)
                    result = NotebookResult(name, status="failed", error={
                        "message": f"the worker running it failed: {type(err).__name__}: {_first_line(str(err))}"})
                results[name] = result
                bar.set_postfix_str(f"{Path(name).name} {result.status}")
                bar.update()
    run.results = [results[name] for name, _ in notebooks]
    run.seconds = time.perf_counter() - start
    write_summary(run)
    return run


def run_notebook(task: dict) -> dict:
    """Run one notebook (in a worker process): papermill, HTML, metrics, submission score."""
    import nbformat
    import papermill as pm

    # papermill warns about every parameter a notebook does not declare: here that is expected.
    logging.getLogger("papermill").setLevel(logging.ERROR)
    name, src, out = task["name"], Path(task["path"]), Path(task["out"])
    executed = out / Path(name).with_suffix(".ipynb")
    html = executed.with_suffix(".html")
    executed.parent.mkdir(parents=True, exist_ok=True)
    for stale in (executed, html):
        stale.unlink(missing_ok=True)
    result: dict[str, Any] = {"notebook": name, "status": "ok"}
    start = time.perf_counter()
    source_nb = None
    try:
        source_nb = nbformat.read(src, as_version=4)
        kernel = (source_nb.metadata.get("kernelspec") or {}).get("name") or "python3"
        pm.execute_notebook(
            str(src), str(executed), parameters=task["parameters"], cwd=str(src.parent),
            kernel_name=kernel, progress_bar=False, log_output=False,
            execution_timeout=task.get("cell_timeout"),
            kernel_manager_class=current_env_kernel_manager(),
        )
    except Exception as err:  # noqa: BLE001 — every failure is reported, none escapes the worker
        result["status"] = "failed"
        result["error"] = _locate_error(err, executed, source_nb)
    result["seconds"] = round(time.perf_counter() - start, 2)

    if executed.exists():
        result["executed"] = executed.relative_to(out).as_posix()
        try:
            nb = nbformat.read(executed, as_version=4)
            from datathon.course import recorded_metrics

            result["metrics"] = recorded_metrics(nb)
            html.write_text(render_html(nb, out / MATHJAX_DIR, html), encoding="utf-8")
            result["html"] = html.relative_to(out).as_posix()
        except Exception as err:  # noqa: BLE001
            result["status"] = "failed"
            result.setdefault("error", {"message": f"cannot render {name} as HTML: {type(err).__name__}: "
                                                   f"{_first_line(str(err))}"})
    submission = Path(task["submission"])
    if submission.exists():
        result["submission"] = submission.relative_to(out).as_posix()
        result["submission_score"] = score_submission(submission, Path(task["data_dir"]))
    return result


def current_env_kernel_manager():
    """A kernel manager that starts a Python kernel of *this* interpreter, whatever the notebook names.

    A notebook says ``python3``; on a machine where another ``python3`` kernelspec comes first
    (a user-wide one, a conda base), that kernel would run without the kit's packages. This is
    what ``nbval --nbval-current-env`` does for nbval.
    """
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets import default

    class CurrentEnvKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=RESOURCES, **get_kernel_dict())

    class CurrentEnvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _current_env_spec_manager(self):
            return CurrentEnvKernelSpecManager(data_dir=self.data_dir)

        @default("transport_encryption")
        def _encrypt_when_possible(self):
            # Without it, ipykernel warns on stderr that it talks over plain TCP, once per notebook.
            import zmq

            return "auto" if zmq.has("curve") else "disabled"

    return CurrentEnvKernelManager


#: Cells whose input a rendering leaves out (the plumbing: parameters, environment checks, metrics records),
#: and cells it leaves out whole; the tags a site builder reads too.
HIDDEN_INPUT_TAGS = frozenset({"plumbing", "parameters", "injected-parameters", "hide-input", "remove-input"})
HIDDEN_CELL_TAGS = frozenset({"remove-cell"})
MATHJAX_DIR = "_mathjax"  # in OUT: MathJax's files, shared by every rendering
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # the configuration the package ships (Jupyter's own)


def copy_mathjax(out: Path) -> Path:
    """MathJax's files in ``out/_mathjax`` (copied once, from the jupyter-server-mathjax package), so that the
    renderings typeset formulas without a network."""
    import shutil

    import jupyter_server_mathjax

    target = Path(out) / MATHJAX_DIR
    if not (target / "MathJax.js").is_file():
        shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", target, dirs_exist_ok=True)
    return target


def render_html(nb, mathjax: Path | None = None, page: Path | None = None) -> str:
    """The executed notebook as one HTML page (output images inlined), the plumbing cells' input left out.

    With ``mathjax`` (a copy made by :func:`copy_mathjax`) and the ``page``'s own path, formulas load
    MathJax from that copy by a relative link; otherwise nbconvert's default (a CDN) is kept.
    """
    import os

    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_input_tags = set(HIDDEN_INPUT_TAGS)
    config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_CELL_TAGS)
    if mathjax is not None and page is not None:
        relative = Path(os.path.relpath(mathjax, Path(page).parent)).as_posix()
        config.HTMLExporter.mathjax_url = f"{relative}/MathJax.js?config={MATHJAX_CONFIG}"
    # nbconvert loads require.js from a CDN for widget outputs; the course has none, and offline the
    # page would wait for it: an empty local script stands in.
    config.HTMLExporter.require_js_url = "data:text/javascript,"
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    if mathjax is not None and page is not None:
        # The package ships MathJax's STIX web fonts only (not its TeX fonts): say so before MathJax loads.
        script = f'<script src="{config.HTMLExporter.mathjax_url}"'
        body = body.replace(script, _MATHJAX_FONTS + script, 1)
    return body


_MATHJAX_FONTS = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": '
                  '{availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}});</script>\n')


def score_submission(path: Path, data_dir: Path) -> dict | None:
    """The key metrics (:meth:`Challenge.key_metrics`) of a submission on the split it covers, scored by the
    data's challenge: test, else train; a note on failure. ``challenge`` names which one scored it."""
    from datathon.challenges import resolve

    challenge = resolve(data=data_dir)
    errors = []
    for split in sorted(challenge.schema.splits, key=lambda s: s != "test"):  # the test split first
        try:
            metrics = challenge.score_file(path, data_dir, split)
        except UserError as err:
            errors.append(f"{split}: {_first_line(err.message)}")
            continue
        return {"split": split, "challenge": challenge.name, **challenge.key_metrics(metrics)}
    return {"error": "; ".join(errors) or f"no truth in {data_dir} to score it against"}


def _locate_error(err: BaseException, executed: Path, source_nb) -> dict:
    """Which cell failed, in the numbering of the source notebook, and with what."""
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(err, PapermillExecutionError):
        text = f"{type(err).__name__}: {_first_line(str(err))}"
        return {"cell_number": None, "cell_index": None, "first_line": None, "exception": text,
                "message": f"did not run: {text}"}
    exception = f"{err.ename}: {_first_line(_ANSI.sub('', str(err.evalue)))}".rstrip(": ")
    index, first_line = None, _first_code_line(err.source)
    try:
        import nbformat

        nb = nbformat.read(executed, as_version=4)
        cells = [c for c in nb.cells if _ERROR_MARKER_TAG not in c.metadata.get("tags", [])]
        failing = next((i for i, c in enumerate(cells) if _has_error(c)), None)
        if failing is not None:
            injected = next((i for i, c in enumerate(cells)
                             if "injected-parameters" in c.metadata.get("tags", [])), None)
            if injected == failing:
                index = None
                first_line = "the injected parameters"
            else:
                index = failing - (1 if injected is not None and injected < failing else 0)
    except Exception:  # noqa: BLE001 — fall back on what the exception says
        index = None
    if index is None and source_nb is not None and first_line != "the injected parameters":
        # Same source text: the cell of the source notebook.
        index = next((i for i, c in enumerate(source_nb.cells) if c.source == err.source), None)
    where = f"cell {index + 1}" if index is not None else "a cell"
    return {
        "cell_number": index + 1 if index is not None else None,
        "cell_index": index,
        "first_line": first_line,
        "exception": exception,
        "message": f"{where} (`{first_line}`) raised {exception}",
    }


def _has_error(cell) -> bool:
    if cell.get("cell_type") != "code":
        return False
    if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
        return True
    return bool(cell.get("metadata", {}).get("papermill", {}).get("exception"))


def _first_code_line(source: str) -> str:
    for line in str(source).splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def write_summary(run: MaterialRun) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``summary.md`` in OUT; return their paths."""
    run.out.mkdir(parents=True, exist_ok=True)
    js = run.out / "summary.json"
    md = run.out / "summary.md"
    js.write_text(json.dumps(run.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    md.write_text(format_summary(run), encoding="utf-8")
    return js, md


def format_summary(run: MaterialRun) -> str:
    """The Markdown summary: one table row per notebook, then each failure in full."""
    n_ok = sum(r.ok for r in run.results)
    lines = [
        "# Material run",
        "",
        f"{n_ok} of {len(run.results)} notebooks ran, in {run.seconds:.1f} s on {run.jobs} "
        f"process{'es' if run.jobs > 1 else ''}, data `{run.data_dir}`"
        + (f", parameters `{json.dumps(run.parameters, ensure_ascii=False)}`" if run.parameters else "") + ".",
        "",
    ]
    if not run.results:
        lines += ["No notebook found.", ""]
        return "\n".join(lines)
    lines += ["| notebook | status | seconds | key metrics |", "|---|---|---:|---|"]
    for r in run.results:
        name = f"[{r.notebook}]({r.html})" if r.html else r.notebook
        lines.append(f"| {name} | {r.status} | {r.seconds:.1f} | {_metrics_text(r)} |")
    if run.failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {r.describe_failure()}".replace("|", "\\|") for r in run.failures]
    return "\n".join(lines) + "\n"


def _board_figures(score: dict) -> list[str]:
    """The on-board score types of the challenge that scored a submission, as ``label value``."""
    from datathon.challenges import get

    challenge = get(score.get("challenge", "sirene"))
    return [f"{t.label} {t.display(score.get(t.key))}" for t in challenge.score_types
            if t.on_board and t.key in score]


def _metrics_text(r: NotebookResult) -> str:
    parts = []
    for key, value in (r.metrics or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) or isinstance(value, str):
            parts.append(f"{key} {_number(value)}")
    if r.submission_score and "error" not in r.submission_score:
        s = r.submission_score
        parts.append(f"submission ({s['split']}): " + ", ".join(_board_figures(s)))
    elif r.submission_score:
        parts.append(f"submission not scored: {r.submission_score['error']}")
    return "; ".join(parts).replace("|", "\\|") or "—"


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)
