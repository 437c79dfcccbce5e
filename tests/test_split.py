import numpy as np

from seqlrp.sequences.split import assign_splits, random_split


def test_held_out_chromosomes():
    chroms = ["chr1", "chr7", "chr8", "chr1", "chr7", "chr8"]
    classes = ["a", "a", "a", "b", "b", "b"]
    splits, method = assign_splits(chroms, classes, valid_chroms=["chr7"], test_chroms=["chr8"],
                                   valid_fraction=0.1, test_fraction=0.1, seed=0)
    assert list(splits) == ["train", "valid", "test"] * 2
    assert method.startswith("held-out chromosomes")


def test_falls_back_to_seeded_random_split_when_a_split_would_be_empty():
    chroms = ["contig1"] * 20 + ["contig2"] * 20
    classes = ["a"] * 20 + ["b"] * 20
    first, method = assign_splits(chroms, classes, valid_chroms=["chr7"], test_chroms=["chr8"],
                                  valid_fraction=0.1, test_fraction=0.2, seed=5)
    again, _ = assign_splits(chroms, classes, valid_chroms=["chr7"], test_chroms=["chr8"],
                             valid_fraction=0.1, test_fraction=0.2, seed=5)
    other, _ = assign_splits(chroms, classes, valid_chroms=["chr7"], test_chroms=["chr8"],
                             valid_fraction=0.1, test_fraction=0.2, seed=6)
    assert "random split" in method and "a/valid" in method
    np.testing.assert_array_equal(first, again)
    assert list(first) != list(other)
    for cls in "ab":
        members = first[np.array(classes) == cls]
        assert (members == "test").sum() == 4 and (members == "valid").sum() == 2


def test_tiny_classes_still_get_every_split():
    splits = random_split(["a"] * 3, valid_fraction=0.1, test_fraction=0.1, seed=0)
    assert sorted(splits) == ["test", "train", "valid"]


def test_identical_windows_on_a_held_out_chromosome_stay_with_their_first_copy():
    from seqlrp.formats.onehot import reverse_complement_codes
    from seqlrp.sequences.split import duplicate_groups

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(9, 20), dtype=np.uint8)  # uint8, as the extract stage's codes
    codes[4] = codes[0]  # chr8 (test) repeats a chr1 (train) window
    codes[7] = reverse_complement_codes(codes[1])  # chr8 repeats a chr7 (valid) window on the other strand
    codes[8] = codes[5]  # chr1 repeats a chr8 window that comes earlier in the table
    chroms = ["chr1", "chr7", "chr1", "chr1", "chr8", "chr8", "chr7", "chr8", "chr1"]
    classes = ["a"] * 9
    groups = duplicate_groups(codes)
    assert groups.tolist() == [0, 1, 2, 3, 0, 5, 6, 1, 5]
    splits, method = assign_splits(chroms, classes, valid_chroms=["chr7"], test_chroms=["chr8"], valid_fraction=0.1,
                                   test_fraction=0.1, seed=0, groups=groups)
    assert method.startswith("held-out chromosomes")
    # each copy takes the split of its group's first window: the chr8 copies of rows 0 and 1 train
    # and validate with them, and chr1's copy (row 8) of the chr8 window 5 is tested with it
    assert list(splits) == ["train", "valid", "train", "train", "train", "test", "valid", "valid", "test"]
    for g in set(groups.tolist()):
        assert len(set(splits[groups == g])) == 1  # no identical windows on both sides of a split
    # without the groups the chromosomes alone decide, and the copies leak into test
    leaky, _ = assign_splits(chroms, classes, valid_chroms=["chr7"], test_chroms=["chr8"], valid_fraction=0.1,
                             test_fraction=0.1, seed=0)
    assert leaky[4] == "test" and leaky[0] == "train"


def test_duplicates_that_empty_the_test_chromosome_fall_back_to_a_grouped_random_split():
    from seqlrp.sequences.split import duplicate_groups

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(12, 20), dtype=np.uint8)
    codes[10], codes[11] = codes[0], codes[1]  # chr8's only windows repeat train windows
    chroms = ["chr1"] * 5 + ["chr7"] * 5 + ["chr8"] * 2
    groups = duplicate_groups(codes)
    splits, method = assign_splits(chroms, ["a"] * 12, valid_chroms=["chr7"], test_chroms=["chr8"], valid_fraction=0.2,
                                   test_fraction=0.2, seed=3, groups=groups)
    assert "random split" in method and "a/test" in method
    assert splits[10] == splits[0] and splits[11] == splits[1]
    assert {"train", "valid", "test"} <= set(splits)


def test_duplicates_are_found_on_both_strands_whatever_the_integer_type():
    from seqlrp.sequences.split import duplicate_groups

    forward = np.array([[0, 1, 2, 3, 3], [1, 1, 0, 2, 3]])
    reverse = 3 - forward[0, ::-1]  # the reverse complement of row 0 (A<->T, C<->G are 3 - code)
    for dtype in (np.uint8, np.int64, np.int32):
        codes = np.vstack([forward, reverse]).astype(dtype)
        assert duplicate_groups(codes).tolist() == [0, 1, 0], dtype
