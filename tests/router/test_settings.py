"""Settings: one YAML file, validated at start-up with the offending key named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from router.cli import main
from router.errors import ConfigError
from router.settings import load_settings, settings_from_mapping

CONFIGS = Path(__file__).resolve().parents[2] / "router" / "configs"


def _config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "profiles": {
            "direct": {"model": "openai/Qwen2.5-32B", "predictor": "Qwen2.5-32B"},
            "think": {"model": "openai/QwQ-32B", "predictor": "QwQ-32B", "max_tokens": 4096},
        },
        "reference_profile": "think",
    }
    config.update(overrides)
    return config


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_load(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "THINKGATE_API_KEY", "THINKGATE_ADMIN_KEY"):
        monkeypatch.setenv(name, "sk-test")
    settings = load_settings(path)
    assert settings.profiles
    assert settings.reference_profile in settings.profiles


def test_reasoning_controls_reach_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("THINKGATE_API_KEY", "k1")
    monkeypatch.setenv("THINKGATE_ADMIN_KEY", "adm")
    settings = load_settings(CONFIGS / "openai-reasoning.yaml")
    assert settings.profiles["think-low"].params == {"reasoning_effort": "low"}
    key = settings.profiles["direct"].api_key
    assert key is not None and key.get_secret_value() == "sk-openai"
    assert [k.get_secret_value() for k in settings.auth.api_keys] == ["k1"]
    qwen3 = load_settings(CONFIGS / "vllm-qwen3.yaml")
    qwen = qwen3.profiles["direct"]
    assert qwen.params["extra_body"]["chat_template_kwargs"] == {"enable_thinking": False}
    replicas = [d.api_base for d in qwen3.profiles["think"].deployments]
    assert replicas == ["http://vllm:8000/v1", "http://vllm-2:8000/v1"]
    assert qwen3.load_balancing.cooldown_s == 30


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (
            {"profiles": {"a": {"model": "x", "predictor": "p", "max_tokens": "lots"}}},
            "profiles.a.max_tokens",
        ),
        (
            {"profiles": {"a": {"model": "x", "predictor": "p", "temprature": 1}}},
            "profiles.a.temprature",
        ),
        ({"reference_profile": "nope"}, "reference_profile"),
        ({"policy": {"kind": "fixed", "profile": "ghost"}}, "policy.profile"),
        ({"policy": {"kind": "greedy"}}, "policy.kind"),
        # A search profile stops by its own `search.threshold`; the policy has none.
        ({"policy": {"kind": "utility", "threshold": 0.9}}, "policy.threshold"),
        ({"limits": {"max_body_bytes": -1}}, "limits.max_body_bytes"),
        ({"ledgr": {"url": "sqlite:///x.db"}}, "ledgr"),
        (
            {"profiles": {"a": {"model": "x", "predictor": "p", "fallbacks": ["b"]}}},
            "profiles.a.fallbacks.0",
        ),
        ({"profiles": {}}, "profiles"),
        (
            {"profiles": {"a": {"model": "x", "predictor": "p", "search": {"verifier": "a"}}}},
            "profiles.a.search.verifier",
        ),
        (
            {
                "profiles": {
                    "a": {"model": "x", "predictor": "p", "search": {"aggregate": "best_of_n"}}
                }
            },
            "profiles.a.search.aggregate",
        ),
        (
            {"profiles": {"a": {"model": "x", "predictor": "p", "verifier": {"kind": "oracle"}}}},
            "profiles.a.verifier.kind",
        ),
        # Profile descriptions: a known effort and strength, both or neither.
        (
            {"profiles": {"a": {"model": "x", "effort": "deep", "strength": "strong"}}},
            "profiles.a.effort",
        ),
        (
            {"profiles": {"a": {"model": "x", "effort": "think", "strength": "huge"}}},
            "profiles.a.strength",
        ),
        ({"profiles": {"a": {"model": "x", "effort": "think"}}}, "profiles.a"),
        ({"profiles": {"a": {"model": "x"}}}, "profiles"),
        ({"novelty": {"action": "profile", "profile": "ghost"}}, "novelty.profile"),
        ({"novelty": {"action": "panic"}}, "novelty.action"),
    ],
)
def test_invalid_config_names_the_key(overrides: dict[str, Any], key: str) -> None:
    config = _config(**overrides)
    if "profiles" in overrides and "reference_profile" not in overrides:
        config.pop("reference_profile")
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(config)
    assert info.value.key == key
    assert f"'{key}'" in info.value.message


def test_missing_secret_env_var_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TG_TEST_UNSET_KEY", raising=False)
    config = _config(auth={"api_key_envs": ["TG_TEST_UNSET_KEY"]})
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(config)
    assert info.value.key == "auth.api_key_envs.0"
    assert "TG_TEST_UNSET_KEY" in info.value.message


def test_environment_overrides_the_file_which_overrides_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(_config(port=7000, host="0.0.0.0", ledger={"store_text": True})))
    monkeypatch.setenv("THINKGATE_CONFIG", str(path))
    assert load_settings().port == 7000  # the file over the default (8000)
    monkeypatch.setenv("THINKGATE_PORT", "9123")
    monkeypatch.setenv("THINKGATE_LEDGER__URL", "redis://127.0.0.1:6379/3")
    settings = load_settings()
    assert settings.port == 9123  # the environment over the file
    assert settings.ledger.url == "redis://127.0.0.1:6379/3"  # a nested key, by itself...
    assert settings.ledger.store_text is True  # ...leaves the file's other ledger keys
    assert settings.host == "0.0.0.0" and settings.profiles["think"].max_tokens == 4096
    assert settings.policy.kind == "utility"  # neither sets it: the default


def test_a_bad_environment_value_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(_config()))
    monkeypatch.setenv("THINKGATE_PORT", "eighty")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == "port"


def test_no_config_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THINKGATE_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="--config"):
        load_settings()


def test_serve_refuses_a_bad_config_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_config(reference_profile="ghost")))
    assert main(["serve", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'reference_profile'" in err
    path.write_text("profiles: [unclosed")
    assert main(["serve", "--config", str(path), "--check"]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_serve_check_loads_the_model_and_checks_predictors_and_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.yaml"
    config = _config()
    config["ledger"] = {"url": f"sqlite:///{tmp_path / 'ledger.db'}"}
    path.write_text(yaml.safe_dump(config))
    assert main(["serve", "--config", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "predictor heads for direct, think; both score prompts" in out
    assert not (tmp_path / "ledger.db").exists()  # checked, not opened
    for key, change, message in (
        (
            "profiles.direct.predictor",
            {"profiles": {**config["profiles"], "direct": {"model": "x", "predictor": "GPT-9"}}},
            "'GPT-9'",
        ),
        ("model_dir", {"model_dir": str(tmp_path / "nowhere")}, "no such directory"),
        (
            "general_model_dir",
            {"general_model_dir": str(tmp_path / "nowhere")},
            "no such directory",
        ),
        ("ledger.url", {"ledger": {"url": "sqlite:////nowhere/at/all/l.db"}}, "/nowhere/at/all"),
    ):
        path.write_text(yaml.safe_dump({**config, **change}))
        assert main(["serve", "--config", str(path), "--check"]) == 2, key
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err and key in err, err


def test_serve_workers_need_a_shared_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(_config()))
    capsys.readouterr()
    assert main(["serve", "--config", str(path), "--workers", "2", "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "redis://" in err and "--workers" in err
    assert main(["serve", "--config", str(path), "--workers", "0", "--check"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_bad_convergence_settings_fail_at_start_up() -> None:
    from router.app import create_app

    config = _config()
    config["profiles"]["think"]["convergence"] = {"enabled": True, "k": 0}
    with pytest.raises(ConfigError) as info:
        create_app(settings_from_mapping(config))
    assert info.value.key == "profiles.think.convergence"
    config["profiles"]["think"]["convergence"] = {"enabled": True, "patience": 3}
    with pytest.raises(ConfigError, match="patience"):
        create_app(settings_from_mapping(config))


def test_probe_mode_settings() -> None:
    config = _config()
    think = config["profiles"]["think"]
    think["api_base"] = "http://127.0.0.1:8080/v1"
    think["probe"] = {"k": 2, "interval_tokens": 32}
    profile = settings_from_mapping(config).profiles["think"]
    assert profile.probes and profile.watches_convergence
    assert profile.probe is not None and profile.probe.k == 2 and profile.probe.max_tokens == 16
    think["probe"]["enabled"] = False
    assert not settings_from_mapping(config).profiles["think"].watches_convergence


@pytest.mark.parametrize(
    ("think", "message"),
    [
        ({"probe": {}}, "needs an api_base"),
        ({"api_base": "http://x/v1", "probe": {}, "convergence": {"k": 2}}, "not both"),
        ({"api_base": "http://x/v1", "probe": {"template": "llama3"}}, "probe.template"),
        ({"api_base": "http://x/v1", "probe": {"k": 0}}, "probe.k"),
    ],
)
def test_bad_probe_settings_name_the_problem(think: dict[str, Any], message: str) -> None:
    config = _config()
    config["profiles"]["think"].update(think)
    with pytest.raises(ConfigError) as err:
        settings_from_mapping(config)
    assert message in str(err.value)


def test_the_readme_exploration_block_loads_and_its_judge_must_be_a_judge() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\nexploration:", 1)[1].split("```", 1)[0]
    data = yaml.safe_load("exploration:" + block)
    config = _config(**data)
    config["profiles"]["grader"] = {"model": "openai/judge", "verifier": {"kind": "judge"}}
    settings = settings_from_mapping(config)
    assert settings.exploration.share == 0.02 and settings.exploration.judge == "grader"
    assert settings_from_mapping(_config()).exploration.share == 0.02  # the default
    config["profiles"]["grader"]["verifier"]["kind"] = "pooling"
    with pytest.raises(ConfigError, match="exploration.judge.*not a verifier profile of kind"):
        settings_from_mapping(config)
