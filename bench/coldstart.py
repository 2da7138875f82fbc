"""Cold start of the one-file binary: `kapu --version`, and `kapu serve` (2 workers) to its first answer.

Run with `make bench-dist` (builds dist/kapu first) or `python bench/coldstart.py [BINARY ...]`. A benchmark, not a
test: it reports. Each binary runs in a clean folder of its own with an initialised database, as an operator starts
it; with several binaries the runs alternate, so each comparison is made under the same load. Reported per binary:
size, then the median (min-max) of the wall time of `--version`, of `serve` to its first /healthz answer and of
`serve` to its first home page (templates compiled on the way), each with the CPU seconds its processes used by
then (the unpacking parent, the server and its workers): on a busy machine the wall time measures the others' work
too, the CPU time much less so. Goal (issue 10): first answer < 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 1.5
DEADLINE_SECONDS = 60


def _environment(**kapu):
    """The caller's environment without KAPU_* or PYTHONPATH (the binary carries its own), plus *kapu*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPU_") and k != "PYTHONPATH"}
    env.update(kapu)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _process_tree_cpu(root: int) -> float:
    """CPU seconds used so far by *root* and every process below it (with their reaped children)."""
    parents, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        used[pid] = sum(int(ticks) for ticks in fields[11:15])  # utime, stime, cutime, cstime
    tree, grown = {root}, True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grown = bool(below)
    return sum(used.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def _answers(url) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Site:
    """One binary copied into a clean folder, its database initialised."""

    def __init__(self, binary: Path, folder: Path):
        self.folder = folder
        self.folder.mkdir()
        self.binary = folder / "kapu"
        shutil.copy2(binary, self.binary)
        self.env = _environment(TMPDIR=str(folder))
        subprocess.run(
            [str(self.binary), "init-db"],
            cwd=folder,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=DEADLINE_SECONDS,
        )

    def version(self) -> tuple[float, float]:
        started, cpu = time.monotonic(), _children_cpu()
        subprocess.run(
            [str(self.binary), "--version"],
            cwd=self.folder,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=DEADLINE_SECONDS,
        )
        return time.monotonic() - started, _children_cpu() - cpu

    def serve(self, path: str) -> tuple[float, float]:
        """Wall and CPU seconds from `kapu serve` to the first 200 on *path*; the server is stopped after."""
        port = _free_port()
        env = {**self.env, "KAPU_WORKERS": "2", "KAPU_PORT": str(port)}
        started = time.monotonic()
        server = subprocess.Popen(
            [str(self.binary), "serve"], cwd=self.folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while not _answers(f"http://127.0.0.1:{port}{path}"):
                if server.poll() is not None:
                    raise RuntimeError(f"kapu serve exited with {server.returncode}")
                if time.monotonic() - started > DEADLINE_SECONDS:
                    raise RuntimeError(f"kapu serve gave no answer on {path} within {DEADLINE_SECONDS} s")
                time.sleep(0.02)
            return time.monotonic() - started, _process_tree_cpu(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=DEADLINE_SECONDS)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _summary(measured) -> str:
    walls, cpus = [wall for wall, _ in measured], [cpu for _, cpu in measured]
    return (
        f"{statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}), "
        f"CPU {statistics.median(cpus):.2f} s ({min(cpus):.2f}-{max(cpus):.2f})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs="*", type=Path, default=[ROOT / "dist" / "kapu"])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    measures = {
        "--version": lambda site: site.version(),
        "serve to /healthz": lambda site: site.serve("/healthz"),
        "serve to /": lambda site: site.serve("/"),
    }
    with tempfile.TemporaryDirectory(prefix="kapu-coldstart-") as scratch:
        sites = [Site(binary, Path(scratch) / f"site{number}") for number, binary in enumerate(options.binaries)]
        times = {(site, name): [] for site in sites for name in measures}
        loads = [os.getloadavg()[0]]
        for _ in range(options.runs):
            for name, measure in measures.items():
                for site in sites:  # alternating: every binary meets the same load
                    times[site, name].append(measure(site))
            loads.append(os.getloadavg()[0])
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores")
    for binary, site in zip(options.binaries, sites, strict=True):
        print(f"{binary}: {binary.stat().st_size / 1e6:.1f} MB")
        for name in measures:
            print(f"  {name:<18} {_summary(times[site, name])}")
    if len(sites) > 1:
        first = sites[0]
        for site, binary in zip(sites[1:], options.binaries[1:], strict=True):
            for name in measures:
                ratios = [
                    statistics.median([m[kind] for m in times[site, name]])
                    / statistics.median([m[kind] for m in times[first, name]])
                    for kind in (0, 1)
                ]
                print(f"{binary} / {options.binaries[0]}, {name}: wall {ratios[0]:.2f}, CPU {ratios[1]:.2f}")
    print(f"goal: first answer < {GOAL_SECONDS} s")


if __name__ == "__main__":
    main()
