"""Assemble ``benchmarks/report.md`` from every ``benchmarks/results/*.json``."""
from __future__ import annotations

import json

from benchmarks.common import REPORT, RESULTS
from datathon.matcher import STAGES as CODING_STAGES


def _machine(m: dict) -> str:
    return f"{m.get('nproc')} cores, {m.get('memory_gib', '?')} GiB, {m.get('cpu', '?')}, Python {m.get('python')}"


def _data_section(r: dict) -> list[str]:
    lines = ["## Generating the world (`make bench-data`)", "",
             f"Measured {r['measured_at']} on {_machine(r['machine'])}. Seed {r['seed']}. "
             "The 1-minute load average at the end of each run says whether other work shared the 2 cores.", "",
             "| scale | establishments | bulletins | wall time | peak memory | output | MCA coded | MCA precision | load at end | target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for scale, s in r["scales"].items():
        t = s.get("targets")
        target = "" if not t else (f"≤ {t['seconds'] // 60} min, ≤ {t['peak_rss_gib']:g} GiB: "
                                   + ("met" if s.get("within_targets") else "**not met**"))
        mca = s.get("mca_test", {})
        lines.append(f"| {scale} | {s['establishments']:,} | {s['bulletins']:,} | {s['seconds']:,.1f} s "
                     f"| {s['peak_rss_gib']:.2f} GiB | {s['output_mib']:,.1f} MiB | {mca.get('coding_rate', 0):.1%} "
                     f"| {mca.get('precision', 0):.1%} | {s.get('load_average_1min_at_end', '?')} | {target} |")
    return lines + [""]


def _generic_section(r: dict) -> list[str]:
    skip = {"benchmark", "machine", "measured_at"}
    lines = [f"## {r['benchmark']}", ""]
    if "measured_at" in r:
        lines.append(f"Measured {r['measured_at']} on {_machine(r.get('machine', {}))}.")
    elif "machine" in r:
        lines.append(f"Measured on {_machine(r['machine'])}.")
    lines += ["", "| figure | value |", "|---|---|"]
    for k, v in r.items():
        if k not in skip:
            lines.append(f"| {k} | {json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v} |")
    return lines + [""]


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _quality_section(r: dict) -> list[str]:
    lines = ["## How well the approaches code (`make bench-quality`)", "",
             f"Measured {r['measured_at']} on {_machine(r['machine'])}. Worlds at `{r['scale']}` scale from seeds "
             f"{', '.join(map(str, r['seeds']))}, which no notebook, test or default uses; each notebook ran with "
             "`datathon material run` (two at a time) and its submission was scored on the test split.", ""]
    for title, rows in [("mean of the seeds", r["mean"]), *((f"seed {s}", v) for s, v in r["per_seed"].items())]:
        lines += [f"### {title}", "",
                  "| approach | coded | precision | success | top-5 | coverage at 95 % | s / 1,000 bulletins | notebook s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, m in rows.items():
            per = m.get("seconds_per_1000")
            lines.append(f"| {name} | {_pct(m['coding_rate'])} | {_pct(m['precision'])} | {_pct(m['success_rate'])} "
                         f"| {_pct(m.get('top5_accuracy'))} | {_pct(m.get('coverage_at_95'))} "
                         f"| {'—' if per is None else f'{per:.2f}'} | {m.get('notebook_seconds', '—')} |")
        lines.append("")
    bar = r["quality_bar"]
    lines += ["Quality bar: approaches beating MCA's success rate: "
              f"{', '.join(bar['approaches_beating_mca']) or 'none'}; combined entry ≥ 75 % coded at ≥ 95 % precision: "
              f"{'met' if bar['combined_codes_75_at_95'] else '**not met**'}; top-5 ≥ 90 % of codable: "
              f"{'met' if bar['combined_top5_90'] else '**not met**'}.", ""]
    return lines


def _scale_section(r: dict) -> list[str]:
    lines = ["## Coding at scale, and the peer (`make bench-scale`)", "",
             f"Measured {r['measured_at']} on {_machine(r['machine'])}, in one run. World of seed {r['seed']}; "
             f"`datathon match` on {r['workers']} local Dask workers (one task per département); Splink with "
             "DuckDB on the same data. Wall time and peak memory are those of the whole process tree; quality "
             "is scored by `datathon.evaluate` on the test split.", "",
             "| tool | size | establishments | bulletins | wall time | peak memory | coverage at 95 % | success "
             "| top-5 | load at end | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    sizes = {label: row for label, row in r.get("datathon", {}).items()}
    for tool in ("datathon", "splink"):
        for label, m in r.get(tool, {}).items():
            if "error" in m:
                lines.append(f"| {tool} | {label} | | | | | {m['error']} | | | | |")
                continue
            size = sizes.get(label, {})
            t = m.get("targets")
            target = "" if not t else (f"≤ {t['seconds'] // 60} min, ≤ {t['peak_rss_gib']:g} GiB: "
                                       + ("met" if m.get("within_targets") else "**not met**"))
            lines.append(f"| {tool} | {label} | {size.get('establishments', 0):,} | {size.get('bulletins', 0):,} "
                         f"| {m['seconds']:,.1f} s | {m['peak_rss_gib']:.2f} GiB | {_pct(m.get('coverage_at_95'))} "
                         f"| {_pct(m.get('success_rate'))} | {_pct(m.get('top5_accuracy'))} "
                         f"| {m.get('load_average_1min_at_end', '?')} | {target} |")
    lines += _side_by_side(r)
    lines += ["", "Where `datathon match`'s time goes (wall seconds by phase; worker seconds summed over "
              "partitions: loading, building each partition's indexes, coding its bulletins):", "",
              "| size | partitions | largest partition | partition | code | write | load (workers) "
              "| reference (workers) | code (workers) | of which " + ", ".join(CODING_STAGES) + " |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, m in sizes.items():
        st, w, big = m.get("stages", {}), m.get("work_seconds", {}), m.get("largest_partition", {})
        split = " / ".join(str(w.get(stage, "?")) for stage in CODING_STAGES)
        lines.append(f"| {label} | {m.get('partitions')} | {big.get('name')}: {big.get('establishments', 0):,} "
                     f"establishments, {big.get('bulletins', 0):,} bulletins | {st.get('partition')} | "
                     f"{st.get('code')} | {st.get('write')} | {w.get('load')} | {w.get('reference')} | {w.get('code')} "
                     f"| {split} |")
    training = r.get("training", {})
    if training:
        lines += ["", "Training (`datathon train`, the default 25,000 labelled bulletins): "
                  + "; ".join(f"{label}: {m['seconds']} s, {m['peak_rss_gib']} GiB" for label, m in training.items())
                  + "."]
    return lines + [""]


def _side_by_side(r: dict) -> list[str]:
    """The ratios the run measured side by side: datathon against Splink at each size both ran, and the
    quality of the larger sizes against the departement world's."""
    ours, peer = r.get("datathon", {}), r.get("splink", {})
    out = []
    for label, theirs in peer.items():
        mine = ours.get(label)
        if not mine or "error" in theirs or not theirs.get("coverage_at_95") or not mine.get("seconds"):
            continue
        out.append(f"- {label}: datathon covers {mine['coverage_at_95'] / theirs['coverage_at_95']:.1f}× Splink's "
                   f"share at 95 % precision ({_pct(mine['coverage_at_95'])} against {_pct(theirs['coverage_at_95'])}), "
                   f"success {_pct(mine['success_rate'])} against {_pct(theirs['success_rate'])}; Splink takes "
                   f"{theirs['seconds'] / mine['seconds']:.1f}× datathon's wall time and "
                   f"{theirs['peak_rss_gib'] / mine['peak_rss_gib']:.1f}× its peak memory.")
    base = ours.get("departement")
    if base:
        for label in ("campaign/10", "campaign"):
            m = ours.get(label)
            if m and m.get("coverage_at_95") is not None:
                out.append(f"- {label} against departement: coverage at 95 % {_pct(m['coverage_at_95'])} against "
                           f"{_pct(base['coverage_at_95'])}, success {_pct(m['success_rate'])} against "
                           f"{_pct(base['success_rate'])}.")
    return ["", "Side by side, in this run:", "", *out] if out else []


SECTIONS = {"data": _data_section, "quality": _quality_section, "scale": _scale_section}


def build_report() -> str:
    parts = ["# Benchmark report", "",
             "Written by the benchmarks (`make bench`); each section says when and on what machine it was measured.",
             "Figures are measured side by side in one run where a ratio is given.", ""]
    for path in sorted(RESULTS.glob("*.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        parts += SECTIONS.get(r.get("benchmark"), _generic_section)(r)
    text = "\n".join(parts)
    REPORT.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    print(build_report())
