"""The event's hub under a full room (`make bench-hub`, as root): 60 accounts, 60 servers spawned at once.

Sets up the hub from this tree under ``/srv/datathon-bench`` (the kit's environment is kept between runs)
for 59 students and one instructor (system accounts ``dtbn01..dtbn60``, removed at the end), starts
JupyterHub with an admin service token (a configuration file that loads the hub's own and adds it),
asks the REST API to start all 60 servers at once, and measures:

- the time from the 60 requests to every server ready (JupyterHub's ``ready``) and answering through
  the proxy (``/user/<login>/api/status``);
- the memory of each user: the resident memory (RSS) of the server's process tree, and what the
  user's memory cgroup counts (its page cache included);
- the load average at the end (other work on the 2 cores).

Results: ``benchmarks/results/hub.json`` (and benchmarks/report.md), and a short text on stdout.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from benchmarks.common import write_result
from datathon.hub import Layout
from datathon.hub.install import sudoers_file

ROOT = Path("/srv/datathon-bench")
REPO = Path(__file__).resolve().parents[1]
USERS = [f"dtbn{i:02d}" for i in range(1, 61)]
INSTRUCTOR = USERS[-1]
READY_TIMEOUT = 900
DATATHON = str(Path(sys.executable).parent / "datathon")

BENCH_CONFIG = """\
# The benchmark's hub: the event's configuration plus a service whose token may start and watch servers.
load_subconfig("jupyterhub_config.py")  # noqa: F821
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]  # noqa: F821
c.JupyterHub.load_roles = [{{"name": "bench", "services": ["bench"],  # noqa: F821
                            "scopes": ["admin:users", "admin:servers", "admin:server_state", "access:servers"]}}]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(url: str, token: str, method: str = "GET", timeout: float = 60):
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        return response.status, (json.loads(body) if body.strip().startswith(b"{") or body.startswith(b"[") else body)


def _tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0


def _cgroup_bytes(login: str) -> int | None:
    for path in (Path(f"/sys/fs/cgroup/memory/datathon-hub-{login}/memory.usage_in_bytes"),
                 Path(f"/sys/fs/cgroup/datathon-hub-{login}/memory.current")):
        if path.is_file():
            return int(path.read_text())
    return None


def _remove_accounts() -> None:
    subprocess.run([DATATHON, "hub", "--root", str(ROOT), "remove", *USERS], capture_output=True, text=True)


def main() -> int:
    if os.geteuid() != 0:
        print("bench-hub creates 60 system accounts: run it as root", file=sys.stderr)
        return 2
    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    participants = work / "participants.csv"
    participants.write_text("login,name,email,team\n" + "".join(f"{u},Bench {u[-2:]},,\n" for u in USERS))
    _remove_accounts()
    started = time.monotonic()
    setup = subprocess.run([DATATHON, "hub", "--root", str(ROOT), "setup", "--participants", str(participants),
                            "--data", str(REPO / "data_samples" / "sirene"), "--instructors", INSTRUCTOR,
                            "--port", str(port), "--memory", "2", "--reset-passwords"], capture_output=True, text=True)
    setup_seconds = round(time.monotonic() - started, 1)
    if setup.returncode not in (0, 1):  # 1: a check found something (reported below), the hub can still run
        print(setup.stdout, setup.stderr, file=sys.stderr)
        return 1
    token = secrets.token_hex(32)
    config = ROOT / "hub" / "bench_config.py"
    config.write_text(BENCH_CONFIG.format(token=token))
    config.chmod(0o600)
    log = work / "hub.log"
    env = dict(os.environ, PATH=os.pathsep.join([str(ROOT / "venv" / "bin"), os.environ.get("PATH", "")]))
    with open(log, "wb") as out:
        hub = subprocess.Popen([str(ROOT / "venv" / "bin" / "jupyterhub"), "-f", str(config)], cwd=ROOT / "hub",
                               env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    result: dict = {"users": len(USERS), "setup_seconds": setup_seconds, "memory_limit_gib_per_user": 2}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _api(f"{url}/hub/api/", token)
                break
            except (OSError, urllib.error.HTTPError):
                if hub.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the hub did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(USERS)) as pool:
            codes = list(pool.map(lambda u: _api(f"{url}/hub/api/users/{u}/server", token, "POST", 300)[0], USERS))
        requests_seconds = time.monotonic() - t0
        ready_at: dict[str, float] = {}
        answering_at: dict[str, float] = {}
        while len(answering_at) < len(USERS):
            if time.monotonic() - t0 > READY_TIMEOUT:
                break
            _, users = _api(f"{url}/hub/api/users?state=ready", token)
            for user in users:
                name = user["name"]
                if user["servers"].get("", {}).get("ready") and name not in ready_at:
                    ready_at[name] = time.monotonic() - t0
            for name in [n for n in ready_at if n not in answering_at]:
                try:
                    if _api(f"{url}/user/{name}/api/status", token, timeout=10)[0] == 200:
                        answering_at[name] = time.monotonic() - t0
                except (OSError, urllib.error.HTTPError):
                    pass
            time.sleep(1)
        all_ready = max(answering_at.values()) if len(answering_at) == len(USERS) else None

        rss, cgroup = {}, {}
        for name in USERS:
            _, model = _api(f"{url}/hub/api/users/{name}", token)
            pid = (model["servers"].get("", {}).get("state") or {}).get("pid")
            if pid:
                rss[name] = _tree_rss(pid)
            counted = _cgroup_bytes(name)
            if counted is not None:
                cgroup[name] = counted
        mib = 2**20
        result.update({
            "spawn_requests": {str(code): codes.count(code) for code in sorted(set(codes))},
            "seconds_to_send_60_requests": round(requests_seconds, 1),
            "servers_ready": len(ready_at), "servers_answering_through_proxy": len(answering_at),
            "seconds_to_all_ready": round(all_ready, 1) if all_ready is not None else None,
            "seconds_to_first_ready": round(min(answering_at.values()), 1) if answering_at else None,
            "seconds_to_median_ready": round(statistics.median(answering_at.values()), 1) if answering_at else None,
            "rss_mib_per_user": {"median": round(statistics.median(rss.values()) / mib, 1),
                                 "max": round(max(rss.values()) / mib, 1),
                                 "total_gib": round(sum(rss.values()) / 2**30, 2)} if rss else None,
            "cgroup_mib_per_user": {"median": round(statistics.median(cgroup.values()) / mib, 1),
                                    "max": round(max(cgroup.values()) / mib, 1)} if cgroup else None,
            "hub_and_proxy_rss_mib": round(_tree_rss(hub.pid) / mib - sum(rss.values()) / mib, 1),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        })
    finally:
        if hub.poll() is None:
            os.killpg(hub.pid, signal.SIGTERM)  # the hub stops every server
            try:
                hub.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(hub.pid, signal.SIGKILL)
        _remove_accounts()
        for name in ("exchange", "instructor", "hub", "slips", "data"):  # the venv stays: minutes to rebuild
            shutil.rmtree(ROOT / name, ignore_errors=True)
        sudoers_file(Layout(ROOT)).unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    path = write_result("hub", result)
    per = result.get("rss_mib_per_user") or {}
    print(f"hub: {result['servers_answering_through_proxy']}/{len(USERS)} servers answering through the proxy, all in "
          f"{result['seconds_to_all_ready']} s (first {result['seconds_to_first_ready']} s, median "
          f"{result['seconds_to_median_ready']} s) after 60 simultaneous spawn requests; memory per user (server "
          f"process tree, no kernel): median {per.get('median')} MiB, max {per.get('max')} MiB, "
          f"{per.get('total_gib')} GiB for all; cgroup count {result.get('cgroup_mib_per_user')}; "
          f"load {result['load_average_1min_at_end']}\nwrote {path}")
    return 0 if result.get("seconds_to_all_ready") is not None else 1


if __name__ == "__main__":
    sys.exit(main())
