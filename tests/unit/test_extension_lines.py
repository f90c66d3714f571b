"""What the host takes from an environment's READY frame about its extensions."""

from __future__ import annotations

from lamina.pool.extensions import ExtensionSet, parse


def test_extension_lines_are_written_as_aws_writes_them():
    described = parse(
        [
            {"name": "probe", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]},
            {"name": "broken", "state": "InitError", "events": [], "error_type": "Ext.Bad"},
        ]
    )

    assert ExtensionSet(described).lines() == [
        "EXTENSION\tName: probe\tState: Ready\tEvents: [INVOKE,SHUTDOWN]",
        "EXTENSION\tName: broken\tState: InitError\tEvents: []\tError Type: Ext.Bad",
    ]


def test_subscriptions_decide_the_post_runtime_phase():
    only_invoke = ExtensionSet(parse([{"name": "a", "state": "Ready", "events": ["INVOKE"]}]))
    none = ExtensionSet(parse([{"name": "b", "state": "Ready", "events": []}]))

    assert only_invoke.invoke
    assert not none.invoke
    assert only_invoke.shutdown and none.shutdown  # the runtime gets SIGTERM either way


def test_forged_descriptions_are_reduced_to_what_is_well_formed():
    described = parse([1, "x", {"name": "n" * 1000, "events": ["INVOKE", 7, "BOGUS"]}] * 20)

    assert len(described) <= 10
    assert described[0] == {"name": "n" * 128, "state": "", "events": ["INVOKE"], "error_type": ""}
    assert parse({"not": "a list"}) == []
