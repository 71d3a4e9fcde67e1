"""docs/grafana-swapadmin.json is a dashboard Grafana imports (its datasource chosen by a
variable), and every series its queries select is in a real /metrics answer: each metric
name, with the labels the query matches on."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from tests.fixtures.host import needs_root
from tests.fixtures.sampled import Sampled, sampled_host  # noqa: F401

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-swapadmin.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

#: PromQL words that are not metric names (functions are found by their "(").
GROUPING = ("by", "without", "on", "ignoring", "group_left", "group_right")
KEYWORDS = {*GROUPING, "bool", "and", "or", "unless", "offset"}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def queries(board: dict[str, Any]) -> Iterator[str]:
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(metric, label): only its first argument is a selector.
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["definition"])
            assert inner, variable["definition"]
            yield inner.group(1)


Matchers = dict[str, tuple[str, str]]


def selectors(expr: str) -> list[tuple[str, Matchers]]:
    """(metric name, {label: (operator, value)}) of every series selector in ``expr``."""
    text = re.sub(r"\[[^\]]*\]", "", expr)  # range durations, [$__rate_interval]
    # Label lists: sum by (host) (...), a / on (host) b.
    text = re.sub(rf"\b({'|'.join(GROUPING)})\s*\([^)]*\)", " ", text)
    found = []
    for m in SELECTOR.finditer(text):
        name, braces = m.group(1), m.group(2) or ""
        rest = text[m.end() :].lstrip()
        if name in KEYWORDS | AGGREGATIONS or (rest.startswith("(") and not braces):
            continue  # a function or a keyword
        if name.startswith("__") or text[m.start() - 1 : m.start()] == "$":
            continue  # a Grafana variable
        found.append((name, {k: (op, v) for k, op, v in MATCHER.findall(braces)}))
    return found


def test_it_is_a_dashboard_grafana_imports_with_a_datasource_variable() -> None:
    board = dashboard()
    assert board["uid"] == "swapadmin-fleet" and board["title"]
    assert isinstance(board["schemaVersion"], int) and board["id"] is None
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["host"]["datasource"] == DATASOURCE
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) >= 5
    for panel in board["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)) >= 1, panel["title"]
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"]), panel["title"]
    titles = " ".join(p["title"].lower() for p in board["panels"])
    for subject in ("swap used", "memory available", "pressure", "zram", "online"):
        assert subject in titles


def test_the_selector_reader_finds_names_and_matchers() -> None:
    # The reader the next test trusts, on the shapes the dashboard uses.
    expr = (
        'rate(swapadmin_a_total{host=~"$host"}[$__rate_interval]) / '
        'sum by (host) (swapadmin_b{window="60s"}) - node_x'
    )
    assert selectors(expr) == [
        ("swapadmin_a_total", {"host": ("=~", "$host")}),
        ("swapadmin_b", {"window": ("=", "60s")}),
        ("node_x", {}),
    ]


@needs_root
def test_every_series_it_queries_is_in_a_real_scrape(
    sampled_host: Sampled,  # noqa: F811
    victor: User,
    as_user: Callable[..., APIClient],
) -> None:
    r = as_user(victor).get("/metrics")
    assert r.status_code == 200
    series: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for s in family.samples:
            series.setdefault(s.name, []).append(s.labels)

    board = dashboard()
    asked = [sel for expr in queries(board) for sel in selectors(expr)]
    assert len({name for name, _ in asked}) >= 12
    for name, matchers in asked:
        assert name in series, f"{name} is not in /metrics"

        def matches(labels: dict[str, str], matchers: Matchers = matchers) -> bool:
            for label, (op, value) in matchers.items():
                pattern = ".*" if value == "$host" else value
                have = labels.get(label, "")
                hit = re.fullmatch(pattern, have) if "~" in op else have == pattern
                if bool(hit) == op.startswith("!"):
                    return False
            return True

        assert any(matches(labels) for labels in series[name]), (name, matchers)
    # The host variable lists this host: it is a label of the metric it reads.
    assert {"host": "testhost"} in series["swapadmin_host_online"]


@pytest.mark.parametrize("word", sorted(KEYWORDS))
def test_keywords_are_not_taken_for_metrics(word: str) -> None:
    assert selectors(f"sum {word} (host) (swapadmin_x)")[-1][0] == "swapadmin_x"
    assert word not in {name for name, _ in selectors(f"a {word} b")}
