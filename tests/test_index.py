"""The FAISS index against a brute-force numpy oracle on seeded random vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matcher.errors import IndexMismatch, UnknownHost
from matcher.index import ANN_THRESHOLD, HostIndex, faiss_index, read_manifest, snapshot
from matcher.text.documents import Document

DIM = 16


def random_host(rng: np.random.Generator, host_id: str, n_docs: int) -> tuple[list[Document], np.ndarray]:
    docs = [Document(host_id, f"pub:{i}", f"{host_id} doc {i}", f"{host_id} text {i}") for i in range(n_docs)]
    vectors = rng.normal(size=(n_docs, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return docs, vectors


class Oracle:
    """What the index should hold: host -> (documents, vectors), searched by brute force."""

    def __init__(self) -> None:
        self.hosts: dict[str, tuple[list[Document], np.ndarray]] = {}

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, str, float]]]:
        docs = [d for ds, _ in self.hosts.values() for d in ds]
        vectors = np.concatenate([v for _, v in self.hosts.values()])
        scores = queries @ vectors.T
        results = []
        for row in scores:
            best = np.argsort(-row, kind="stable")[:k]
            results.append([(docs[i].host_id, docs[i].key, float(row[i])) for i in best])
        return results


def coding_error(index: HostIndex, oracle: Oracle) -> float:
    """The largest distance between a stored vector and the one given: 0 unless it went through the graph's
    8-bit codes. A unit query's score moves by at most this much (Cauchy-Schwarz)."""
    return max(
        float(np.linalg.norm(index.gather(index.host_rows(h)) - vectors, axis=1).max())
        for h, (_, vectors) in oracle.hosts.items()
    )


def assert_same_as_oracle(index: HostIndex, oracle: Oracle, rng: np.random.Generator, k: int = 7) -> None:
    """Rank by rank, the index returns documents whose true scores are the oracle's top k. Exact in the flat
    index; vectors that went through the graph's 8-bit codes are off by up to `coding_error`, and so may
    scores, and near-ties may swap."""
    tolerance = 1e-5 + coding_error(index, oracle)
    queries = rng.normal(size=(5, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scores, rows = index.search(queries, k)
    expected = oracle.search(queries, len(index))
    for q in range(len(queries)):
        true = {(h, d): score for h, d, score in expected[q]}
        got = [(index.meta(int(r)).host_id, index.meta(int(r)).key) for r in rows[q]]
        assert len(set(got)) == len(got) == k
        assert [true[g] for g in got] == pytest.approx([s for _, _, s in expected[q][:k]], abs=tolerance)
        assert scores[q].tolist() == pytest.approx([true[g] for g in got], abs=tolerance)
    assert sorted(index.host_ids) == sorted(oracle.hosts)
    assert len(index) == sum(len(ds) for ds, _ in oracle.hosts.values())


@pytest.mark.parametrize("ann_threshold", [ANN_THRESHOLD, 20], ids=["flat", "graph"])
def test_search_add_update_remove_and_reload_match_the_oracle(tmp_path: Path, ann_threshold: int) -> None:
    # With ~90 documents the graph's search (efSearch 384) visits every node, so even it must be exact.
    rng = np.random.default_rng(42)
    index, oracle = HostIndex(DIM, "fp", ann_threshold=ann_threshold), Oracle()
    first = {f"h{i:02d}": random_host(rng, f"h{i:02d}", int(rng.integers(1, 6))) for i in range(30)}
    index.upsert(first.values())
    oracle.hosts.update(first)
    assert index.approximate == (ann_threshold == 20)
    assert_same_as_oracle(index, oracle, rng)

    # Add more hosts and replace some existing ones (new documents, new vectors).
    changes = {f"h{i:02d}": random_host(rng, f"h{i:02d}", int(rng.integers(1, 6))) for i in (3, 17, 40, 41)}
    index.upsert(changes.values())
    oracle.hosts.update(changes)
    assert_same_as_oracle(index, oracle, rng)

    index.remove(["h05", "h40", "h00"])
    for host_id in ("h05", "h40", "h00"):
        del oracle.hosts[host_id]
    assert_same_as_oracle(index, oracle, rng)

    index.save(tmp_path / "idx")
    loaded, _ = HostIndex.load(tmp_path / "idx", fingerprint="fp", ann_threshold=ann_threshold)
    assert (loaded.approximate, loaded.tombstones) == (index.approximate, index.tombstones)
    assert_same_as_oracle(loaded, oracle, rng)
    every = np.arange(len(index) + index.tombstones)
    np.testing.assert_array_equal(loaded.gather(every), index.gather(every))
    rows = loaded.host_rows("h17")
    gathered = loaded.gather(rows)
    assert gathered.dtype == np.float32
    if loaded.approximate:  # each component within half a code step of itself clipped to its learnt range
        low, span = faiss_index._ranges(loaded._faiss).reshape(2, DIM)
        clipped = np.clip(oracle.hosts["h17"][1], low, low + span)
        assert (np.abs(gathered - clipped) <= span / 255 / 2 + 1e-6).all()
    else:
        np.testing.assert_array_equal(gathered, oracle.hosts["h17"][1])
    queries = rng.normal(size=(3, DIM)).astype(np.float32)
    np.testing.assert_allclose(loaded.similarities(queries, rows), queries @ gathered.T, rtol=1e-6, atol=1e-6)


def test_the_graph_keeps_removed_rows_as_tombstones_until_a_fifth_are_dead() -> None:
    rng = np.random.default_rng(7)
    index, oracle = HostIndex(DIM, "fp", ann_threshold=40), Oracle()
    hosts = {f"h{i:02d}": random_host(rng, f"h{i:02d}", 4) for i in range(25)}  # 100 documents
    index.upsert(hosts.values())
    oracle.hosts.update(hosts)
    index.remove(["h00", "h01", "h02"])  # 12 dead rows of 100: kept as tombstones, never found
    for host_id in ("h00", "h01", "h02"):
        del oracle.hosts[host_id]
    assert index.approximate and index.tombstones == 12 and len(index) == 88
    assert_same_as_oracle(index, oracle, rng, k=88)
    oracle.hosts["h03"] = random_host(rng, "h03", 2)
    index.upsert([oracle.hosts["h03"]])  # replacing a host leaves its old rows dead too
    assert index.tombstones == 12 + 4 and len(index) == 86
    assert_same_as_oracle(index, oracle, rng, k=86)
    stored = index.gather(index.host_rows("h10"))
    index.remove(["h04", "h05"])  # 24 of 102 rows dead: more than a fifth, so the graph is rebuilt
    np.testing.assert_array_equal(index.gather(index.host_rows("h10")), stored)  # no second rounding
    for host_id in ("h04", "h05"):
        del oracle.hosts[host_id]
    assert index.approximate and index.tombstones == 0 and len(index) == 78
    assert_same_as_oracle(index, oracle, rng, k=78)
    index.remove([f"h{i:02d}" for i in range(6, 22)])  # 14 documents left, under half the threshold: flat again
    for i in range(6, 22):
        del oracle.hosts[f"h{i:02d}"]
    assert not index.approximate and len(index) == 14
    assert_same_as_oracle(index, oracle, rng, k=14)


def test_the_graph_finds_nearly_all_true_neighbours_at_scale() -> None:
    rng = np.random.default_rng(8)
    centres = rng.normal(size=(50, 32))
    index, exact = HostIndex(32, "fp", ann_threshold=1000), HostIndex(32, "fp", ann_threshold=10**9)
    items = []
    for h in range(600):  # 6,000 documents in 50 topics
        docs = [Document(f"h{h}", f"d{i}", "", f"h{h} d{i}") for i in range(10)]
        vectors = centres[rng.integers(50, size=10)] + rng.normal(0, 0.6, size=(10, 32))
        items.append((docs, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)))
    index.upsert(items)
    exact.upsert(items)
    queries = np.concatenate([v[:1] for _, v in items[::30]])
    _, found = index.search(queries, 256)
    _, truth = exact.search(queries, 256)
    recall = np.mean([len(set(f) & set(t)) / 256 for f, t in zip(found, truth, strict=True)])
    assert index.approximate and not exact.approximate
    assert recall > 0.9


def test_k_larger_than_the_index_returns_every_document_without_padding() -> None:
    rng = np.random.default_rng(1)
    index = HostIndex(DIM, "fp")
    index.upsert([random_host(rng, "a", 2), random_host(rng, "b", 1)])
    _, rows = index.search(np.ones((1, DIM), np.float32) / 4, k=50)
    assert rows.shape == (1, 3)
    assert (rows >= 0).all()


def test_empty_index_searches_to_nothing() -> None:
    scores, rows = HostIndex(DIM, "fp").search(np.ones((2, DIM), np.float32), k=5)
    assert scores.shape == rows.shape == (2, 0)


def test_removing_an_unknown_host_changes_nothing() -> None:
    rng = np.random.default_rng(2)
    index = HostIndex(DIM, "fp")
    index.upsert([random_host(rng, "a", 2)])
    with pytest.raises(UnknownHost, match="'zz'"):
        index.remove(["a", "zz"])
    assert index.host_ids == ["a"] and len(index) == 2


def test_vectors_of_the_wrong_shape_are_refused() -> None:
    rng = np.random.default_rng(3)
    docs, vectors = random_host(rng, "a", 3)
    with pytest.raises(ValueError, match=r"shape \(3, 16\)"):
        HostIndex(DIM, "fp").upsert([(docs, vectors[:2])])


def test_loading_under_another_model_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    index = HostIndex(DIM, "model-a")
    index.upsert([random_host(rng, "a", 2)])
    index.save(tmp_path)
    with pytest.raises(IndexMismatch, match=r"built with model model-a.*configured model is model-b"):
        HostIndex.load(tmp_path, fingerprint="model-b")


def test_a_damaged_file_is_detected_by_its_checksum(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    index = HostIndex(DIM, "fp")
    index.upsert([random_host(rng, "a", 2)])
    index.save(tmp_path)
    vectors_file = next(tmp_path.glob("vectors-*.faiss"))
    data = bytearray(vectors_file.read_bytes())
    data[-1] ^= 0xFF
    vectors_file.write_bytes(bytes(data))
    with pytest.raises(IndexMismatch, match="checksum"):
        HostIndex.load(tmp_path, fingerprint="fp")


def test_a_save_that_fails_midway_leaves_the_previous_index_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(6)
    index = HostIndex(DIM, "fp")
    index.upsert([random_host(rng, "a", 2)])
    index.save(tmp_path, payloads={"hosts": b'["a"]'})
    before = sorted(p.name for p in tmp_path.iterdir())

    index.upsert([random_host(rng, "b", 3)])

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(snapshot, "_atomic_write", crash)  # dies before the manifest is replaced
    with pytest.raises(OSError, match="disk full"):
        index.save(tmp_path, payloads={"hosts": b'["a", "b"]'})
    monkeypatch.undo()

    loaded, payloads = HostIndex.load(tmp_path, fingerprint="fp")
    assert loaded.host_ids == ["a"]
    assert payloads["hosts"] == b'["a"]'
    # The next good save cleans up what the failed one left behind, and keeps the snapshot it replaced.
    index.save(tmp_path, payloads={"hosts": b'["a", "b"]'})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["count"] == 5 and manifest["hosts"] == 2 and manifest["fingerprint"] == "fp"
    named = {entry["name"] for entry in manifest["files"].values()}
    assert {p.name for p in tmp_path.iterdir()} == set(before) | named | {"manifest.previous.json"}


def test_a_save_keeps_the_snapshot_it_replaced_until_the_next_one(tmp_path: Path) -> None:
    """The replaced manifest is kept as manifest.previous.json, its files beside it: a reader can still load
    them (or choose that snapshot); the snapshot before it is removed. The manifest names the generation it
    is given."""
    rng = np.random.default_rng(7)
    index = HostIndex(DIM, "fp")
    manifests = []
    for n, host in enumerate("abc"):
        index.upsert([random_host(rng, host, 2)])
        index.save(tmp_path, payloads={"hosts": host.encode()}, generation={"number": n, "stamp": host})
        manifests.append(json.loads((tmp_path / "manifest.json").read_text()))
    assert [m["generation"] for m in manifests] == [{"number": n, "stamp": h} for n, h in enumerate("abc")]
    names = {p.name for p in tmp_path.iterdir()}
    assert all(entry["name"] in names for m in manifests[1:] for entry in m["files"].values())
    assert not any(entry["name"] in names for entry in manifests[0]["files"].values())
    assert read_manifest(tmp_path, previous=True) == manifests[1]
    older, payloads = HostIndex.load(tmp_path, fingerprint="fp", manifest=manifests[1])
    assert older.host_ids == ["a", "b"] and payloads["hosts"] == b"b"


def held_centroids(index: HostIndex) -> dict[str, np.ndarray]:
    """Each host's mean vector as the index holds it, read through `mean_similarities`: its product with each
    unit axis is that component."""
    order = index.host_order()
    held = np.zeros((len(order), DIM), np.float32)
    for axis in range(DIM):
        positions, sims = index.mean_similarities(np.eye(DIM, dtype=np.float32)[axis], len(order))
        held[positions, axis] = sims
    return dict(zip(order, held, strict=True))


@pytest.mark.parametrize("ann_threshold", [ANN_THRESHOLD, 20], ids=["flat", "graph"])
def test_host_centroids_follow_changes(ann_threshold: int) -> None:
    rng = np.random.default_rng(9)
    index = HostIndex(DIM, "fp", ann_threshold=ann_threshold)
    hosts = {f"h{i}": random_host(rng, f"h{i}", 5) for i in range(8)}
    index.upsert(hosts.values())

    def expected(host_id: str) -> np.ndarray:  # the mean of the vectors as stored (8-bit codes in the graph); held
        # as bfloat16, i.e. each component within 2**-8 of itself
        mean = index.gather(index.host_rows(host_id)).mean(axis=0)
        return mean / np.linalg.norm(mean)

    centroids = held_centroids(index)
    assert sorted(centroids) == sorted(hosts)
    for host_id, centroid in centroids.items():
        np.testing.assert_allclose(centroid, expected(host_id), rtol=2**-8, atol=1e-7)
    before = centroids["h0"]
    hosts["h3"] = random_host(rng, "h3", 2)
    index.upsert([hosts["h3"]])
    index.remove(["h5"])
    del hosts["h5"]
    centroids = held_centroids(index)
    assert sorted(centroids) == sorted(hosts)
    np.testing.assert_array_equal(centroids["h0"], before)  # untouched hosts keep their bits
    np.testing.assert_allclose(centroids["h3"], expected("h3"), rtol=2**-8, atol=1e-7)


def test_nearest_hosts_find_the_host_with_several_good_documents_that_document_search_misses() -> None:
    rng = np.random.default_rng(10)
    query = np.zeros((1, DIM), np.float32)
    query[0, 0] = 1.0
    index = HostIndex(DIM, "fp")
    items = []
    for i in range(6):  # each has one document almost equal to the query, and four unrelated ones
        docs, vectors = random_host(rng, f"one-hit-{i}", 5)
        vectors[0] = query[0] + rng.normal(0, 0.01, DIM)
        vectors[1:, 0] = -0.5
        items.append((docs, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)))
    docs, vectors = random_host(rng, "broad", 5)  # every document fairly close to the query
    vectors = query + rng.normal(0, 0.4, (5, DIM))
    items.append((docs, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)))
    index.upsert(items)
    _, rows = index.search(query, 6)
    assert "broad" not in index.hosts_of_rows(rows[0])
    assert index.nearest_hosts(query, 1) == {"broad"}
    assert len(index.nearest_hosts(query, 100)) == 7
    # the same by position in host_order, with each similarity, for one query vector of any length
    positions, sims = index.mean_similarities(2 * query[0], 100)
    order = index.host_order()
    assert order[positions[0]] == "broad" and len(positions) == 7 and sorted(positions.tolist()) == list(range(7))
    means = held_centroids(index)
    np.testing.assert_allclose(sims, [2 * means[order[p]] @ query[0] for p in positions], rtol=1e-5, atol=1e-5)
    assert index.host_order() is order  # the same list until the hosts change


@pytest.mark.parametrize("ann_threshold", [ANN_THRESHOLD, 4], ids=["flat", "graph"])
def test_row_metadata_survives_removal_compaction_and_reload(tmp_path: Path, ann_threshold: int) -> None:
    rng = np.random.default_rng(11)
    titles = {"a": ["東北大学の研究", ""], "b": ["Ünïcode — title", "plain"], "c": ["x" * 300]}
    index = HostIndex(DIM, "fp", ann_threshold=ann_threshold)
    for host_id, names in titles.items():
        docs = [Document(host_id, f"pub:{i}", t, f"text {i}") for i, t in enumerate(names)]
        index.upsert([(docs, random_host(rng, host_id, len(docs))[1])])
    index.remove(["b"])
    index.save(tmp_path / "idx")
    loaded, _ = HostIndex.load(tmp_path / "idx", fingerprint="fp", ann_threshold=ann_threshold)
    for idx in (index, loaded):
        got = {h: [(idx.meta(int(r)).key, idx.meta(int(r)).title) for r in idx.host_rows(h)] for h in idx.host_ids}
        assert got == {h: [(f"pub:{i}", t) for i, t in enumerate(names)] for h, names in titles.items() if h != "b"}
        assert idx.approximate == (ann_threshold == 4)
        assert idx.hosts_of_rows(np.arange(len(idx) + idx.tombstones)) == {"a", "c"}


def test_similarities_decoded_a_block_at_a_time_equal_one_product(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(12)
    index = HostIndex(DIM, "fp", ann_threshold=20)
    index.upsert(random_host(rng, f"h{i}", 4) for i in range(10))
    rows = rng.permutation(len(index))[:23]  # any order, repeats of nothing, several blocks and a remainder
    queries = rng.normal(size=(3, DIM)).astype(np.float32)
    expected = queries @ index.gather(rows).T
    monkeypatch.setattr(faiss_index, "SIMILARITY_BLOCK", 5)
    np.testing.assert_allclose(index.similarities(queries, rows), expected, rtol=1e-6, atol=1e-6)
    assert index.similarities(queries, rows[:0]).shape == (3, 0)


def test_graph_similarities_follow_changes_after_being_asked_for() -> None:
    """What scoring reads of the graph is looked up once and kept: added hosts (which may move the codes),
    replaced ones and a rebuild that drops tombstones must all be seen by the next request."""
    rng = np.random.default_rng(13)
    index = HostIndex(DIM, "fp", ann_threshold=20)
    index.upsert(random_host(rng, f"h{i}", 4) for i in range(10))
    queries = rng.normal(size=(2, DIM)).astype(np.float32)

    def agrees() -> None:
        rows = np.concatenate([index.host_rows(h) for h in sorted(index.host_ids)])
        expected = queries @ index.gather(rows).T
        np.testing.assert_allclose(index.similarities(queries, rows), expected, rtol=1e-5, atol=1e-5)

    agrees()
    index.upsert(random_host(rng, f"n{i}", 4) for i in range(200))  # many rows: FAISS's codes grow
    agrees()
    index.upsert([random_host(rng, "h3", 6)])  # replaced: new rows, old ones dead
    agrees()
    index.remove([f"n{i}" for i in range(100)])  # past a fifth dead: the graph is rebuilt
    assert index.approximate and index.tombstones == 0
    agrees()


def test_removing_every_host_leaves_an_empty_index_that_takes_hosts_again() -> None:
    """Found by Schemathesis's sequences: deleting the last host failed while the rows were regrouped."""
    index = HostIndex(4, "fp")
    vectors = np.eye(4, dtype=np.float32)[:2]
    index.upsert([([Document("h-1", "description", "one", "one")], vectors[:1])])
    index.remove(["h-1"])
    assert len(index) == 0 and "h-1" not in index
    index.upsert([([Document("h-2", "description", "two", "two")], vectors[1:])])
    assert index.host_ids == ["h-2"] and index.hosts_of_rows(index.search(vectors[1:], 1)[1].ravel()) == {"h-2"}
