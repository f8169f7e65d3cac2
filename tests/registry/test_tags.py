"""An experiment's tags: stored with its entry and as rows of `experiment_tags` (schema
version 2), searchable, and a version-1 database migrated to carry them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import create_engine, insert, select

from ifns_train.registry import ids, log
from ifns_train.registry.database import Registry, resolve_url
from ifns_train.registry.publish import experiment_entry
from ifns_train.registry.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    experiment_tags,
    experiments,
    schema_info,
)
from tests.registry.factory import add_model, new_run


def _tag_rows(reg: Registry) -> set[tuple[str, str]]:
    with reg.read() as conn:
        return {(r.experiment_id, r.tag) for r in conn.execute(select(experiment_tags))}


def test_tags_are_stored_replaced_and_searchable(reg: Registry) -> None:
    run = new_run(reg, "tagged", n=1)
    run.config["tags"] = ["sweep:lr", "v2", "sweep:lr"]
    log.begin_run(reg, experiment_entry(run, "running", None, {}))
    exp = run.experiment_id
    assert _tag_rows(reg) == {(exp, "sweep:lr"), (exp, "v2")}
    assert log.get(reg, exp).tags == ["sweep:lr", "v2", "sweep:lr"]
    untagged = add_model(reg, "plain", n=2).experiment_id

    assert [e.experiment_id for e in log.search(reg, tag="v2")] == [exp]
    assert [e.experiment_id for e in log.search(reg, tag="sweep:lr", status="running")] == [exp]
    assert log.search(reg, tag="sweep") == []  # a tag matches whole, not as a prefix
    assert {e.experiment_id for e in log.search(reg)} == {exp, untagged}

    run.config["tags"] = ["final"]  # a later write replaces the rows
    log.finish(reg, experiment_entry(run, "failed", ids.iso(ids.utc_now()), {}, error="x"),
               "run failed")
    assert _tag_rows(reg) == {(exp, "final")}
    assert log.search(reg, tag="v2") == []
    assert [e.tags for e in log.search(reg, tag="final")] == [["final"]]


def test_a_version_1_database_is_migrated_on_open(registry: Path,
                                                  backend_url: str | None) -> None:
    engine = create_engine(resolve_url(registry, backend_url))
    run = new_run(SimpleNamespace(dir=registry), "old", n=1)  # type: ignore[arg-type]
    entry = experiment_entry(run, "running", None, {}).model_copy(
        update={"tags": ["legacy", "v1"]})
    with engine.begin() as conn:
        MIGRATIONS[1](conn)
        conn.execute(insert(schema_info).values(version=1, applied_ts="2024-01-01T00:00:00Z"))
        conn.execute(insert(experiments).values(experiment_id=entry.experiment_id,
                                                **log._columns(entry)))
        assert not conn.dialect.has_table(conn, "experiment_tags")
    engine.dispose()

    reg = Registry(registry, backend_url)
    try:
        with reg.read() as conn:
            versions = [r.version for r in conn.execute(select(schema_info.c.version))]
        assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1)) == [1, 2, 3]
        assert _tag_rows(reg) == {(entry.experiment_id, "legacy"), (entry.experiment_id, "v1")}
        assert [e.experiment_id for e in log.search(reg, tag="legacy")] == [entry.experiment_id]
        with reg.read() as conn:
            record = json.loads(conn.execute(select(experiments.c.record)).scalar_one())
        assert record["tags"] == ["legacy", "v1"]
    finally:
        reg.close()
