"""JupyterHub's configuration for the event, read from ``hub/settings.json`` by the generated jupyterhub_config.py.

The generated file only calls :func:`configure`, so the configuration is kit code (tested, versioned)
and ``setup`` records only the event's facts (logins, ports, limits, the leaderboard's event directory).

Choices, and why:

- **LocalProcessSpawner** (subclassed as :class:`CourseSpawner`): the hub runs as root and starts each
  user's server as that user. SystemdSpawner needs systemd as PID 1, which containers and CI lack;
  sudospawner would let the hub run unprivileged, but it needs sudo rules for every participant and
  the hub must still create cgroups as root, so it buys nothing here.
- **PAM**: the participants' system passwords, checked offline; no identity provider needed.
- **Memory per user**: LocalProcessSpawner enforces no limit itself, so :class:`CourseSpawner` puts
  each server, as soon as it is started, in a memory and pids cgroup of its own (the grading
  sandbox's cgroup helper, :func:`datathon.sandbox._cgroups`): every kernel and terminal forked by
  the server is counted in it, and the kernel's OOM killer stops a kernel that goes over. Where no
  cgroup is writable only ``MEM_LIMIT`` is set (shown by JupyterLab, not enforced), and the hub says so.
"""
from __future__ import annotations

import os
import pwd
from pathlib import Path

from datathon.hub import DEFAULT_URL, LEADERBOARD_SERVICE, Layout, load_settings

GiB = 1024**3
#: Processes one user's server may have (server, kernels, terminals, their threads are not counted).
PROCESSES_PER_USER = 512
#: Seconds a server may take to answer: sixty start at once on two cores.
START_TIMEOUT = 600


def cgroup_name(login: str) -> str:
    return f"datathon-hub-{login}"


def confine(login: str, pid: int, memory_bytes: int) -> list[str]:
    """Put process ``pid`` (a user's server) in the user's memory and pids cgroups; the cgroup.procs files joined."""
    from datathon.sandbox import Account, Limits, _cgroups

    pw = pwd.getpwnam(login)
    procs = _cgroups(Account(0, cgroup_name(login), pw.pw_uid, pw.pw_gid),
                     Limits(memory=memory_bytes, processes=PROCESSES_PER_USER))
    joined = []
    for path in procs:
        try:
            Path(path).write_text(str(pid))  # its children from now on are counted there too
            joined.append(path)
        except OSError:
            pass
    return joined


def _course_spawner():
    from jupyterhub.spawner import LocalProcessSpawner
    from traitlets import Int, Set

    class CourseSpawner(LocalProcessSpawner):
        """LocalProcessSpawner whose servers each run in a memory-limited cgroup of their own."""

        memory_limit_bytes = Int(0, help="memory of one user's server and its kernels (0: no limit)").tag(config=True)
        instructors = Set(help="logins whose servers are rooted at / (see start)").tag(config=True)

        async def start(self):
            if self.user.name in self.instructors:
                # nbgrader's formgrader refuses a course root outside the server's root directory ("encountered
                # an error"), and the course root is /srv/..., not in the home: root the server at / (Unix
                # permissions still decide what the file browser opens), and still open on the course.
                import pwd

                home = pwd.getpwnam(self.user.name).pw_dir
                self.notebook_dir = "/"
                self.default_url = f"/lab/tree/{home.strip('/')}/course"
            started = await super().start()
            if self.memory_limit_bytes and self.pid:
                joined = confine(self.user.name, self.pid, self.memory_limit_bytes)
                if not joined:
                    self.log.warning("no writable memory cgroup: %s's server runs without a memory limit",
                                     self.user.name)
            return started

    return CourseSpawner


def configure(c, root: str | Path) -> None:
    """Fill JupyterHub's config object ``c`` for the event set up under ``root``."""
    layout = Layout(Path(root))
    settings = load_settings(layout)
    hub = layout.hub
    c.JupyterHub.bind_url = f"http://:{settings['port']}"
    # The proxy's API and the hub's own port on loopback, next to the public port (JupyterHub's defaults,
    # 8001 and 8081, for port 8000), so that two hubs on one machine (a test beside the event's) never clash.
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['port'] + 1}"
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings["port"] + 81
    c.JupyterHub.db_url = f"sqlite:///{hub / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.pid_file = str(hub / "proxy.pid")
    c.ConfigurableHTTPProxy.command = [settings["proxy"]]
    c.JupyterHub.concurrent_spawn_limit = 100

    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False  # no logind here: PAM sessions would only fail
    c.Authenticator.allowed_users = set(settings["students"]) | set(settings["instructors"])
    c.Authenticator.admin_users = set(settings["instructors"])

    c.JupyterHub.spawner_class = _course_spawner()
    c.Spawner.cmd = [str(layout.bin / "jupyterhub-singleuser")]
    c.Spawner.default_url = DEFAULT_URL
    c.Spawner.notebook_dir = "~"
    c.Spawner.http_timeout = START_TIMEOUT
    c.Spawner.start_timeout = START_TIMEOUT
    memory = int(settings["memory_gib"] * GiB)
    c.Spawner.mem_limit = memory  # MEM_LIMIT, shown by JupyterLab's resource indicators
    c.CourseSpawner.memory_limit_bytes = memory
    c.CourseSpawner.instructors = set(settings["instructors"])
    c.Spawner.environment = {
        "DATATHON_DATA": str(layout.data),  # datathon.course.DATA_VARIABLE: the notebooks' data
        "PATH": os.pathsep.join([str(layout.bin), "/usr/local/bin", "/usr/bin", "/bin"]),
        "MPLBACKEND": "agg",
        "DATATHON_EXCHANGE": str(layout.exchange),  # read by the course's own nbgrader configuration
    }

    if settings.get("event"):
        port = settings["leaderboard_port"]
        c.JupyterHub.services = [{
            "name": LEADERBOARD_SERVICE,
            "url": f"http://127.0.0.1:{port}",
            # The kit's own server, run by the hub (root): the event directory, truth included, stays root-only.
            "command": [str(layout.bin / "datathon"), "serve", "--event", settings["event"], "--host", "127.0.0.1",
                        "--port", str(port), "--base-url", f"/services/{LEADERBOARD_SERVICE}/"],
            "display": True,
        }]

