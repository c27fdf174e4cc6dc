"""What every benchmark shares: the machine description, result files and the report."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

RESULTS = Path(__file__).parent / "results"
REPORT = Path(__file__).parent / "report.md"


def machine() -> dict:
    """Where a figure was measured: cores, memory, CPU model, Python."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
    }


def write_result(name: str, result: dict) -> Path:
    """Write ``results/<name>.json`` (with the machine and the date) and rebuild the report."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, **result, "machine": machine(),
              "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    from benchmarks.report import build_report

    build_report()
    return path


def run_measured(cmd: list[str], interval: float = 0.25, env: dict | None = None, capture: bool = False) -> dict:
    """Run a command; return its wall time and the peak resident memory of its whole process tree
    (and, with ``capture``, what it printed on stdout, as ``stdout``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE if capture else None, text=capture)
    peak = 0
    done = threading.Event()

    def watch():
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root] + root.children(recursive=True)
                peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            done.wait(interval)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    stdout = proc.communicate()[0] if capture else None
    code = proc.wait()
    done.set()
    t.join()
    extra = {"stdout": stdout} if capture else {}
    return {**extra, "returncode": code, "seconds": round(time.perf_counter() - start, 1), "peak_rss_gib": round(peak / 2**30, 2),
            # Shared machines: the load says whether other work competed for the cores meanwhile.
            "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
