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
