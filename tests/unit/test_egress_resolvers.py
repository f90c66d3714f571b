"""What environments of the egress network get as their resolver configuration."""

from __future__ import annotations

from lamina.sandbox.resolvers import read_resolvers


def test_the_hosts_resolvers_are_kept_with_search_and_options(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nnameserver 10.0.0.53\nsearch corp\noptions ndots:2\n")

    resolvers = read_resolvers(conf, tmp_path / "none")

    assert resolvers.content == "nameserver 10.0.0.53\nsearch corp\noptions ndots:2\n"
    assert resolvers.note is None


def test_a_loopback_resolver_is_replaced_by_systemd_resolveds_upstream_servers(tmp_path):
    conf, upstream = tmp_path / "resolv.conf", tmp_path / "upstream.conf"
    conf.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\n")
    upstream.write_text("nameserver 192.168.1.1\nnameserver 127.0.0.1\n")

    resolvers = read_resolvers(conf, upstream)

    assert resolvers.content == "nameserver 192.168.1.1\n"
    assert resolvers.note is not None and "192.168.1.1" in resolvers.note


def test_only_a_loopback_resolver_leaves_environments_without_dns_and_says_so(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.53\nnameserver ::1\n")

    resolvers = read_resolvers(conf, tmp_path / "missing")

    assert "nameserver" not in resolvers.content
    assert resolvers.note is not None and "no DNS resolver" in resolvers.note


def test_ipv6_resolvers_are_dropped_as_environments_have_no_ipv6(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver fd00::53\nnameserver 10.1.1.1\n")

    assert read_resolvers(conf, tmp_path / "missing").content == "nameserver 10.1.1.1\n"
