"""Assemble ``benchmarks/report.md`` from every ``benchmarks/results/*.json``."""
from __future__ import annotations

import json

from benchmarks.common import REPORT, RESULTS


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


SECTIONS = {"data": _data_section}


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
