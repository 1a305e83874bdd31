"""The Goodman & Baron quantitative score (docs/domain.md), worked examples first."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treatments.models import LESION_KEYS
from treatments.scoring import MAX_SCORE, WEIGHTS, count_band, goodman_baron_score, keloid_points


def test_worked_example_1_mixed_counts() -> None:
    lesions = {"macular": 12, "mild_atrophic": 5, "punched_out_shallow": 25, "punched_out_deep_normal_base": 3}
    assert goodman_baron_score(lesions) == 2 + 1 + 6 + 3 == 12


def test_worked_example_2_keloid_area_and_papules() -> None:
    assert goodman_baron_score({"hyperplastic_papular": 4}, Decimal("6")) == 12 + 2 == 14


def test_worked_example_3_nothing_scores_zero() -> None:
    assert goodman_baron_score({}) == 0
    assert goodman_baron_score(dict.fromkeys(LESION_KEYS, 0), Decimal("0.00")) == 0


def test_worked_example_4_everything_over_20_scores_the_maximum() -> None:
    assert goodman_baron_score(dict.fromkeys(LESION_KEYS, 21), Decimal("20.01")) == 84 == MAX_SCORE
    assert goodman_baron_score(dict.fromkeys(LESION_KEYS, 10_000), Decimal("9999.99")) == 84


@pytest.mark.parametrize(("count", "points"), [(0, 0), (1, 3), (10, 3), (11, 6), (20, 6), (21, 9), (500, 9)])
def test_worked_example_5_count_boundaries(count: int, points: int) -> None:
    assert goodman_baron_score({"linear_troughed": count}) == points


@pytest.mark.parametrize(
    ("area", "points"),
    [
        ("0", 0),
        ("0.00", 0),
        ("0.01", 6),
        ("4.9", 6),
        ("4.99", 6),
        ("5.0", 12),
        ("5.00", 12),
        ("20.0", 12),
        ("20.00", 12),
        ("20.01", 18),
        ("20.1", 18),
        ("400", 18),
    ],
)
def test_worked_example_5_keloid_area_boundaries(area: str, points: int) -> None:
    assert keloid_points(Decimal(area)) == points
    assert goodman_baron_score({}, Decimal(area)) == points


def test_the_table_adds_up_to_the_published_maximum() -> None:
    assert sum(WEIGHTS.values()) * 3 + 18 == 84
    assert set(WEIGHTS) == set(LESION_KEYS)
    assert sorted(WEIGHTS.values()) == [1, 1, 2, 2, 2, 2, 3, 3, 3, 3]


@pytest.mark.parametrize("key", LESION_KEYS)
def test_each_sub_type_scores_weight_times_band(key: str) -> None:
    weight = WEIGHTS[key]
    assert [goodman_baron_score({key: n}) for n in (0, 1, 11, 21)] == [0, weight, 2 * weight, 3 * weight]


def test_unknown_keys_and_negative_values_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        goodman_baron_score({"icepick": 3})
    with pytest.raises(ValueError):
        goodman_baron_score({"macular": -1})
    with pytest.raises(ValueError):
        goodman_baron_score({}, Decimal("-0.01"))


@given(
    st.dictionaries(st.sampled_from(LESION_KEYS), st.integers(min_value=0, max_value=10_000)),
    st.decimals(min_value=0, max_value=10_000, places=2),
)
def test_the_score_is_always_between_0_and_84_and_is_the_sum_of_its_parts(lesions: dict, area: Decimal) -> None:
    score = goodman_baron_score(lesions, area)
    assert 0 <= score <= 84
    parts = sum(goodman_baron_score({key: count}) for key, count in lesions.items()) + keloid_points(area)
    assert score == parts


@given(st.sampled_from(LESION_KEYS), st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=100))
def test_more_lesions_never_lower_the_score(key: str, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert goodman_baron_score({key: low}) <= goodman_baron_score({key: high})
    assert count_band(low) <= count_band(high)
