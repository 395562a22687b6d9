"""The markdown plan fits a pull-request comment: summary first, warnings and held
resources always visible, changes folded, and a plan too large summarised, never cut."""

from __future__ import annotations

from markdown_it import MarkdownIt

from bench import catalog
from reconciler import render
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.values import build_values
from reconciler.planning.plan import Plan


def large_plan() -> Plan:
    doc = catalog.generate_values(images=300, versions=5, runtimes=1500)
    composition = doc["config"]["deployer"]["composition"]
    image = next(iter(composition["runtimeImages"].values()))
    image["state"] = "DEPRECATED"  # its runtimes warn: a warning the comment must keep
    return engine.plan(MemoryBackend(), engine.Inputs(values=build_values([("v.yaml", doc)])))


def test_a_plan_too_large_for_a_comment_is_summarised_with_warnings_visible() -> None:
    plan = large_plan()
    whole = render.plan_markdown(plan, limit=10**9)
    assert len(whole) > render.COMMENT_LIMIT, "the generated plan must be large"
    comment = render.plan_markdown(plan)
    assert len(comment) <= render.COMMENT_LIMIT
    assert comment.startswith("### runtime-reconciler plan\n\n**Plan: ")
    assert "too large for a comment" in comment
    total = sum(int(line.rsplit("|", 2)[1]) for line in comment.splitlines() if "| `+` |" in line)
    assert total == plan.summary.add
    assert plan.warnings, "the generated plan must warn"
    for warning in plan.warnings:
        assert warning in comment
    tokens = MarkdownIt("commonmark").enable("table").parse(comment)
    assert any(t.type == "table_open" for t in tokens), "the summary is a markdown table"


def test_a_plan_that_fits_lists_every_change_folded_after_the_summary() -> None:
    doc = catalog.generate_values(images=2, versions=2, runtimes=3)
    plan = engine.plan(MemoryBackend(), engine.Inputs(values=build_values([("v.yaml", doc)])))
    comment = render.plan_markdown(plan)
    lines = comment.splitlines()
    assert lines[2].startswith("**Plan: ")
    assert "<details>" in lines and "</details>" in lines
    assert sum(line.startswith("| `+` |") for line in lines) == plan.summary.add
    tokens = MarkdownIt("commonmark").enable("table").parse(comment)
    assert any(t.type == "table_open" for t in tokens), "the folded table is still a table"
