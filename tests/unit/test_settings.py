"""Settings: flags win over LAMINA_* variables, which win over defaults; bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.settings import Settings, default_memory_budget_mb


def test_defaults_follow_the_shared_conventions():
    settings = Settings.load(environ={})

    assert (settings.host, settings.port) == ("127.0.0.1", 3001)
    assert settings.data_dir == Path.home() / ".lamina"
    assert (settings.region, settings.account_id) == ("us-east-1", "000000000000")


def test_flags_win_over_environment_which_wins_over_defaults():
    environ = {"LAMINA_PORT": "4000", "LAMINA_REGION": "eu-west-1", "LAMINA_HOME": "/srv/l"}

    settings = Settings.load({"port": 5000, "region": None}, environ)

    assert settings.port == 5000
    assert settings.region == "eu-west-1"
    assert settings.data_dir == Path("/srv/l")


def test_runtime_overrides_are_read_from_variables():
    settings = Settings.load(environ={"LAMINA_RUNTIME_PYTHON3_12": "/opt/py/bin/python3.12"})

    assert settings.runtime_overrides == {"python3.12": "/opt/py/bin/python3.12"}


@pytest.mark.parametrize(
    "flags",
    [
        {"port": 0},
        {"account_id": "123"},
        {"sandbox": "docker"},
        {"idle_timeout_s": 0},
        {"memory_budget_mb": 64},
    ],
)
def test_invalid_settings_are_refused(flags):
    with pytest.raises(ValueError):
        Settings.load(flags, environ={})


def test_the_memory_budget_comes_from_the_flag_or_the_variable():
    assert (
        Settings.load({"memory_budget_mb": 512}, {"LAMINA_MEMORY_BUDGET": "1024"}).memory_budget_mb
        == 512
    )
    assert Settings.load(environ={"LAMINA_MEMORY_BUDGET": "1024"}).memory_budget_mb == 1024
    assert Settings.load(environ={}).memory_budget_mb is None


def test_the_default_memory_budget_is_a_multiple_of_the_host_memory(tmp_path: Path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree:         1000 kB\n")

    assert default_memory_budget_mb(meminfo) == 16384000 // 1024 * 8
    assert default_memory_budget_mb(tmp_path / "missing") == 32768


def test_the_network_is_egress_where_the_host_allows_it_by_default():
    assert Settings.load(environ={}).network == "auto"


@pytest.mark.parametrize("subnet", ["10.300.0.0/16", "8.8.0.0/16", "10.0.0.0/30", "10.1.2.3/16"])
def test_an_egress_subnet_must_be_a_private_ipv4_network(subnet):
    with pytest.raises(ValueError, match="egress subnet"):
        Settings.load({"egress_subnet": subnet}, {})


def test_the_egress_subnet_is_read_from_its_variable():
    settings = Settings.load(environ={"LAMINA_EGRESS_SUBNET": "172.20.0.0/16"})

    assert settings.egress_subnet == "172.20.0.0/16"
