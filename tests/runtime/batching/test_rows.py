import numpy as np
import pandas as pd
import pytest

from runtime.batching import concat_rows, count_rows, split_rows


def test_frames_join_and_split_back_in_order():
    parts = [pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [3]}), pd.DataFrame({"a": [4, 5, 6]})]
    joined = concat_rows(parts)
    assert joined["a"].tolist() == [1, 2, 3, 4, 5, 6]
    back = split_rows(joined, [2, 1, 3])
    for part, original in zip(back, parts):
        pd.testing.assert_frame_equal(part, original)


def test_arrays_series_and_dicts_split_by_rows():
    assert [p.tolist() for p in split_rows(np.arange(5), [3, 2])] == [[0, 1, 2], [3, 4]]
    assert [p.tolist() for p in split_rows(pd.Series([1, 2, 3]), [1, 2])] == [[1], [2, 3]]
    parts = split_rows({"label": ["a", "b", "c"], "score": [0.1, 0.2, 0.3]}, [2, 1])
    assert parts[1]["label"].tolist() == ["c"] and parts[0]["score"].tolist() == [0.1, 0.2]
    assert concat_rows([np.ones((2, 3)), np.zeros((1, 3))]).shape == (3, 3)


def test_a_prediction_with_the_wrong_number_of_rows_cannot_be_split():
    with pytest.raises(ValueError, match="the model returned 4 rows for 5 input rows"):
        split_rows(np.arange(4), [2, 3])
    with pytest.raises(ValueError, match="outputs disagree on the number of rows"):
        count_rows({"a": [1, 2], "b": [1]})


def test_inputs_of_different_columns_are_never_stacked():
    with pytest.raises(ValueError, match="cannot stack inputs of different layouts"):
        concat_rows([{"a": np.array([1.0])}, {"a": np.array([2.0]), "x": np.array([5.0])}])
    with pytest.raises(ValueError, match="cannot stack inputs of different layouts"):
        concat_rows([pd.DataFrame({"a": [1.0]}), pd.DataFrame({"a": [2.0], "x": [5.0]})])
