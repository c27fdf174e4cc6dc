"""nbgrader's executor, with each student's kernel in a :mod:`datathon.sandbox` box.

Two pieces plug into nbgrader's ``Autograde`` converter in a grading worker:

- :class:`SandboxKernelManager` starts the kernel through the sandbox: Unix sockets in the box's
  private directory instead of TCP ports (the box has no network), the connection file handed to
  the sandbox account, the box's minimal environment, and interrupts sent as messages (signals from
  outside do not cross into the box's PID namespace);
- :class:`SandboxedExecute` is nbgrader's ``Execute`` preprocessor, plus one rule: a cell that runs
  past the time limit and ignores the interrupt (``signal.signal(SIGINT, SIG_IGN)``, a loop in C)
  is stopped by killing the kernel; a new kernel replays the cells that ran before it, without
  their outputs, and grading goes on with the next cell. That cell scores zero and says why; the
  others keep their points.
"""
from __future__ import annotations

import asyncio
import os
import uuid

from jupyter_client.manager import AsyncKernelManager
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

from datathon.sandbox import Box

#: Seconds a kernel has, after an interrupt, to give back control before it is killed.
INTERRUPT_GRACE = 10


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in :attr:`box` (set on the class by the grading worker)."""

    box: Box | None = None

    async def _async_pre_start_kernel(self, **kw):
        box = type(self).box
        assert box is not None, "SandboxKernelManager.box is not set"
        self.transport = "ipc"
        name = f"kernel-{uuid.uuid4().hex[:8]}"  # a restarted kernel gets new sockets beside the old ones
        self.ip = str(box.ipc / name)
        self.connection_file = str(box.ipc / f"{name}.json")
        kw["env"] = box.environment()
        kw["cwd"] = str(box.work)
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        os.chown(self.connection_file, box.account.uid, box.account.gid)  # written 0600 by and for root
        self.kernel_spec.interrupt_mode = "message"
        kw["env"] = box.environment()  # the provisioner adds the instructor's whole environment back
        kw["cwd"] = str(box.work)
        return box.command(cmd), kw


def _timeout_reply(message: str) -> dict:
    return {"content": {"status": "error", "ename": "CellTimeoutError", "evalue": message,
                        "traceback": [f"\x1b[0;31mCellTimeoutError\x1b[0m: {message}"]}}


class SandboxedExecute(Execute):
    """nbgrader's Execute; a cell that ignores the interrupt after its time limit costs only that cell."""

    def __init__(self, *args, **kwargs):
        if SandboxKernelManager.box is not None:  # nbgrader's Execute would otherwise force its own manager
            kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._replay: list[str] = []
        self._retired: list[tuple] = []
        self._iopub = (self.raise_on_iopub_timeout, self.iopub_timeout)
        return super().preprocess(nb, resources, km)

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, execution_count=None,
                                 store_history=True):
        self._killed = False
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            self.raise_on_iopub_timeout, self.iopub_timeout = self._iopub
            for km, kc in self._retired:  # the killed kernel's manager and client, kept until the cell was done
                kc.stop_channels()
                await ensure_async(km.cleanup_resources())
            self._retired = []
        if cell.cell_type == "code" and cell.source.strip() and not self._killed:
            self._replay.append(cell.source)
        return result

    execute_cell = run_sync(async_execute_cell)  # nbclient binds the synchronous name to its own coroutine

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None):
        self.log.error("Timeout waiting for execute reply (%is): interrupting the kernel", timeout)
        await self.km.interrupt_kernel()
        if await self._idle_within(INTERRUPT_GRACE):
            return _timeout_reply(f"this cell ran over the {timeout} s limit and was interrupted")
        self._killed = True
        self.log.error("The kernel ignored the interrupt: restarting it and replaying the cells before")
        await self._restart_and_replay()
        # The killed kernel never sends this cell's last output message: do not wait for it.
        self.raise_on_iopub_timeout, self.iopub_timeout = False, 0
        return _timeout_reply(f"this cell ran over the {timeout} s limit and ignored the interrupt: the kernel "
                              f"was restarted and the cells before it run again; this cell scores no points")

    async def _idle_within(self, seconds: float) -> bool:
        """Whether the kernel answers on its shell channel within ``seconds`` (an interrupted cell's reply)."""
        try:
            await asyncio.wait_for(self.kc.shell_channel.get_msg(timeout=seconds), seconds + 1)
            return True
        except Exception:  # noqa: BLE001 - queue.Empty or a timeout: the kernel is still busy
            return False

    async def _restart_and_replay(self) -> None:
        # Kill the kernel, but keep its manager's ZMQ context and client open until the cell is over: nbclient
        # still waits on them, and closing them now would cancel that wait (it reads as a dead kernel).
        await ensure_async(self.km.shutdown_kernel(now=True, restart=True))
        self._retired.append((self.km, self.kc))
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel()
        await self.async_start_new_kernel_client()
        for source in self._replay:
            msg_id = await ensure_async(self.kc.execute(source, store_history=False, silent=True))
            deadline = self.timeout or None
            while True:
                try:
                    reply = await self.kc.shell_channel.get_msg(timeout=deadline)
                except Exception:  # noqa: BLE001 - the replay hangs too: give up on restoring state
                    return
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
        # Outputs of the replay are not wanted: drain what the kernel sent on iopub.
        while True:
            try:
                await self.kc.iopub_channel.get_msg(timeout=0.2)
            except Exception:  # noqa: BLE001 - queue.Empty: drained
                break
