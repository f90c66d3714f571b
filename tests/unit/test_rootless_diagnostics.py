"""What start-up blames when a rootless sandbox cannot be built: the system settings known to
forbid user namespaces (the real refusal is tested end to end in tests/security)."""

from __future__ import annotations

import errno

import pytest

from lamina.sandbox import userns
from lamina.sandbox.userns_probe import causes
from lamina.settings import Settings


@pytest.mark.parametrize(
    ("sysctls", "named"),
    [
        ({"kernel.unprivileged_userns_clone": "0"}, "kernel.unprivileged_userns_clone is 0"),
        ({"user.max_user_namespaces": "0"}, "user.max_user_namespaces is 0"),
        ({"kernel.apparmor_restrict_unprivileged_userns": "1"}, "AppArmor"),
    ],
)
def test_a_forbidding_setting_is_named(sysctls, named):
    reasons = causes("unshare", errno.EPERM, sysctls)

    assert any(named in reason for reason in reasons), reasons


def test_a_reached_namespace_limit_is_named():
    reasons = causes("unshare", errno.ENOSPC, {"user.max_user_namespaces": "7"})

    assert reasons == ["the limit of user namespaces (user.max_user_namespaces = 7) is reached"]


@pytest.mark.parametrize(
    ("release", "counted"),
    [("6.8.0-45-generic", True), ("5.14.0", True), ("5.10.0-28-amd64", False), ("4.19", False)],
)
def test_processes_are_counted_per_user_namespace_from_linux_5_14(release, counted):
    assert userns.nproc_counts_per_namespace(release) is counted


@pytest.mark.parametrize("parent", ["lamina", "/a/../b"])
def test_a_cgroup_parent_must_be_an_absolute_cgroup_path(parent):
    with pytest.raises(ValueError, match="cgroup parent"):
        Settings.load({"cgroup_parent": parent}, environ={})


def test_cgroups_mode_and_parent_come_from_flags_or_variables():
    environ = {"LAMINA_CGROUPS": "optional", "LAMINA_CGROUP_PARENT": "/lamina-alice"}

    settings = Settings.load(environ=environ)

    assert (settings.cgroups, settings.cgroup_parent) == ("optional", "/lamina-alice")
