"""Ids: matched whole (no trailing newline), and a huge bad id is quoted short."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from ifns_train.core.errors import RegistryError
from ifns_train.registry import ids


@pytest.mark.parametrize("bad", ["MDL_x\n", "MDL_x\r\n", "\nMDL_x", "MDL_x\nMDL_y"])
def test_an_id_with_a_newline_is_refused(bad: str) -> None:
    with pytest.raises(RegistryError, match="invalid model_id") as info:
        ids.check_id(bad, "model_id")
    message = str(info.value)
    assert repr(bad) in message and "\n" not in message


def test_a_huge_id_is_refused_with_a_short_line() -> None:
    bad = "M" * 5000
    with pytest.raises(RegistryError) as info:
        ids.check_id(bad, "model_id")
    message = str(info.value)
    assert f"{'M' * 40!r}... (5000 characters)" in message
    assert len(message) < 200 and "\n" not in message


def test_the_longest_id_is_accepted_and_one_more_character_is_not() -> None:
    longest = "M" * 160
    assert ids.check_id(longest, "model_id") == longest
    with pytest.raises(RegistryError, match=r"\(161 characters\)"):
        ids.check_id(longest + "M", "model_id")


@pytest.mark.parametrize("good", ["MDL_DIR_CORE_V1_20240101T000000_abc123", "EXP_a.b-c_1"])
def test_ordinary_ids_pass(good: str) -> None:
    assert ids.check_id(good, "experiment_id") == good


def test_experiment_name_with_a_newline_is_refused() -> None:
    now = ids.utc_now()
    with pytest.raises(RegistryError, match=r"invalid experiment_name 'exp\\n'"):
        ids.new_ids("exp\n", "MF_DIR_CORE_V1", now)
    with pytest.raises(RegistryError, match=r"\(5000 characters\)"):
        ids.new_ids("e" * 5000, "MF_DIR_CORE_V1", now)


class _Pinned(BaseModel):
    """How records.py uses the pattern: as a pydantic (Rust regex) constraint."""

    model_id: Annotated[str, Field(pattern=ids.ID_RE.pattern)]


@pytest.mark.parametrize("bad", ["MDL_x\n", "\nMDL_x", "MDL_x\nMDL_y", "M" * 161, " MDL_x"])
def test_pydantic_refuses_what_check_id_refuses(bad: str) -> None:
    with pytest.raises(ValidationError):
        _Pinned(model_id=bad)


def test_pydantic_accepts_an_ordinary_id() -> None:
    assert _Pinned(model_id="MDL_x.1-2").model_id == "MDL_x.1-2"
