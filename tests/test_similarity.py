import numpy as np
import pytest

from matcher.ranking.similarity import aggregate, pad_runs


def test_max_mean_topk_on_one_host() -> None:
    sims = np.array([0.9, 0.1, 0.5, 0.3])
    assert aggregate(sims, method="max") == pytest.approx(0.9)
    assert aggregate(sims, method="mean") == pytest.approx(0.45)
    assert aggregate(sims, method="topk", k=2) == pytest.approx(0.7)
    assert aggregate(sims, method="topk", k=3) == pytest.approx((0.9 + 0.5 + 0.3) / 3)


def test_topk_with_fewer_documents_than_k_averages_what_there_is() -> None:
    sims = np.array([[0.8, 0.4, 0.0, 0.0]])  # one host, two real documents, padded to four
    assert aggregate(sims, np.array([2]), method="topk", k=3) == pytest.approx([0.6])


def test_padding_is_ignored_by_every_method() -> None:
    # Padding holds values that would win if they were read.
    sims = np.array([[0.2, 0.3, 9.0], [0.5, 9.0, 9.0]])
    lengths = np.array([2, 1])
    assert aggregate(sims, lengths, method="max") == pytest.approx([0.3, 0.5])
    assert aggregate(sims, lengths, method="mean") == pytest.approx([0.25, 0.5])
    assert aggregate(sims, lengths, method="topk", k=3) == pytest.approx([0.25, 0.5])


def test_batched_queries_match_one_at_a_time() -> None:
    rng = np.random.default_rng(7)
    block = rng.uniform(-1, 1, size=(3, 5, 6)).astype(np.float32)  # 3 queries, 5 hosts, 6 slots
    lengths = rng.integers(1, 7, size=5)
    for method in ("max", "mean", "topk"):
        batched = aggregate(block, lengths, method=method, k=2)
        for q in range(3):
            for h in range(5):
                one = aggregate(block[q, h, : lengths[h]], method=method, k=2)
                assert batched[q, h] == pytest.approx(float(one), abs=1e-6)


def test_topk_of_one_is_max_and_topk_of_all_is_mean() -> None:
    sims = np.array([0.1, 0.7, 0.4])
    assert aggregate(sims, method="topk", k=1) == pytest.approx(aggregate(sims, method="max"))
    assert aggregate(sims, method="topk", k=3) == pytest.approx(aggregate(sims, method="mean"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"method": "median"}, "unknown aggregation"), ({"method": "topk", "k": 0}, "k must be at least 1")],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate(np.array([0.5]), **kwargs)  # type: ignore[arg-type]


def test_lengths_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="every length"):
        aggregate(np.zeros((2, 3)), np.array([0, 3]))


def test_pad_runs_gathers_each_hosts_columns() -> None:
    values = np.arange(12, dtype=np.float32).reshape(2, 6)
    block, lengths = pad_runs(values, np.array([2, 1, 3]))
    assert block.shape == (2, 3, 3) and lengths.tolist() == [2, 1, 3]
    assert block[0, 0, :2].tolist() == [0, 1] and block[0, 1, :1].tolist() == [2]
    assert block[1, 2].tolist() == [9, 10, 11]
    empty, none = pad_runs(values, np.zeros(0, dtype=np.int64))
    assert empty.shape == (2, 0, 1) and len(none) == 0
