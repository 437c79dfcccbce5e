"""seqlrp.models.files: .pt2 / ONNX / module-route model files, told apart by content, never running their code."""

import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from optional import available, need, requires
from torch import nn

from seqlrp.errors import SeqlrpError
from seqlrp.models import CheckpointError, build, load_model, save_model
from seqlrp.models.files import EXPORT_ONNX, EXPORT_PT2, ChannelsLast, detect_format, load_external, load_module

L = 24
# torch.jit.save and the TorchScript-based ONNX exporter (the one that works offline) are deprecated
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*(jit|TorchScript-based).*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
]
# not need(): onnx2torch's own import fails without torchvision, which seqlrp stubs
needs_onnx = requires("onnx", "onnx2torch")


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 6, 5), nn.BatchNorm1d(6), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(60, 3))
    model[1].running_mean.uniform_(-1, 1)
    return model.eval()


class Transposed(nn.Module):
    """A model whose forward takes channels-last (N, L, 4) input."""

    def __init__(self):
        super().__init__()
        self.net = small_cnn()

    def forward(self, x):
        return self.net(x.transpose(1, 2))


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: proof that code in a pickle would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _TrapModule(nn.Module):
    """A module that, pickled, unpickles as ``open(marker, "w")``."""

    def __init__(self, marker):
        super().__init__()
        self.marker = str(marker)

    def __reduce_ex__(self, protocol):
        return (open, (self.marker, "w"))


def pickled(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def rewrite(src, dst, change):
    """Copy the zip ``src`` to ``dst``, each member's bytes passed through ``change(relative_name, data)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            relative = info.filename.split("/", 1)[1]
            zout.writestr(info.filename, change(relative, zin.read(info.filename)))


def edit_program(src, dst, edit):
    """Copy the .pt2 ``src`` to ``dst`` with ``edit(program_json)`` applied to models/model.json."""
    def change(relative, data):
        if relative != "models/model.json":
            return data
        program = json.loads(data)
        edit(program)
        return json.dumps(program).encode()
    rewrite(src, dst, change)


@pytest.fixture(scope="module")
def pt2(tmp_path_factory):
    """A small CNN exported with a dynamic batch, and the model itself."""
    model = small_cnn()
    path = tmp_path_factory.mktemp("pt2") / "cnn.pt2"
    program = torch.export.export(model, (torch.zeros(2, 4, L),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)
    return path, model


def one_line_refusal(caught, *words):
    message = str(caught.value)
    assert "\n" not in message and isinstance(caught.value, SeqlrpError), message
    for word in words:
        assert word in message, (word, message)
    return message


# ---------------------------------------------------------------- detection


def test_formats_are_told_by_content_not_by_name(tmp_path, pt2):
    model = small_cnn()
    save_model(build("mlp", seq_len=16, n_classes=2), tmp_path / "a.onnx")
    torch.save(model.state_dict(), tmp_path / "b.pt2")
    torch.save(model, tmp_path / "c.safetensors")
    torch.save(model, tmp_path / "d.bin", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(model), tmp_path / "e.pt")
    (tmp_path / "f.pt").write_bytes(pt2[0].read_bytes())
    (tmp_path / "g.pt").write_bytes(b"not a model")
    found = {p.name: detect_format(p) for p in sorted(tmp_path.iterdir())}
    assert found == {"a.onnx": "seqlrp", "b.pt2": "state_dict", "c.safetensors": "pickle", "d.bin": "pickle",
                     "e.pt": "torchscript", "f.pt": "pt2", "g.pt": "unknown"}
    assert load_model(tmp_path / "a.onnx").seqlrp_info.arch == "mlp"
    assert load_model(tmp_path / "f.pt").seqlrp_source["format"] == "pt2"
    with pytest.raises(CheckpointError, match="no such model file"):
        detect_format(tmp_path / "missing.pt")


# ---------------------------------------------------------------- torch.export


def test_pt2_round_trip(pt2):
    path, model = pt2
    loaded = load_model(path)
    assert not loaded.training
    x = torch.rand(5, 4, L)
    assert torch.equal(loaded(x), model(x))
    assert loaded.seqlrp_source == {"format": "pt2", "path": str(path), "input_shape": [None, 4, L], "channels_last": False}
    program = loaded.exported_program
    assert isinstance(program, torch.export.ExportedProgram)
    assert torch.equal(program.module(check_guards=False)(x), model(x))


class TwoHeads(nn.Module):
    """A BPNet-like model returning (profile (N, 2, L), counts (N, 2))."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 5, padding=2)

    def forward(self, x):
        profile = self.conv(x)
        return profile, profile.logsumexp(-1)


@pytest.mark.parametrize("make", [small_cnn, lambda: TwoHeads().eval()])
def test_pt2_exported_with_a_fixed_batch_takes_any_batch(tmp_path, make):
    model = make()
    torch.export.save(torch.export.export(model, (torch.zeros(2, 4, L),)), tmp_path / "fixed.pt2")
    loaded = load_external(tmp_path / "fixed.pt2")
    assert loaded.seqlrp_source["input_shape"] == [2, 4, L]
    x = torch.rand(5, 4, L)  # two chunks of 2 and one padded
    for got, want in zip(*(o if isinstance(o, tuple) else (o,) for o in (loaded(x), model(x)))):
        assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("where", ["sample_inputs", "weight"])
def test_pt2_with_a_pickled_payload_is_refused_and_never_runs(tmp_path, pt2, where):
    marker = tmp_path / "payload-ran"

    with zipfile.ZipFile(pt2[0]) as archive:
        config = json.loads(archive.read("cnn/data/weights/model_weights_config.json"))
    weight = "data/weights/" + config["config"]["0.weight"]["path_name"]
    config["config"]["0.weight"]["use_pickle"] = True  # torch then reads the member with weights_only=False

    def poison(relative, data):
        if where == "sample_inputs" and relative == "data/sample_inputs/model.pt":
            return pickled(((_Payload(marker),), {}))
        if where == "weight" and relative == "data/weights/model_weights_config.json":
            return json.dumps(config).encode()
        if where == "weight" and relative == weight:
            return pickled(_Payload(marker))
        return data

    rewrite(pt2[0], tmp_path / "evil.pt2", poison)
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "evil.pt2")
    member = "data/sample_inputs/model.pt" if where == "sample_inputs" else weight
    one_line_refusal(caught, "evil.pt2", member, "pickled code", "open)")
    assert not marker.exists()
    # the same file is live for torch.export.load: the check above really guards something
    try:
        torch.export.load(tmp_path / "evil.pt2")
    except Exception:
        pass
    assert marker.exists()


def test_pt2_guard_code_is_refused_and_never_runs(tmp_path, pt2):
    marker = tmp_path / "guard-ran"
    code = f"open({str(marker)!r}, 'w') is None"
    edit_program(pt2[0], tmp_path / "guarded.pt2", lambda program: program.update(guards_code=[code]))
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "guarded.pt2")
    one_line_refusal(caught, "guarded.pt2", "models/model.json", "guard code")
    assert not marker.exists()
    # torch compiles guard code into the module it returns and runs it on each call
    with pytest.raises(AssertionError):
        torch.export.load(tmp_path / "guarded.pt2").module()(torch.rand(2, 4, L))
    assert marker.exists()


def test_pt2_with_code_in_its_graph_is_refused(tmp_path, pt2):
    def retarget(program):
        program["graph_module"]["graph"]["nodes"][0]["target"] = "torch.serialization.os.system"

    def expressions(value):
        """Every dict holding a shape expression (``expr_str``, handed to sympy.sympify by torch)."""
        if isinstance(value, dict):
            if "expr_str" in value:
                yield value
            value = list(value.values())
        for item in value if isinstance(value, list) else []:
            yield from expressions(item)

    def reexpress(program):
        for holder in expressions(program):
            holder["expr_str"] = "().__class__.__base__.__subclasses__()"

    edit_program(pt2[0], tmp_path / "call.pt2", retarget)
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "call.pt2")
    one_line_refusal(caught, "call.pt2", "torch.serialization.os.system", "not a torch operator")

    edit_program(pt2[0], tmp_path / "expr.pt2", reexpress)
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "expr.pt2")
    one_line_refusal(caught, "expr.pt2", "shape expression")

    # the expression torch itself writes passes
    edited = []
    edit_program(pt2[0], tmp_path / "same.pt2", lambda program: edited.append(program))
    assert [h["expr_str"] for h in expressions(edited[0])][0].startswith("Symbol(")
    assert load_model(tmp_path / "same.pt2").seqlrp_source["input_shape"] == [None, 4, L]


# ---------------------------------------------------------------- ONNX


@needs_onnx
def test_onnx_round_trip(tmp_path):
    model = small_cnn()
    torch.onnx.export(model, (torch.zeros(2, 4, L),), tmp_path / "cnn.onnx", dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    loaded = load_model(tmp_path / "cnn.onnx")
    # the stand-in torchvision lasts only while onnx2torch is imported
    assert "torchvision" not in sys.modules or getattr(sys.modules["torchvision"], "__file__", None)
    assert not loaded.training and not isinstance(loaded, ChannelsLast)
    x = torch.rand(5, 4, L)
    assert torch.allclose(loaded(x), model(x), atol=1e-5)
    assert loaded.seqlrp_source == {"format": "onnx", "path": str(tmp_path / "cnn.onnx"),
                                    "input_shape": [None, 4, L], "channels_last": False}


@needs_onnx
def test_channels_last_onnx_model_takes_channels_first_input(tmp_path):
    model = Transposed().eval()
    torch.onnx.export(model, (torch.zeros(2, L, 4),), tmp_path / "nlc.onnx", dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    loaded = load_external(tmp_path / "nlc.onnx")
    assert isinstance(loaded, ChannelsLast)
    assert loaded.seqlrp_source["channels_last"] and loaded.seqlrp_source["input_shape"] == [None, L, 4]
    x = torch.rand(3, 4, L)
    assert torch.allclose(loaded(x), model(x.transpose(1, 2)), atol=1e-5)


@needs_onnx
def test_missing_onnx_packages_are_one_line(tmp_path, monkeypatch):
    torch.onnx.export(small_cnn(), (torch.zeros(1, 4, L),), tmp_path / "m.onnx", dynamo=False)
    monkeypatch.setitem(sys.modules, "onnx", None)  # what Python does for a package that is not there
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "m.onnx")
    one_line_refusal(caught, "m.onnx", "pip install onnx onnx2torch")


# ---------------------------------------------------------------- refused formats


def test_torchscript_is_refused_with_the_export_lines(tmp_path):
    torch.jit.save(torch.jit.script(small_cnn()), tmp_path / "scripted.pt")
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "scripted.pt")
    one_line_refusal(caught, "scripted.pt", "TorchScript", EXPORT_PT2, EXPORT_ONNX)


def test_export_lines_in_the_message_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = small_cnn()
    x = torch.rand(3, 4, L)
    exec(EXPORT_PT2, {"torch": torch, "model": model, "L": L})
    assert torch.equal(load_model("model.pt2")(x), model(x))
    if available("onnx2torch"):
        exec(EXPORT_ONNX, {"torch": torch, "model": model, "L": L})
        assert torch.allclose(load_model("model.onnx")(x), model(x), atol=1e-5)


def test_pickled_whole_module_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    torch.save(nn.Sequential(small_cnn(), _TrapModule(marker)), tmp_path / "whole.pt")
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "whole.pt")
    one_line_refusal(caught, "whole.pt", "torch.save(model)", "torch.nn.modules.container.Sequential",
                     "torch.export.save(", "torch.onnx.export(")
    assert not marker.exists()
    torch.load(tmp_path / "whole.pt", weights_only=False)  # live when loaded unsafely
    assert marker.exists()


def test_bare_weights_point_to_the_module_route(tmp_path):
    torch.save(small_cnn().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "weights.pt")
    one_line_refusal(caught, "weights.pt", "not a seqlrp model checkpoint", "state dict", "load_module")


# ---------------------------------------------------------------- the module route

MODEL_PY = '''
from torch import nn
from helper import width  # a sibling file, imported as when run as a script


class Net(nn.Module):
    def __init__(self, filters=6, classes=3):
        super().__init__()
        self.conv = nn.Conv1d(4, filters, 5)
        self.head = nn.Linear(filters, classes)
        assert width() == 1

    def forward(self, x):
        return self.head(self.conv(x).relu().mean(-1))


def not_a_class():
    return 1
'''


@pytest.fixture
def model_py(tmp_path):
    (tmp_path / "helper.py").write_text("def width():\n    return 1\n")
    (tmp_path / "net.py").write_text(MODEL_PY)
    return tmp_path / "net.py"


def test_module_route_with_pt_and_safetensors_weights(tmp_path, model_py, monkeypatch):
    reference = load_module(f"{model_py}:Net", {"filters": 8})
    assert not reference.training
    torch.save({"epoch": 3, "model_state_dict": reference.state_dict()}, tmp_path / "w.pt")
    monkeypatch.chdir(tmp_path)  # the spec is relative to the current directory
    loaded = load_module("net.py:Net", {"filters": 8}, "w.pt")
    x = torch.rand(2, 4, L)
    assert torch.equal(loaded(x), reference(x)) and not loaded.training
    safetensors = need("safetensors.torch")
    safetensors.save_file(reference.state_dict(), tmp_path / "w.safetensors")
    assert detect_format(tmp_path / "w.safetensors") == "safetensors"
    assert torch.equal(load_module("net.py:Net", {"filters": 8}, tmp_path / "w.safetensors")(x), reference(x))
    # an importable package works the same
    linear = load_module("torch.nn:Linear", {"in_features": 3, "out_features": 2})
    assert isinstance(linear, nn.Linear)


def test_module_route_errors_are_one_line(tmp_path, model_py, monkeypatch):
    spec = f"{model_py}:Net"
    torch.save(load_module(spec).state_dict(), tmp_path / "w.pt")
    cases = [
        (lambda: load_module(f"{tmp_path}/nope.py:Net"), ["nope.py", "no such Python file"]),
        (lambda: load_module("no_such_package_xyz.models:Net"), ["no_such_package_xyz", "no such module"]),
        (lambda: load_module(f"{model_py}:Missing"), ["net.py", "defines no 'Missing'"]),
        (lambda: load_module(f"{model_py}:not_a_class"), ["net.py", "not an nn.Module subclass"]),
        (lambda: load_module("net.py"), ["expected 'package.module:Class'"]),
        (lambda: load_module(spec, {"filtres": 8}), ["net.py", "TypeError", "filtres"]),
        (lambda: load_module(spec, {}, tmp_path / "none.pt"), ["none.pt", "no such weights file"]),
        (lambda: load_module(spec, {"filters": 7}, tmp_path / "w.pt"), ["w.pt", "do not fit Net", "size mismatch"]),
    ]
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    torch.save({**state, "extra.weight": torch.zeros(1)}, tmp_path / "extra.pt")
    cases.append((lambda: load_module(spec, {}, tmp_path / "extra.pt"), ["extra.pt", "unexpected keys extra.weight"]))
    torch.save({k: v for k, v in state.items() if k.startswith("conv")}, tmp_path / "short.pt")
    cases.append((lambda: load_module(spec, {}, tmp_path / "short.pt"), ["short.pt", "missing keys head.weight, head.bias"]))
    torch.save({"weights": [1, 2]}, tmp_path / "list.pt")
    cases.append((lambda: load_module(spec, {}, tmp_path / "list.pt"), ["list.pt", "not a state dict"]))
    (tmp_path / "broken.py").write_text("def oops(:\n")
    cases.append((lambda: load_module(f"{tmp_path}/broken.py:Net"), ["broken.py", "SyntaxError", "line 1"]))
    for call, words in cases:
        with pytest.raises(CheckpointError) as caught:
            call()
        one_line_refusal(caught, *words)

    if available("safetensors"):
        from safetensors.torch import save_file

        save_file(state, tmp_path / "w.safetensors")
        monkeypatch.setitem(sys.modules, "safetensors", None)
        monkeypatch.setitem(sys.modules, "safetensors.torch", None)
        with pytest.raises(CheckpointError) as caught:
            load_module(spec, {}, tmp_path / "w.safetensors")
        one_line_refusal(caught, "w.safetensors", "pip install safetensors")


def test_module_route_weights_never_run_code(tmp_path, model_py):
    marker = tmp_path / "payload-ran"
    state = load_module(f"{model_py}:Net").state_dict()
    torch.save({**state, "note": _Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError) as caught:
        load_module(f"{model_py}:Net", {}, tmp_path / "evil.pt")
    one_line_refusal(caught, "evil.pt", "refused", "open)")
    assert not marker.exists()


# ---------------------------------------------------------------- ONNX from today's exporters


def _onnx_model(nodes, opset, initializers=(), output_shape=None):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4, L])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
                              initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    return model


@requires("onnx", "onnx2torch")
def test_newer_onnx_operator_versions_convert_as_onnx_defines_them(tmp_path):
    """Pad 19, Split 18 (num_outputs), Reshape 19 (allowzero), ReduceMax 20 (axes as an input) and
    Gelu 20, none of which onnx2torch 1.5 converts, against ONNX's own reference evaluator."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    nodes = [
        helper.make_node("Pad", ["x", "pads", "zero"], ["padded"], mode="constant"),  # L -> L + 2
        helper.make_node("Split", ["padded"], ["a", "b"], axis=2, num_outputs=2),
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node("Gelu", ["s"], ["g"], approximate="tanh"),
        helper.make_node("Reshape", ["g", "shape"], ["r"], allowzero=1),
        helper.make_node("ReduceMax", ["r", "axes"], ["y"], keepdims=0),
    ]
    half = (L + 2) // 2
    initializers = [numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 1], np.int64), "pads"),
                    numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
                    numpy_helper.from_array(np.array([-1, 2, 2, half], np.int64), "shape"),
                    numpy_helper.from_array(np.array([2], np.int64), "axes")]
    model = _onnx_model(nodes, 20, initializers, [None, 2, half])
    onnx.save(model, tmp_path / "m.onnx")
    x = torch.rand(3, 4, L)
    expected = ReferenceEvaluator(model).run(None, {"x": x.numpy()})[0]
    got = load_model(tmp_path / "m.onnx")(x)
    assert got.shape == (3, 2, half)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-5, atol=1e-6)


@requires("onnx", "onnx2torch")
def test_an_onnx_operator_without_a_converter_is_refused_naming_opset_and_version(tmp_path):
    import onnx
    from onnx import helper

    nodes = [helper.make_node("Hardmax", ["x"], ["h"], axis=1), helper.make_node("DFT", ["h"], ["y"]),
             helper.make_node("Relu", ["x"], ["unused"])]
    onnx.save(_onnx_model(nodes, 20), tmp_path / "m.onnx")
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "m.onnx")
    one_line_refusal(caught, "m.onnx", "ONNX opset 20: no converter to torch for DFT (version 20), Hardmax (version 13)",
                     "opset_version=18", "model.module")


@requires("onnx", "onnx2torch")
@pytest.mark.parametrize("opset", [13, 18])
def test_tf2onnx_files_of_a_keras_cnn_predict_and_explain_like_keras(opset):
    """tests/data/keras_cnn.opset*.onnx: a bias-free Keras CNN (channels-last) converted by tf2onnx
    1.17 (tests/data/make_tf2onnx.py), whose Conv1D is a 2-d Conv over a height of 1: the logits
    are Keras's, and LRP-0 equals Keras's own gradient x input (tf.GradientTape)."""
    import numpy as np

    from seqlrp.lrp import relevance

    data = Path(__file__).parent / "data"
    expected = np.load(data / "keras_cnn.npz")
    x = torch.from_numpy(expected["x"]).permute(0, 2, 1).contiguous()  # Keras's (N, L, 4) as (N, 4, L)
    model = load_model(data / f"keras_cnn.opset{opset}.onnx")
    assert isinstance(model, ChannelsLast) or isinstance(getattr(model, "inner", None), ChannelsLast)
    np.testing.assert_allclose(model(x).detach().numpy(), expected["logits"], rtol=1e-5, atol=1e-6)
    lrp0 = relevance(model, x, 1, composite={nn.Conv1d: "zero", nn.Linear: "zero"})
    keras = torch.from_numpy(expected["grad_x_input"]).permute(0, 2, 1)
    torch.testing.assert_close(lrp0, keras, rtol=1e-4, atol=1e-4 * keras.abs().max().item())


@requires("onnx", "onnx2torch")
def test_newer_reduce_and_split_versions_cover_their_edge_cases(tmp_path):
    """Split 18 into uneven pieces, ReduceMax 18 over mixed-sign axes without keepdims, ReduceMean 18
    without axes (every dimension), ReduceMin 18 with noop_with_empty_axes (the identity): against
    ONNX's reference evaluator."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    nodes = [
        helper.make_node("Split", ["x"], ["a", "b", "c", "d", "e"], axis=2, num_outputs=5),  # L 24: 5 x 4, then 4
        helper.make_node("ReduceMax", ["a", "axes"], ["m"], keepdims=0),                 # axes [1, -1]: (N,)
        helper.make_node("ReduceMean", ["e"], ["mean"], keepdims=1),                     # every dim: (1, 1, 1)
        helper.make_node("ReduceMin", ["b"], ["same"], keepdims=1, noop_with_empty_axes=1),
        helper.make_node("ReduceSum", ["same", "sum_axes"], ["s"], keepdims=0),          # (N,)
        helper.make_node("Add", ["m", "s"], ["ms"]),
        helper.make_node("Reshape", ["mean", "flat"], ["mean1"], allowzero=1),
        helper.make_node("Add", ["ms", "mean1"], ["y"]),
    ]
    initializers = [numpy_helper.from_array(np.array([1, -1], np.int64), "axes"),
                    numpy_helper.from_array(np.array([1, 2], np.int64), "sum_axes"),
                    numpy_helper.from_array(np.array([1], np.int64), "flat")]
    model = _onnx_model(nodes, 18, initializers, [None])
    onnx.save(model, tmp_path / "m.onnx")
    x = torch.rand(3, 4, L)
    expected = ReferenceEvaluator(model).run(None, {"x": x.numpy()})[0]
    got = load_model(tmp_path / "m.onnx")(x)
    assert got.shape == (3,)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-5, atol=1e-5)
