"""The processes a benchmark run starts: the server under test and the bot fleets that load it.

Each runs `python -m web.cli …` in its own process, so the server's CPU, read from the OS for
its process alone, contains no bot work."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from signaling.fleet import FleetCounters, read_report

if TYPE_CHECKING:
    import psutil

OPENROOM = [sys.executable, "-m", "web.cli"]
STOP_TIMEOUT = 15.0


class BenchProcessError(RuntimeError):
    """A process the benchmark started failed or did not get ready; the message shows why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


def _environment(**settings: str) -> dict[str, str]:
    """This process's environment without its OPENROOM_* settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROOM_")}
    env.update(settings)
    return env


async def _spawn(
    arguments: list[str], env: dict[str, str], log_path: Path, niceness: int = 0
) -> asyncio.subprocess.Process:
    with log_path.open("wb") as log:
        return await asyncio.create_subprocess_exec(
            *OPENROOM,
            *arguments,
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
        )


def _udp_receive_queues(pid: int) -> list[int]:
    """Bytes waiting in the kernel on each of a process's UDP sockets (Linux; [] elsewhere):
    what the process has not read yet, which its own latency figures cannot see."""
    try:
        inodes = {
            link[len("socket:[") : -1]
            for fd in Path(f"/proc/{pid}/fd").iterdir()
            if (link := os.readlink(fd)).startswith("socket:[")
        }
        queues = []
        for table in ("udp", "udp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:  # inode; fields[4] is tx_queue:rx_queue in hex
                    queues.append(int(fields[4].split(":")[1], 16))
        return queues
    except OSError:
        return []


class _ChildProcess:
    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        import psutil  # the `bench` extra; the server itself does not need it

        self.name = name
        self.process = process
        self.log_path = log_path
        self._os_process: psutil.Process = psutil.Process(process.pid)

    def cpu_seconds(self) -> float:
        """User + system time of all its threads so far, from the OS."""
        times = self._os_process.cpu_times()
        return float(times.user + times.system)

    def check_alive(self) -> None:
        if self.process.returncode is not None:
            raise BenchProcessError(
                f"{self.name} exited with status {self.process.returncode}:\n"
                f"{_log_tail(self.log_path)}"
            )

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT; waits for the end."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass(frozen=True)
class ServerSample:
    at: float  # time.monotonic() when taken
    cpu_seconds: float  # user + system, all threads, since the process started
    metrics: dict[str, Any]  # /api/metrics


class ServerProcess(_ChildProcess):
    """`openroom serve` on 127.0.0.1 and a free port, with throw-away settings."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path, port: int) -> None:
        super().__init__("server", process, log_path)
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    async def start(cls, data_dir: Path, forwarding: str, codec: str) -> ServerProcess:
        return await cls.launch(
            data_dir, OPENROOM_MEDIA_FORWARDING=forwarding, OPENROOM_MEDIA_VIDEO_CODEC=codec
        )

    @classmethod
    async def launch(cls, data_dir: Path, **settings: str) -> Self:
        """The server on a free port with throw-away settings plus ``settings`` (env names)."""
        port = free_port()
        env = _environment(
            OPENROOM_SERVER_HOST="127.0.0.1",
            OPENROOM_SERVER_PORT=str(port),
            OPENROOM_SERVER_DATA_DIR=str(data_dir),
            OPENROOM_SECURITY_TOKEN_SECRET=secrets.token_hex(16),
            **settings,
        )
        log_path = data_dir / "server.log"
        return cls(await _spawn(["serve"], env, log_path), log_path, port)

    async def wait_healthy(self, session: aiohttp.ClientSession, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                async with session.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise BenchProcessError(f"the server did not answer /healthz in {timeout:.0f} s")
            await asyncio.sleep(0.2)

    async def sample(self, session: aiohttp.ClientSession) -> ServerSample:
        at, cpu_seconds = time.monotonic(), self.cpu_seconds()
        async with session.get(f"{self.url}/api/metrics") as response:
            metrics: dict[str, Any] = await response.json()
        return ServerSample(at, cpu_seconds, metrics)

    def udp_backlog_kb(self) -> float:
        """The largest unread backlog on any of the server's UDP sockets, in KiB."""
        return max(_udp_receive_queues(self.process.pid), default=0) / 1024

    def rss_mb(self) -> float:
        return float(self._os_process.memory_info().rss) / (1024 * 1024)


class FleetProcess(_ChildProcess):
    """`openroom bot … --report FILE`: one fleet whose counters the benchmark reads."""

    def __init__(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        log_path: Path,
        report_path: Path,
        publishers: int,
        subscribers: int,
    ) -> None:
        super().__init__(name, process, log_path)
        self.report_path = report_path
        self.publishers = publishers
        self.subscribers = subscribers

    @classmethod
    async def start(
        cls,
        name: str,
        work_dir: Path,
        url: str,
        room: str,
        *,
        publishers: int = 0,
        subscribers: int = 0,
        expected_publishers: int = 0,
        codec: str = "VP8",
        niceness: int = 0,
    ) -> FleetProcess:
        report_path = work_dir / f"{name}.json"
        arguments = [
            "bot",
            *("--url", url, "--room", room, "--codec", codec, "--name-prefix", name),
            *("--publishers", str(publishers), "--subscribers", str(subscribers)),
            *("--expect-publishers", str(expected_publishers), "--report", str(report_path)),
            *("--status-interval", "5"),
        ]
        log_path = work_dir / f"{name}.log"
        process = await _spawn(arguments, _environment(), log_path, niceness)
        return cls(name, process, log_path, report_path, publishers, subscribers)

    def is_ready(self) -> bool:
        """Every bot joined, and every subscriber receives every publisher's tracks."""
        counters = self.counters()
        return (
            counters is not None
            and counters.publishers_joined == self.publishers
            and counters.subscribers_joined == self.subscribers
            and counters.subscribers_receiving_all == self.subscribers
        )

    def counters(self) -> FleetCounters | None:
        self.check_alive()
        return read_report(self.report_path)

    async def snapshot(self, timeout: float = 10) -> FleetCounters:
        """Counters taken now (on SIGUSR1), not up to a second old: window edges line up
        across processes to within milliseconds."""
        previous = self.counters()
        wanted = (previous.snapshot if previous else 0) + 1
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while True:
            counters = self.counters()
            if counters is not None and counters.snapshot >= wanted:
                return counters
            if time.monotonic() > deadline:
                raise BenchProcessError(f"{self.name} did not answer a snapshot request")
            await asyncio.sleep(0.01)


async def wait_until(what: str, fleets: list[FleetProcess], timeout: float) -> None:
    """Until every fleet is ready; a fleet process that exits ends the wait with its output."""
    deadline = time.monotonic() + timeout
    while True:
        if all([fleet.is_ready() for fleet in fleets]):
            return
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {f.name}\n{_log_tail(f.log_path)}" for f in fleets)
            raise BenchProcessError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")
        await asyncio.sleep(0.5)
