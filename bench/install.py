"""The serving install against the full one, side by side in one run.

Creates two fresh venvs from this checkout with pip (the machine's pip configuration and cache,
byte-compiling as pip does by default): "light" = `pip install .` (what the Docker image holds),
"full" = CPU `torch==2.13.0` first, then `pip install '.[train]'` (what the Makefile's install
adds for training). For each it prints the install time, the installed size (the venv on disk)
and the gateway's RSS after it served the same streamed requests in front of the replay upstream
(current and peak), with the shipped model and the replay config.

Usage: python bench/install.py [--requests 40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "difficulty", "policies", "router")
VARIANTS = {
    "light": [["."]],
    "full": [["torch==2.13.0"], [".[train]"]],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


def _size_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def _install(name: str, work: Path) -> tuple[Path, float]:
    venv = work / name
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    started = time.perf_counter()
    for target in VARIANTS[name]:
        command = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
        subprocess.run([*command, *target], check=True, env=_env(), cwd=work / "src")
    return venv, time.perf_counter() - started


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url}: not ready")


def _rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _serve_rss(venv: Path, work: Path, prompts: list[str]) -> tuple[float, float]:
    up, gw = _free_port(), _free_port()
    config = yaml.safe_load((ROOT / "router/configs/replay.yaml").read_text("utf-8"))
    for profile in config["profiles"].values():
        profile["api_base"] = f"http://127.0.0.1:{up}/v1"
    config["ledger"]["url"] = f"sqlite:///{work / (venv.name + '-ledger.db')}"
    path = work / f"{venv.name}.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    bin_dir = venv / "bin"
    upstream_args = ["replay-upstream", "--dataset", "mip-gsm8k", "--port", str(up)]
    gateway_args = ["serve", "--config", str(path), "--port", str(gw), "--log-level", "warning"]
    processes = []
    try:
        for args, port, ready in ((upstream_args, up, "/v1/models"), (gateway_args, gw, "/readyz")):
            processes.append(
                subprocess.Popen(
                    [str(bin_dir / "thinkgate"), *args],
                    env=_env(),
                    cwd=work,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            _wait(f"http://127.0.0.1:{port}{ready}", processes[-1])
        for prompt in prompts:
            body = {"model": "thinkgate/auto", "messages": [{"role": "user", "content": prompt}]}
            request = urllib.request.Request(
                f"http://127.0.0.1:{gw}/v1/chat/completions",
                data=json.dumps({**body, "stream": True}).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=120) as reply:
                reply.read()
        return _rss_mb(processes[-1].pid)
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=20)


def main() -> int:
    """Install both variants, serve from each, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--keep", help="build the venvs here and keep them (default: a temp dir)")
    args = parser.parse_args()
    from difficulty.datasets import load_dataset

    prompts = [o.prompt for o in load_dataset("mip-gsm8k") if o.profile == "QwQ-32B"]
    prompts = prompts[: args.requests]
    work = Path(args.keep or tempfile.mkdtemp(prefix="thinkgate-install-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"{'install':8} {'time s':>8} {'size MB':>8} {'RSS MB':>8} {'peak MB':>8}")
    try:
        for name in VARIANTS:
            shutil.rmtree(work / name, ignore_errors=True)
            venv, seconds = _install(name, work)
            size = _size_mb(venv)
            rss, peak = _serve_rss(venv, work, prompts)
            print(f"{name:8} {seconds:8.1f} {size:8.0f} {rss:8.0f} {peak:8.0f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
