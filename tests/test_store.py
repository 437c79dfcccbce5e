"""The attribution store: what a shard keeps, read back lazily across shards, and its errors."""

import json

import numpy as np
import pytest
from conftest import store_from_arrays

from seqlrp.attribution.store import (
    SHARD_ARRAYS,
    ShardWriter,
    join_shards,
    pack_hypothetical,
    read_attribution,
    unpack_hypothetical,
    window_scales,
)
from seqlrp.errors import InputError
from seqlrp.formats.arrays import LazyRows

HEADER = "chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n"


def onehot_of(codes: np.ndarray) -> np.ndarray:
    """(n, L) codes 0..3 = A,C,G,T, 4 = N -> (n, 4, L) uint8."""
    return (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.uint8)


def table(n: int, first: int = 0) -> str:
    return "".join(f"chr1\t{100 * i}\t{100 * i + 10}\t+\tw{i}\tc\ttest\t{i}\t{i / 10}\t0\n" for i in range(first, first + n))


def test_a_position_keeps_the_three_absent_bases_and_an_n_keeps_all_four_by_hand():
    x = onehot_of(np.array([[0, 4, 3]]))  # A, N, T
    h = np.array([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]], dtype=np.float32)
    packed, scale, sites, n_a = pack_hypothetical(h, x)
    assert scale.tolist() == [2.0 ** (4 - 15)]  # largest stored value 11 = 0.6875 * 2^4 -> 11 * 2^11
    np.testing.assert_array_equal(packed[0].astype(np.float32) * scale[0], [[4, 5, 3], [7, 8, 6], [10, 11, 9]])
    assert sites.tolist() == [[0, 1]] and n_a.tolist() == [2.0]  # the N position's A
    relevance = (x * h).sum(axis=1)  # the position relevance: H of the observed base (0 at N)
    assert relevance.tolist() == [[1.0, 0.0, 12.0]]
    np.testing.assert_array_equal(unpack_hypothetical(packed, scale, relevance, x, sites, n_a), h)


def test_window_scales_keep_float16_in_range_and_precise_at_any_magnitude():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 3, 50)) * np.array([1e-30, 1e-6, 1.0, 1e4, 1e30])[:, None, None]
    scale = window_scales(values)
    assert np.all(np.frexp(scale)[0] == 0.5)  # powers of two: dividing by them is exact
    largest = np.abs(values).max(axis=(1, 2)) / scale
    assert np.all((largest >= 2**14) & (largest < 2**15))
    stored = (values / scale[:, None, None]).astype(np.float16)
    assert np.isfinite(stored).all()
    error = np.abs(stored.astype(np.float64) * scale[:, None, None] - values).max(axis=(1, 2))
    assert np.all(error <= 2.0**-11 * np.abs(values).max(axis=(1, 2)))
    assert window_scales(np.zeros((2, 3, 4))).tolist() == [1.0, 1.0]


def test_lazy_rows_index_like_numpy_across_parts():
    full = np.arange(40.0).reshape(10, 4)
    calls = []

    def part(array):
        def read(local):
            calls.append(local)
            return array[local]
        return read

    rows = LazyRows([(3, part(full[:3])), (0, part(full[:0])), (7, part(full[3:]))], (4,), full.dtype)
    assert rows.shape == (10, 4) and len(rows) == 10
    for key in (0, -1, 4, slice(None), slice(2, 9), slice(None, None, -3), np.array([9, 0, 0, 5, 2]),
                np.arange(10) % 3 == 0, (slice(1, 6), 2), (7, slice(1, 3)), []):
        np.testing.assert_array_equal(rows[key], full[key])
    calls.clear()
    rows[np.array([8, 3, 8])]
    assert [c.tolist() for c in calls] == [[0, 5]]  # each row read once, from its part only
    with pytest.raises(IndexError):
        rows[10]
    with pytest.raises(IndexError):
        rows[np.array([-11])]
    with pytest.raises(IndexError):
        rows[np.ones(3, dtype=bool)]


def _write_shard(shard, onehot, relevance, hypothetical, first):
    shard.mkdir(parents=True)
    with ShardWriter({k: shard / n for k, n in SHARD_ARRAYS.items()}, len(onehot), onehot.shape[2]) as writer:
        for lo in range(0, len(onehot), 2):  # in batches, as the attribute job writes
            writer.write(onehot[lo : lo + 2], relevance[lo : lo + 2], hypothetical[lo : lo + 2])
    (shard / "regions.tsv").write_text(HEADER + table(len(onehot), first))
    (shard / "settings.json").write_text(json.dumps({"class": "c", "method": "m", "target_index": 0,
                                                     "n_windows": len(onehot), "seq_len": onehot.shape[2]}))


@pytest.fixture
def sharded(tmp_path):
    """A store of 9 windows (L = 12) in shards of 4, 0 and 5 windows, with N positions in two shards."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, size=(9, 12))
    codes[1, 3:5] = 4
    codes[7, 0] = 4
    onehot = onehot_of(codes)
    hypothetical = (rng.normal(size=(9, 4, 12)) * 10.0 ** rng.integers(-3, 3, size=(9, 1, 1))).astype(np.float32)
    relevance = onehot * hypothetical
    relevance[1, :, 3] = [0.5, -0.25, 0, 0]  # a rule that puts relevance on an N position (flat, z-box)
    folder = tmp_path / "c.m"
    bounds = [(0, 4), (4, 4), (4, 9)]
    for k, (lo, hi) in enumerate(bounds):
        _write_shard(folder / "shards" / str(k), onehot[lo:hi], relevance[lo:hi], hypothetical[lo:hi], lo)
    join_shards([folder / "shards" / str(k) for k in range(3)], {"regions": folder / "regions.tsv",
                                                                 "settings": folder / "settings.json"})
    np.save(tmp_path / "onehot.npy", onehot)
    return folder, tmp_path / "onehot.npy", onehot, relevance, hypothetical


def test_store_reads_back_across_shards(sharded):
    folder, onehot_path, onehot, relevance, hypothetical = sharded
    store = read_attribution(folder, onehot_path)
    assert len(store) == 9 and store.settings["store"]["shards"][1] == {"dir": "shards/1", "n_windows": 0}
    np.testing.assert_array_equal(store.relevance[:], relevance.sum(axis=1))  # relevance on N kept too
    np.testing.assert_array_equal(store.onehot[:], onehot)
    pick = np.array([8, 1, 1, 3, 7, 0])  # any order, repeats, across shards
    back = store.hypothetical[pick]
    observed = onehot[pick].astype(bool)
    np.testing.assert_array_equal(back[observed], hypothetical[pick][observed])  # exact at the observed base
    np.testing.assert_array_equal(back[:, 0][onehot[pick].sum(1) == 0], hypothetical[pick][:, 0][onehot[pick].sum(1) == 0])
    largest = np.abs(hypothetical[pick]).max(axis=(1, 2), keepdims=True)
    assert (np.abs(back - hypothetical[pick]) <= 2.0**-11 * largest).all()
    np.testing.assert_array_equal(store.hypothetical[:][pick], back)  # slices and index arrays agree
    assert store.logits.tolist() == [i / 10 for i in range(9)] and store.rows.tolist() == list(range(9))


def test_store_bytes_per_base_and_identical_rewrites(tmp_path):
    rng = np.random.default_rng(0)
    n, length = 50, 1000
    onehot = onehot_of(rng.integers(0, 4, size=(n, length)))
    hypothetical = rng.normal(size=(n, 4, length)).astype(np.float32)
    first = store_from_arrays(tmp_path / "a" / "c.m", onehot, onehot * hypothetical, hypothetical, HEADER + table(n))
    again = store_from_arrays(tmp_path / "b" / "c.m", onehot, onehot * hypothetical, hypothetical, HEADER + table(n))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)
    arrays = sum((first / f).stat().st_size for f in files if f.suffix == ".npy")
    # 4 bytes of relevance + 3 x 2 of hypothetical contributions per base, 4 for the scale per window
    assert arrays == n * length * 10 + n * 4 + len(SHARD_ARRAYS) * 128
    everything = sum((first / f).stat().st_size for f in files)
    assert everything / n < 12_000 * length / 1000  # under 12 kB per 1 kb window, tables included (was 48)


def test_store_errors_name_the_file(sharded):
    folder, onehot_path, *_ = sharded
    settings = json.loads((folder / "settings.json").read_text())
    relevance = folder / "shards" / "2" / "relevance.npy"
    data = relevance.read_bytes()
    relevance.write_bytes(data[:-100])
    with pytest.raises(InputError, match=rf"^{relevance}: not a readable .npy array .*truncated or corrupted"):
        read_attribution(folder, onehot_path)
    np.save(relevance, np.zeros((4, 12), dtype=np.float32))
    with pytest.raises(InputError, match=rf"^{relevance}: array of shape \(4, 12\), expected \(5, 12\)"):
        read_attribution(folder, onehot_path)
    np.save(relevance, np.zeros((5, 12), dtype=np.float64))
    with pytest.raises(InputError, match=rf"^{relevance}: array of type float64, expected float32"):
        read_attribution(folder, onehot_path)
    relevance.write_bytes(data)
    for shards, problem in (([{"dir": "../../elsewhere", "n_windows": 9}], "is not a folder inside"),
                            (settings["store"]["shards"][:1], "9 windows, but the shards in settings.json hold 4")):
        (folder / "settings.json").write_text(json.dumps({**settings, "store": {"version": 2, "shards": shards}}))
        with pytest.raises(InputError, match=problem):
            read_attribution(folder, onehot_path)
    (folder / "settings.json").write_text(json.dumps({k: v for k, v in settings.items() if k != "store"}))
    with pytest.raises(InputError, match="written by an older seqlrp .*rerun the attribute stage"):
        read_attribution(folder, onehot_path)


def test_a_failed_shard_leaves_no_array(tmp_path):
    paths = {k: tmp_path / n for k, n in SHARD_ARRAYS.items()}
    x = onehot_of(np.zeros((2, 5), dtype=int))
    with pytest.raises(RuntimeError):
        with ShardWriter(paths, 4, 5) as writer:
            writer.write(x, x.astype(np.float32), x.astype(np.float32))
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="2 of 4 rows written"):
        with ShardWriter(paths, 4, 5) as writer:
            writer.write(x, x.astype(np.float32), x.astype(np.float32))
    assert list(tmp_path.iterdir()) == []


def test_the_workflow_names_the_same_shard_files():
    import ast
    from pathlib import Path

    text = (Path(__file__).parents[1] / "workflow" / "rules" / "common.smk").read_text()
    start = text.index("SHARD_ARRAYS = ")
    literal = text[start + len("SHARD_ARRAYS = ") : text.index("}", start) + 1]
    assert ast.literal_eval(literal) == SHARD_ARRAYS


def test_the_join_points_at_files_of_the_old_layout(sharded, caplog):
    folder, *_ = sharded
    (folder / "attr.npz").write_bytes(b"PK" + bytes(1000))
    with caplog.at_level("WARNING"):
        join_shards([folder / "shards" / str(k) for k in range(3)], {"regions": folder / "regions.tsv",
                                                                     "settings": folder / "settings.json"})
    assert f"{folder / 'attr.npz'} (0.00 GB) from an older seqlrp are no longer read" in caplog.text
    assert (folder / "attr.npz").exists()  # the user's to delete


def test_table_columns_parse_in_chunks_and_name_a_bad_line(tmp_path):
    from seqlrp.attribution.store import read_table_columns

    path = tmp_path / "regions.tsv"
    path.write_text(HEADER + table(9))
    kinds = {"chrom": str, "start": int, "logit": float}
    whole, chunked = read_table_columns(path, kinds), read_table_columns(path, kinds, chunk=2)
    assert all(np.array_equal(whole[k], chunked[k]) for k in kinds) and whole["start"].tolist() == list(range(0, 900, 100))
    assert whole["chrom"][0] is whole["chrom"][8]  # one shared string per distinct value
    path.write_text(HEADER + table(3) + "chr1\tx\t10\t+\tw\tc\ttest\t3\t0.1\t0\n")
    with pytest.raises(InputError, match=r"regions.tsv:5: malformed row"):
        read_table_columns(path, kinds)


def test_table_columns_of_chosen_windows_come_in_the_order_asked(tmp_path):
    from seqlrp.attribution.store import read_table_columns

    path = tmp_path / "regions.tsv"
    path.write_text(HEADER + table(9))
    got = read_table_columns(path, {"name": str, "row": int}, chunk=2, rows=np.array([7, 0, 3]))
    assert got["name"].tolist() == ["w7", "w0", "w3"] and got["row"].tolist() == [7, 0, 3]
    with pytest.raises(InputError, match="1 of the windows asked for are not in the table"):
        read_table_columns(path, {"row": int}, rows=np.array([2, 9]))
