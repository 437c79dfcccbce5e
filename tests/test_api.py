"""The Python API of the quick start: ``seqlrp.one_hot``, class names as ``relevance`` targets, the input
layout check, ``seqlrp.open_attribution`` and a torch-free ``import seqlrp``."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import write_fasta
from test_quickstart import CLASSES, SEQ_LEN, WINDOWS, make_run, tiny_model
from torch import nn

import seqlrp
from seqlrp.attribution.runs import finished_stores, open_attribution
from seqlrp.errors import InputError, SeqlrpError
from seqlrp.formats.encoder import SequenceInputError, one_hot
from seqlrp.formats.onehot import decode, encode, onehot_from_codes
from seqlrp.lrp import InputLayoutError, TargetError, relevance
from seqlrp.models import load_model
from seqlrp.models.external import ForeignSpec, import_foreign
from seqlrp.sequences.windows import ExtractOptions, dataset_from_records

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")


def decoded(x: torch.Tensor) -> list[str]:
    return [decode(row.to(torch.uint8).numpy()) for row in x]


# --- the one-hot encoder -------------------------------------------------------------------------

def test_one_hot_encodes_strings_as_n_4_l_float_channels_acgt():
    x = one_hot(["ACGT", "TTGA"])
    assert x.shape == (2, 4, 4) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], torch.eye(4))
    assert decoded(x) == ["ACGT", "TTGA"]
    single = one_hot("GATTACA")
    assert single.shape == (1, 4, 7) and decoded(single) == ["GATTACA"]
    assert one_hot(["ACGT"], dtype=torch.float64).dtype == torch.float64
    assert one_hot(iter(["AC", "GT"])).shape == (2, 4, 2)  # any iterable, a generator too


def test_one_hot_lower_case_counts_and_n_is_a_zero_column():
    torch.testing.assert_close(one_hot("acgtAcGt"), one_hot("ACGTACGT"))
    x = one_hot("ANnRC-")
    assert x[0].sum(0).tolist() == [1, 0, 0, 0, 1, 0]
    np.testing.assert_array_equal(x[0].numpy(), encode("ANnRC-"))  # the pipeline's encoding


def test_one_hot_takes_a_mapping_and_pairs_in_order():
    mapping = one_hot({"b": "CCCC", "a": "AAAA"})
    assert decoded(mapping) == ["CCCC", "AAAA"]
    torch.testing.assert_close(one_hot([("b", "CCCC"), ("a", "AAAA")]), mapping)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_one_hot_reads_a_fasta_file(tmp_path, compress):
    path = write_fasta(tmp_path / "s.fa", {"one": "ACGTAC" * 10, "two": "gattac" * 10})
    if compress:
        gz = tmp_path / "s.fa.gz"
        gz.write_bytes(gzip.compress(path.read_bytes()))
        path = gz
    for given in (path, str(path)):
        x = one_hot(given)
        assert x.shape == (2, 4, 60) and decoded(x) == ["ACGTAC" * 10, "GATTAC" * 10]
    with pytest.raises(InputError, match=r"missing\.fa: sequence FASTA not found"):
        one_hot(str(tmp_path / "missing.fa"))  # a FASTA suffix makes a path even when it is missing


def test_unequal_lengths_are_refused_in_one_line_naming_them():
    with pytest.raises(SequenceInputError) as err:
        one_hot({"p1": "ACGT", "p2": "ACG", "p3": "ACGTA", "p4": "ACG"})
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, ValueError)
    assert message.startswith("sequences differ in length: 4 bp (1, e.g. 'p1'), 3 bp (2, e.g. 'p2'), "
                              "5 bp (1, e.g. 'p3')")
    assert "pass length=L" in message
    with pytest.raises(SequenceInputError, match="length must be a positive integer, got 0"):
        one_hot("ACGT", length=0)
    with pytest.raises(SequenceInputError, match="no sequences to encode"):
        one_hot([])
    assert one_hot([], length=5).shape == (0, 4, 5)
    with pytest.raises(TypeError, match="item 1 is a int"):
        one_hot(["ACGT", 3])
    with pytest.raises(TypeError, match="not bytes"):
        one_hot(b"ACGT")


def test_length_centres_pads_and_crops():
    # the window [c - L // 2, c - L // 2 + L), c = len // 2: padded with N, longer ones centre-cropped
    assert decoded(one_hot(["ACG", "ACGTACGTAC", "AC"], length=6)) == ["NNACGN", "GTACGT", "NNACNN"]
    assert decoded(one_hot(["ACG"], length=4)) == ["NACG"]


def test_length_centring_equals_the_pipelines_fasta_records_extraction(tmp_path):
    """Records with and without coordinates, both strands, odd and even lengths, shorter and longer than L."""
    rng = np.random.default_rng(4)
    sequences = {f"r{n}": "".join(rng.choice(list("ACGTN"), size=n)) for n in (3, 4, 7, 8, 9, 12, 15)}
    headers = {"chr1:100-107": sequences["r7"], "chr1:200-208(-)": sequences["r8"], "chr2:10-19:-": sequences["r9"],
               "peak::chr3:0-12(-)": sequences["r12"], **{k: sequences[k] for k in ("r3", "r4", "r15")}}
    path = write_fasta(tmp_path / "records.fa", headers)
    for length in (5, 8, 11):
        data = dataset_from_records({"c": path}, ExtractOptions(seq_len=length))
        expected = torch.from_numpy(onehot_from_codes(data.codes)).float()
        assert list(data.table.strand) == ["+", "-", "-", "-", "+", "+", "+"]
        torch.testing.assert_close(one_hot(path, length=length), expected)
        torch.testing.assert_close(one_hot(str(path), length=length), expected)
    # strings are centred as records without coordinates
    plain = list(headers.values())
    torch.testing.assert_close(one_hot(plain, length=8)[4:], one_hot(path, length=8)[4:])


# --- class names as targets ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    return tiny_model()


def test_target_by_class_name_on_a_seqlrp_model(model):
    x = one_hot(["ACGT" * 50, "GATTACA" * 28 + "ACGT"])
    torch.testing.assert_close(relevance(model, x, target="negative"), relevance(model, x, target=1))
    torch.testing.assert_close(relevance(model, x, "positive"), relevance(model, x, 0))
    # one name (or index) per sequence
    per_sample = relevance(model, x, ["negative", 0])
    torch.testing.assert_close(per_sample, relevance(model, x, torch.tensor([1, 0])))
    torch.testing.assert_close(relevance(model, x, ("positive", "negative")), relevance(model, x, [0, 1]))
    torch.testing.assert_close(relevance(model, x, np.array(["negative", "positive"])), per_sample)
    torch.testing.assert_close(per_sample[:1], relevance(model, x[:1], "negative"))


def test_unknown_class_name_is_refused_with_the_models_classes(model):
    x = one_hot(["ACGT" * 50])
    with pytest.raises(TargetError) as err:
        relevance(model, x, target="bound")
    assert str(err.value) == "target 'bound' is not a class of this model; its classes are: positive, negative"
    assert isinstance(err.value, ValueError) and isinstance(err.value, SeqlrpError)
    with pytest.raises(TargetError, match="target lists 2 class"):
        relevance(model, x, ["positive", "negative"])
    with pytest.raises(TypeError, match="target must be"):
        relevance(model, x, 1.5)


def test_a_model_without_class_names_takes_indices_only():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv1d(4, 3, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(3, 2)).eval()
    x = one_hot(["ACGTACGTAC"])
    with pytest.raises(TargetError) as err:
        relevance(plain, x, "positive")
    assert str(err.value) == ("target 'positive' is a class name, but this model has no class names "
                              "(model.seqlrp_info.classes); give the output index")
    assert relevance(plain, x, 1).shape == x.shape


class ThreeTasks(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Conv1d(4, 6, 7, padding=3)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(torch.relu(self.first(x)).mean(-1))


def test_target_by_name_on_a_foreign_model_imported_by_seqlrp(tmp_path):
    """Class names map to the classes' tasks: ``{"open": 2, "bound": 0}`` explains task 2 for "open"."""
    torch.manual_seed(5)
    reference = ThreeTasks().eval()
    program = torch.export.export(reference, (torch.zeros(2, 4, 30),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, tmp_path / "m.pt2")
    (tmp_path / "dataset.json").write_text(json.dumps({"classes": ["open", "bound"], "seq_len": 30}))
    out = tmp_path / "results"
    import_foreign(ForeignSpec(classes={"open": 2, "bound": 0}, checkpoint=str(tmp_path / "m.pt2")),
                   tmp_path / "dataset.json", {"model": out / "model.pt", "source": out / "external.pt2"})
    model = load_model(out / "model.pt")
    assert model.seqlrp_info.classes == ["open", "bound"]
    x = one_hot(["ACGTTGCA" * 3 + "ACGTAC", "GATTACA" * 4 + "GA"])
    torch.testing.assert_close(relevance(model, x, "open"), relevance(reference, x, 2), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(relevance(model, x, "bound"), relevance(reference, x, 0), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(relevance(model, x, ["bound", "open"]), relevance(reference, x, torch.tensor([0, 2])),
                               atol=1e-6, rtol=1e-5)
    with pytest.raises(TargetError, match="its classes are: open, bound$"):
        relevance(model, x, "closed")
    # the .pt2 file itself, loaded without the pipeline's import, has no class names but declares (N, 4, L)
    raw = load_model(tmp_path / "m.pt2")
    with pytest.raises(TargetError, match="this model has no class names"):
        relevance(raw, x, "open")
    with pytest.raises(InputLayoutError, match=r"pass x\.transpose\(1, 2\)"):
        relevance(raw, x.transpose(1, 2), 0)


# --- the input layout, checked before anything runs ----------------------------------------------

@pytest.fixture
def no_capture(monkeypatch):
    """Fail any graph capture: the layout check must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("the model's graph was captured before the input was checked")

    monkeypatch.setattr("seqlrp.lrp.engine.capture", refuse)


def test_channels_last_input_is_refused_with_the_transpose_hint_before_capture(model, no_capture):
    x = one_hot(["ACGT" * 50, "GATTACA" * 28 + "ACGT"])
    with pytest.raises(InputLayoutError) as err:
        relevance(model, x.transpose(1, 2), target="positive")
    message = str(err.value)
    assert message == ("x has shape (N, L, 4) = (2, 200, 4): seqlrp takes one-hot input as (N, 4, L), channels A, C, "
                       "G, T; pass x.transpose(1, 2)")
    assert "\n" not in message and isinstance(err.value, ValueError)
    with pytest.raises(InputLayoutError, match=r"pass x\.transpose"):  # NumPy input alike
        relevance(model, x.transpose(1, 2).numpy(), 0)


def test_wrong_channel_count_and_rank_are_refused_before_capture(model, no_capture):
    x = torch.zeros(2, 7, 200)
    with pytest.raises(InputLayoutError) as err:
        relevance(model, x, 0)
    assert str(err.value) == ("x has 7 channels in dimension 1 (shape (2, 7, 200)): seqlrp takes one-hot DNA as "
                              "(N, 4, L), channels A, C, G, T")
    with pytest.raises(InputLayoutError) as err:
        relevance(model, torch.zeros(4, 200), 0)
    assert str(err.value) == ("x has 2 dimension(s), shape (4, 200): seqlrp takes one-hot DNA as (N, 4, L), "
                              "channels A, C, G, T (one sequence: x[None])")
    # a module whose first layer is a Conv1d of 4 channels is a DNA model too
    plain = nn.Sequential(nn.Conv1d(4, 3, 5), nn.Flatten(), nn.Linear(3 * 196, 1))
    with pytest.raises(InputLayoutError, match=r"\(N, L, 4\) = \(1, 200, 4\)"):
        relevance(plain, torch.zeros(1, 200, 4), 0)


def test_numpy_and_integer_input_are_converted(model):
    x = one_hot(["ACGT" * 50])
    expected = relevance(model, x, 0)
    torch.testing.assert_close(relevance(model, x.numpy().astype(np.uint8), 0), expected)
    readonly = x.numpy().astype(np.uint8)
    readonly.flags.writeable = False
    torch.testing.assert_close(relevance(model, readonly, 0), expected)


def test_modules_of_other_inputs_keep_any_shape():
    """Hand-built layers (the rule tests) are not DNA models: a 2-d input, one channel, stay fine."""
    lin = nn.Sequential(nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        lin[0].weight[:] = torch.tensor([[1.0, 2.0]])
    assert relevance(lin, torch.tensor([[1.0, 1.0]]), 0, composite="epsilon", epsilon=0.0).tolist() == [[1.0, 2.0]]
    pool = nn.Sequential(nn.MaxPool1d(2), nn.Flatten(), nn.Linear(2, 1))
    assert relevance(pool, torch.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 0).shape == (1, 1, 4)


# --- reading a run back -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("api_run"))


def test_open_attribution_reads_a_run_back(run, monkeypatch):
    store = open_attribution("positive", "lrp", results=run / "results")
    positives = [w for w in WINDOWS if w[3] == "positive"]
    assert len(store) == len(positives) and store.cls == "positive" and store.method == "lrp"
    assert store.relevance.shape == (len(positives), SEQ_LEN)
    assert store.hypothetical.shape == store.onehot.shape == (len(positives), 4, SEQ_LEN)
    assert list(store.table["chrom"]) == [w[0] for w in positives]
    assert list(store.table["start"]) == [w[1] for w in positives]
    assert list(store.table["end"]) == [w[1] + SEQ_LEN for w in positives]
    assert list(store.table["strand"]) == [w[2] for w in positives]
    assert set(store.table["class"]) == {"positive"} and store.target == CLASSES.index("positive")
    # the stored relevance is the model's, window by window
    onehot = torch.from_numpy(store.onehot[:]).float()
    r = relevance(load_model(run / "results" / "model" / "model.pt"), onehot, "positive")
    np.testing.assert_allclose(store.relevance[:], r.sum(1).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(store.sums, r.sum(dim=(1, 2)).double().numpy(), rtol=1e-4, atol=1e-7)
    # genome coordinates of window positions, both strands
    for k, (_, start, strand, _) in enumerate(positives):
        pos = store.genome_positions(k)
        expected = start + np.arange(SEQ_LEN) if strand == "+" else start + SEQ_LEN - 1 - np.arange(SEQ_LEN)
        np.testing.assert_array_equal(pos, expected)
    # results defaults to ./results, and the lazy seqlrp.open_attribution is this function
    monkeypatch.chdir(run)
    assert seqlrp.open_attribution is open_attribution
    assert len(seqlrp.open_attribution("positive", "lrp")) == len(positives)
    assert finished_stores("results") == [("positive", "lrp")]


def test_genome_positions_need_the_coordinate_columns(run):
    from seqlrp.attribution.store import read_attribution

    store = read_attribution(run / "results" / "attributions" / "positive.lrp", run / "results" / "data" / "onehot.npy")
    with pytest.raises(KeyError, match="start, end, strand"):
        store.genome_positions(0)


def test_open_attribution_errors_name_the_path_and_what_exists(run, tmp_path):
    results = run / "results"
    with pytest.raises(InputError) as err:
        open_attribution("positive", "plrp", results=results)
    assert str(err.value) == (f"{results}/attributions/positive.plrp: no such attribution store; it has positive.lrp "
                              "(classes: positive; methods: lrp)")
    with pytest.raises(InputError, match=r"negative\.lrp: no such attribution store; it has positive\.lrp"):
        open_attribution("negative", "lrp", results=results)
    with pytest.raises(InputError, match=r"nowhere: no such results folder: run the pipeline first"):
        open_attribution("positive", "lrp", results=tmp_path / "nowhere")
    (tmp_path / "empty" / "attributions").mkdir(parents=True)
    with pytest.raises(InputError, match=r"holds no finished store \(has the attribute stage run\?\)"):
        open_attribution("positive", "lrp", results=tmp_path / "empty")
    with pytest.raises(SeqlrpError, match=r"open_attribution: class name '\.\./x' contains a path separator"):
        open_attribution("../x", "lrp", results=results)
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "results" / "attributions" / "positive.plrp" / "shards" / "0").mkdir(parents=True)
    with pytest.raises(InputError, match=r"positive\.plrp: is unfinished \(no settings\.json"):
        open_attribution("positive", "plrp", results=copy / "results")
    (copy / "results" / "data" / "onehot.npy").unlink()
    with pytest.raises(InputError) as err:
        open_attribution("positive", "lrp", results=copy / "results")
    assert str(err.value).startswith(f"{copy}/results/data/onehot.npy: the run's one-hot data set is missing")
    for e in (err.value,):
        assert "\n" not in str(e)


# --- the package root --------------------------------------------------------------------------

def test_import_seqlrp_imports_no_torch_and_names_load_lazily():
    code = ("import sys, seqlrp; assert 'torch' not in sys.modules, 'torch'; "
            "assert {'one_hot', 'load_model', 'relevance', 'Prune', 'open_attribution'} <= set(dir(seqlrp)); "
            "assert 'torch' not in sys.modules; "
            "store = seqlrp.open_attribution; assert 'torch' not in sys.modules, 'open_attribution'; "
            "import seqlrp.variants; assert 'torch' not in sys.modules, 'seqlrp.variants'; "
            "assert 'variants' in dir(seqlrp) and callable(seqlrp.variants.score); "
            "x = seqlrp.one_hot('ACGT'); assert tuple(x.shape) == (1, 4, 4); "
            "from seqlrp.lrp import Prune, relevance; assert seqlrp.relevance is relevance and seqlrp.Prune is Prune; "
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
    assert seqlrp.one_hot is one_hot and seqlrp.load_model is load_model
    assert sorted(seqlrp.__all__) == sorted(["ALPHABET", "Prune", "__version__", "load_model", "one_hot",
                                             "open_attribution", "relevance", "variants"])
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        seqlrp.nothing  # noqa: B018
