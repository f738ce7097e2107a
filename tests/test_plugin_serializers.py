"""Serializers from the kitaru_serializers hook are used before pickle."""

from __future__ import annotations

import fractions

from kitaru.plugins import hookimpl
from kitaru.plugins.manager import plugin_manager
from kitaru.runtime import serialization
from kitaru.runtime.serialization import Serializer, deserialize, serialize


class FractionPlugin:
    @hookimpl
    def kitaru_serializers(self) -> list[Serializer]:
        return [Serializer("fraction", lambda v: isinstance(v, fractions.Fraction),
                           lambda v: str(v).encode(),
                           lambda data, _t: fractions.Fraction(data.decode()))]  # fmt: skip


def test_plugin_serializer_is_used_and_reads_back(monkeypatch) -> None:
    monkeypatch.setattr(serialization, "_extra", [])
    monkeypatch.setattr(serialization, "_plugins_loaded", [False])
    pm = plugin_manager()
    plugin = FractionPlugin()
    pm.pm.register(plugin, name="fraction-test")
    pm.infos["fraction-test"] = type(pm.infos["kitaru"])("fraction-test", "test", None)
    try:
        s = serialize(fractions.Fraction(3, 4))
        assert s.serializer == "fraction" and s.data == b"3/4"
        assert deserialize(s.serializer, s.type_name, s.data) == fractions.Fraction(3, 4)
    finally:
        pm.pm.unregister(plugin)
        del pm.infos["fraction-test"]
