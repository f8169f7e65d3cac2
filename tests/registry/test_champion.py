"""Champion against challenger at a promotion (`registry.champion`, `lifecycle.gate`): planted
models with planted test tables, a promoted holder, and challengers better, equal and worse;
the comparison stored with the decision; failing closed when there is nothing to compare."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ifns_train.config import CONF_DIR
from ifns_train.core import faults
from ifns_train.core.errors import ConfigError, RegistryError
from ifns_train.registry import champion, lifecycle, model_registry
from ifns_train.registry.database import Registry
from ifns_train.registry.records import ModelRecord
from ifns_train.sxe.mirror.site import build
from tests.registry.factory import add_model, planted_test_table, set_status

ROLE = "primary_directional"


def _holder(reg: Registry, edge: float = 0.3) -> ModelRecord:
    holder = add_model(reg, "holder", n=1, predictions=planted_test_table(edge))
    set_status(reg, holder.model_id, "canary")
    set_status(reg, holder.model_id, "promoted")
    return holder


def _challenger(reg: Registry, table: Any, n: int = 2) -> ModelRecord:
    model = add_model(reg, "challenger", n=n, predictions=table)
    set_status(reg, model.model_id, "canary")
    return model


def _rule(monkeypatch: pytest.MonkeyPatch, root: Path, rule: str, margin: float = 0.005
          ) -> Path:
    """The user's conf/promotion/dir_core.yaml (searched before the package's) with `rule`."""
    monkeypatch.setenv("IFNS_ROOT", str(root))
    path = root / "conf" / "promotion" / "dir_core.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (CONF_DIR / "promotion" / "dir_core.yaml").read_text()
    head = text[:text.index("challenger:")]
    path.write_text(f"{head}challenger:\n  rule: {rule}\n  margin: {margin}\n")
    return path


def test_a_better_challenger_is_promoted_and_the_comparison_kept(reg: Registry) -> None:
    holder = _holder(reg, edge=0.1)
    better = _challenger(reg, planted_test_table(0.3, noise=2))
    result = lifecycle.decide(reg, better.model_id, "promoted", "dra", "beats the holder")
    assert [c["to"] for c in result["changes"]] == ["promoted", "retired"]
    stored = model_registry.get(reg, better.model_id).status_history[-1].figures
    assert stored is not None and stored == result["figures"]
    comparison = stored["challenger"]
    assert comparison["holder"] == holder.model_id and comparison["holders"] == [
        holder.model_id]
    assert (comparison["role"], comparison["rule"], comparison["margin"]) == (
        ROLE, "non_inferior", 0.005)
    assert comparison["source"] == str(CONF_DIR / "promotion" / "dir_core.yaml")
    assert (comparison["rows"], comparison["dates"], comparison["metric"]) == (1440, 120, "auc")
    assert comparison["difference"] == pytest.approx(
        comparison["challenger"]["figure"] - comparison["champion"]["figure"])
    assert comparison["interval"]["low"] > 0 and comparison["interval"]["evidence"] == "better"
    assert comparison["passed"] is True and "above the non_inferior margin -0.0050" in \
        comparison["detail"]


def test_the_mirror_shows_the_comparison_a_promotion_was_decided_on(
        reg: Registry, tmp_path: Path) -> None:
    holder = _holder(reg, edge=0.1)
    better = _challenger(reg, planted_test_table(0.3, noise=2))
    lifecycle.decide(reg, better.model_id, "promoted", "dra", "beats the holder")
    build(reg, tmp_path / "site")
    page = (tmp_path / "site" / "models" / f"{better.model_id}.html").read_text()
    assert f"challenger against holder {holder.model_id}: auc +" in page
    assert "non_inferior margin 0.005: passed" in page


def test_an_equal_challenger_passes_non_inferior_and_fails_superior(
        reg: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _holder(reg)
    equal = _challenger(reg, planted_test_table(0.3))  # the holder's very scores
    _rule(monkeypatch, tmp_path, "superior")
    with pytest.raises(RegistryError) as refused:
        lifecycle.decide(reg, equal.model_id, "promoted", "dra", "as good")
    assert ("challenger: auc improvement over holder" in str(refused.value)
            and "+0.0000, 95% interval +0.0000 to +0.0000, below the superior margin "
                "+0.0050" in str(refused.value))
    assert model_registry.get(reg, equal.model_id).status == "canary"
    rule = _rule(monkeypatch, tmp_path, "non_inferior")
    done = lifecycle.decide(reg, equal.model_id, "promoted", "dra", "as good")
    assert done["figures"]["challenger"]["passed"] is True
    assert done["figures"]["challenger"]["source"] == str(rule)


def test_a_worse_challenger_is_refused_with_the_reason(reg: Registry) -> None:
    holder = _holder(reg, edge=0.3)
    worse = _challenger(reg, planted_test_table(0.0, noise=2))
    with pytest.raises(RegistryError) as refused:
        lifecycle.decide(reg, worse.model_id, "promoted", "dra", "try")
    message = str(refused.value)
    assert f"challenger: auc improvement over holder {holder.model_id} -0." in message
    assert "below the non_inferior margin -0.0050" in message
    assert model_registry.get(reg, worse.model_id).status == "canary"
    assert model_registry.get(reg, holder.model_id).status == "promoted"


def test_nothing_to_compare_fails_closed(reg: Registry) -> None:
    holder = _holder(reg)
    elsewhere = _challenger(reg, planted_test_table(0.3, start="2024-01-02"))
    with pytest.raises(RegistryError, match=f"challenger: cannot compare with holder "
                                            f"{holder.model_id}: .* share no scored rows"):
        lifecycle.decide(reg, elsewhere.model_id, "promoted", "dra", "try")
    # A holder recorded without its prediction tables cannot be compared either.
    bare_holder_reg_model = add_model(reg, "bare", n=3)
    set_status(reg, holder.model_id, "retired")
    set_status(reg, bare_holder_reg_model.model_id, "canary")
    set_status(reg, bare_holder_reg_model.model_id, "promoted")
    with pytest.raises(RegistryError, match="names no test prediction table"):
        lifecycle.decide(reg, elsewhere.model_id, "promoted", "dra", "try")
    assert model_registry.get(reg, elsewhere.model_id).status == "canary"


def test_a_first_holder_needs_no_comparison(reg: Registry) -> None:
    first = _challenger(reg, None, n=1)  # no prediction table: nothing is compared
    done = lifecycle.decide(reg, first.model_id, "promoted", "dra", "first of its role")
    assert "challenger" not in done["figures"]


def test_a_holder_promoted_meanwhile_is_no_silent_replacement(reg: Registry) -> None:
    # Checked with no holder; before the write, another model takes the role. The decision
    # was made without comparing against it: refused, to be decided again.
    late = add_model(reg, "late", n=1, predictions=planted_test_table(0.3))
    set_status(reg, late.model_id, "canary")
    model = _challenger(reg, planted_test_table(0.3, noise=2))
    faults.HOOKS["decide-checked"] = lambda: set_status(reg, late.model_id, "promoted")
    try:
        with pytest.raises(RegistryError, match=f"the {ROLE} holders changed meanwhile "
                                                f"\\(compared with none when the decision "
                                                f"was checked, now {late.model_id}\\)"):
            lifecycle.decide(reg, model.model_id, "promoted", "dra", "race")
    finally:
        faults.HOOKS.clear()
    assert model_registry.get(reg, model.model_id).status == "canary"
    assert model_registry.get(reg, late.model_id).status == "promoted"


def test_a_bad_rule_file_is_one_line_naming_it(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = _rule(monkeypatch, tmp_path, "better_than_ever")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: .*better_than_ever"):
        champion.challenger_rule("dir_core")
    path = _rule(monkeypatch, tmp_path, "superior", margin=-0.1)
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: challenger.margin must be "
                                            r">= 0, got -0\.1$"):
        champion.challenger_rule("dir_core")
    path.write_text("name: dir_core\n")
    with pytest.raises(ConfigError, match="no challenger section"):
        champion.challenger_rule("dir_core")
    with pytest.raises(ConfigError, match=r"no promotion rules nowhere\.yaml in"):
        champion.challenger_rule("nowhere")
    with pytest.raises(ConfigError, match="no promotion rules name recorded"):
        champion.challenger_rule("../etc/passwd")
