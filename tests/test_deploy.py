"""deploy/: the Dockerfile, compose stack, Grafana/Prometheus files and Kubernetes manifests parse
and agree with each other and with the code (paths, images, ports, config, metric names).

Docker and Kubernetes cannot run here, so this is the validation this machine allows.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from router.cli import build_parser
from router.ledger.record import LedgerRecord
from router.metrics import GatewayMetrics
from router.settings import settings_from_mapping

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
IMAGE = "thinkgate:0.1.0"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def _k8s_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        objects += [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]
    return objects


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in _k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text("utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _env_names(config: dict[str, Any]) -> set[str]:
    names = {p["api_key_env"] for p in config["profiles"].values() if p.get("api_key_env")}
    names |= set(config.get("auth", {}).get("api_key_envs", []))
    if config.get("auth", {}).get("admin_key_env"):
        names.add(config["auth"]["admin_key_env"])
    return names


CONFIG = _yaml(DEPLOY / "config.yaml")
COMPOSE = _yaml(DEPLOY / "compose.yaml")


def test_every_file_parses() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml", ".json")]
    assert len(files) >= 14
    for path in files:
        if path.suffix == ".json":
            assert isinstance(json.loads(path.read_text("utf-8")), dict), path
        else:
            assert all(d is not None for d in yaml.safe_load_all(path.read_text("utf-8"))), path


def test_dockerfile_builds_a_cpu_non_root_image_with_a_health_check() -> None:
    steps = _dockerfile()
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert text.startswith("# syntax=docker/dockerfile:")
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    # The serving install: no extra, so no torch; LightGBM's OpenMP runtime in the final stage.
    installs = [a for i, a in steps if i == "RUN" and "pip install" in a]
    assert installs == ["pip install . && rm -rf /src"]
    final = text.rsplit("\nFROM ", 1)[1]
    assert "apt-get install -y --no-install-recommends libgomp1" in final
    users = [a for i, a in steps if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # Every COPY from the build context exists and passes the Dockerfile's ignore file.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [a.split() for i, a in steps if i == "COPY" and not a.startswith("--from")]
    assert copies
    for *sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source.rstrip("/") in allowed, source
    # The default model is package data, so `pip install .` bakes it in.
    assert "default_model/*" in pyproject
    env = dict(
        re.findall(
            r"(\w+)=(\S+)", next(a for i, a in steps if i == "ENV" and "THINKGATE_CONFIG" in a)
        )
    )
    config_path = env["THINKGATE_CONFIG"]
    assert [a.split()[-1] for i, a in steps if i == "COPY" and "config.yaml" in a] == [config_path]
    port = str(CONFIG["port"])
    assert [a for i, a in steps if i == "EXPOSE"] == [port]
    health = next(a for i, a in steps if i == "HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/healthz" in health
    cmd = json.loads(next(a for i, a in steps if i == "CMD"))
    assert cmd == ["thinkgate", "serve", "--config", config_path]
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"


def test_config_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = _one("Secret", "thinkgate-keys")["stringData"]
    names = _env_names(CONFIG)
    assert names <= set(secret)
    for name in names:
        monkeypatch.setenv(name, secret[name])
    settings = settings_from_mapping(CONFIG, "deploy/config.yaml")
    assert settings.host == "0.0.0.0"
    assert settings.ledger.url.startswith("redis://")  # replicas share one ledger
    assert settings.reference_profile in settings.profiles
    model_dir = ROOT / "difficulty" / "default_model"
    if (model_dir / "meta.json").is_file() or any(model_dir.glob("*.json")):
        text = " ".join(p.read_text("utf-8") for p in model_dir.glob("*.json"))
        for profile in settings.profiles.values():
            assert profile.predictor is None or profile.predictor in text


def test_configmap_holds_the_same_config() -> None:
    configmap = _one("ConfigMap", "thinkgate-config")
    assert yaml.safe_load(configmap["data"]["config.yaml"]) == CONFIG


def test_compose_stack_is_consistent() -> None:
    services = COMPOSE["services"]
    assert {"gateway", "redis", "prometheus", "grafana", "replay", "lb"} <= set(services)
    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] >= 2
    assert gateway["image"] == IMAGE
    context = (DEPLOY / gateway["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / gateway["build"]["dockerfile"]).is_file()
    assert _env_names(CONFIG) <= set(gateway["environment"])
    assert gateway["command"] == ["thinkgate", "serve", "--config", "/etc/thinkgate/config.yaml"]
    assert str(CONFIG["port"]) in gateway["expose"]
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
    # The hosts in the config are compose services listening on those ports.
    for url in [CONFIG["ledger"]["url"]] + [p["api_base"] for p in CONFIG["profiles"].values()]:
        parts = urlsplit(url)
        assert parts.hostname in services, url
    redis_port = urlsplit(CONFIG["ledger"]["url"]).port
    assert redis_port == 6379
    replay = services["replay"]
    for profile in CONFIG["profiles"].values():
        assert str(urlsplit(profile["api_base"]).port) in replay["expose"]


def test_gateway_commands_parse_with_the_cli() -> None:
    commands = [
        json.loads(next(a for i, a in _dockerfile() if i == "CMD")),
        COMPOSE["services"]["gateway"]["command"],
        _one("Deployment", "thinkgate")["spec"]["template"]["spec"]["containers"][0]["command"],
    ]
    for command in commands:
        assert command[0] == "thinkgate"
        args = build_parser().parse_args(command[1:])
        assert args.command == "serve"
        assert args.config == "/etc/thinkgate/config.yaml"
        assert args.host is None and args.port is None  # host and port come from the config


def test_replay_commands_parse_and_name_bundled_datasets() -> None:
    from difficulty.datasets import dataset_path

    commands = [COMPOSE["services"]["replay"]["command"]]
    deployment = _one("Deployment", "replay")
    commands.append(deployment["spec"]["template"]["spec"]["containers"][0]["command"])
    port = urlsplit(CONFIG["profiles"]["think"]["api_base"]).port
    for command in commands:
        assert command[0] == "thinkgate"
        args = build_parser().parse_args(command[1:])
        assert args.port == port and args.host == "0.0.0.0"
        for name in args.dataset:
            assert dataset_path(name).is_file()


def test_load_balancer_and_prometheus_reach_the_gateway_port() -> None:
    port = CONFIG["port"]
    nginx = (DEPLOY / "nginx.conf").read_text("utf-8")
    assert re.search(rf"server gateway:{port}\b", nginx)
    assert "proxy_buffering off" in nginx  # streams must not be buffered
    assert COMPOSE["services"]["lb"]["ports"] == [f"{port}:{port}"]
    prometheus = _yaml(DEPLOY / "prometheus.yml")
    job = prometheus["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"][0] == {
        "names": ["gateway"],
        "type": "A",
        "port": port,
        "refresh_interval": "15s",
    }


def _exported_metric_names() -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = GatewayMetrics()
    metrics.observe(
        LedgerRecord(
            request_id="r", time=0.0, model="thinkgate/auto", profile="direct",
            decision_reason="", predictions={}, difficulty="easy", reference_profile="think",
            prompt_tokens=1, completion_tokens=1, tokens_counted=True,
            reference_tokens_estimate=2.0, saved_tokens_estimate=1.0,
            saved_by={"routing": 1.0}, early_exit={"tokens_at_exit": 1}, samples=2,
            latency_ms=1.0, ttft_ms=1.0, stream=True, status=502, error="x", feedback=True,
        )
    )  # fmt: skip
    metrics.observe_decision(0.001)
    text = metrics.render().decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples} | {"up"}


def test_grafana_is_provisioned_with_a_dashboard_of_real_metrics() -> None:
    grafana = COMPOSE["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    datasource = _yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"][0]
    assert urlsplit(datasource["url"]).hostname == "prometheus"
    assert COMPOSE["services"]["prometheus"]["ports"] == [
        f"{urlsplit(datasource['url']).port}:9090"
    ]
    provider = _yaml(provisioning / "dashboards" / "thinkgate.yaml")["providers"][0]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    home = PurePosixPath(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert str(home.parent) == provider["options"]["path"]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / home.name).read_text("utf-8"))
    exported = _exported_metric_names()
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]
            used |= set(re.findall(r"\b(thinkgate_\w+|up)\b(?=[{\[ )])", target["expr"]))
    assert used and used <= exported, used - exported
    for wanted in ("saved_tokens_estimate", "requests", "early_exits", "request_duration"):
        assert any(wanted in name for name in used), wanted


def test_kubernetes_manifests_fit_together() -> None:
    kustomization = _yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    objects = _k8s_objects()
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service",
            "HorizontalPodAutoscaler", "StatefulSet"} <= kinds  # fmt: skip
    assert all(
        o["metadata"].get("namespace") == "thinkgate" for o in objects if o["kind"] != "Namespace"
    )
    hpa = _one("HorizontalPodAutoscaler", "thinkgate")
    target = hpa["spec"]["scaleTargetRef"]
    assert _one(target["kind"], target["name"])["kind"] == "Deployment"
    assert (
        hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    )
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        matches = [
            w for w in workloads
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip
        assert len(matches) == 1, service["metadata"]["name"]
        ports = {
            p["name"]
            for c in matches[0]["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    for url in [CONFIG["ledger"]["url"]] + [p["api_base"] for p in CONFIG["profiles"].values()]:
        parts = urlsplit(url)
        assert parts.port in [p["port"] for p in services[str(parts.hostname)]["spec"]["ports"]], (
            url
        )


def test_gateway_deployment_runs_the_image_with_config_keys_and_probes() -> None:
    deployment = _one("Deployment", "thinkgate")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == IMAGE == COMPOSE["services"]["replay"]["image"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert [p["containerPort"] for p in container["ports"]] == [CONFIG["port"]]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e["value"] for e in container["env"]}
    config_path = PurePosixPath(env["THINKGATE_CONFIG"])
    assert container["command"] == ["thinkgate", "serve", "--config", str(config_path)]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    config_volume = volumes[mounts[str(config_path.parent)]]
    configmap = _one("ConfigMap", config_volume["configMap"]["name"])
    assert config_path.name in configmap["data"]
    # Writable caches under a read-only root: the image's cache dir is an emptyDir.
    dockerfile_env = " ".join(a for i, a in _dockerfile() if i == "ENV")
    cache = re.search(r"THINKGATE_CACHE_DIR=(\S+)", dockerfile_env)
    assert cache is not None and "emptyDir" in volumes[mounts[cache.group(1)]]
    secret_names = {s["secretRef"]["name"] for s in container["envFrom"]}
    assert secret_names == {"thinkgate-keys"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(CONFIG["port"])
    assert shlex.join(container["command"]).startswith("thinkgate serve")


def test_package_data_ships_every_data_file() -> None:
    """`pip install .` (the image's install) must carry every non-Python file the packages read."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    patterns = config["package-data"]
    shipped_dirs = {"difficulty", "policies", "router"}
    assert set(patterns) <= shipped_dirs
    data = [
        path
        for top in shipped_dirs
        for path in (ROOT / top).rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    assert any(p.name == "exit_rule.json" for p in data)  # the shipped exit rule is data
    for path in data:
        top, *rest = path.relative_to(ROOT).parts
        inner = PurePosixPath(*rest)
        assert any(inner.match(glob) for glob in patterns.get(top, ())), f"not shipped: {path}"
