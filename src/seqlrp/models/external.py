"""A model from outside seqlrp, made to look like one of ours: one score per named class.

:class:`ExternalModel` wraps a user's module (loaded from a ``.pt2``/ONNX file or built from
their own class, :mod:`seqlrp.models.files`) with what the pipeline needs to know and the file
may not say:

* ``output`` — which output of a model returning a tuple or dict (BPNet: ``(profile,
  counts)``) is explained (index or key; None for a model with one output);
* ``indices`` — the task (output channel) of each class, in class order: ``model.classes`` as a
  list names the outputs in order, as a mapping ``name -> index`` picks some tasks of a
  multi-task model;
* ``info`` — a :class:`~seqlrp.models.ModelInfo` with ``arch="external"``, ``seq_len`` and
  the class names, so every stage reads it as it reads a model of ours.

Its forward returns scores (N, n_classes): the selected output's tasks, (N, K, 1) squeezed, a
profile head (N, K, L) reduced to BPNet's softmax-weighted scalar (:mod:`seqlrp.models.outputs`).
:func:`seqlrp.lrp.relevance` explains the wrapped module itself at ``output`` (through
:meth:`ExternalModel.lrp_target`), so the wrapper's own reductions never enter the graph.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import SeqlrpError
from .architectures import ModelInfo
from .checkpoint import FORMAT, VERSION, CheckpointError, info_of, write_payload
from .files import load_external, load_module
from .outputs import as_tasks, scores


def select_output(out: Any, output: int | str | None) -> Tensor:
    """The tensor at ``output`` of a model's output (a tensor, tuple, list or dict)."""
    if output is None:
        if isinstance(out, Tensor):
            return out
        if isinstance(out, (tuple, list)) and len(out) == 1 and isinstance(out[0], Tensor):
            return out[0]
        raise SeqlrpError(f"the model returns {_shape_of(out)}: set model.output to the one to explain")
    try:
        chosen = out[output]
    except (KeyError, IndexError, TypeError):
        raise SeqlrpError(f"model.output {output!r} does not exist: the model returns {_shape_of(out)}") from None
    if not isinstance(chosen, Tensor):
        raise SeqlrpError(f"model.output {output!r} is {_shape_of(chosen)}, not one tensor")
    return chosen


def _shape_of(out: Any) -> str:
    if isinstance(out, Tensor):
        return f"one tensor of shape {tuple(out.shape)}"
    if isinstance(out, Mapping):
        return "a dict with keys " + ", ".join(f"{k!r} ({_shape_of(v)})" for k, v in out.items())
    if isinstance(out, (tuple, list)):
        return f"a {type(out).__name__} of " + ", ".join(f"[{i}] {_shape_of(v)}" for i, v in enumerate(out))
    return type(out).__name__


def class_indices(classes: Sequence[str] | Mapping[str, int], n_tasks: int) -> tuple[list[str], list[int]]:
    """Class names and their task indices from ``model.classes`` (a list in output order, or a
    mapping name -> index), checked against the ``n_tasks`` the output has."""
    if isinstance(classes, Mapping):
        names, indices = [str(k) for k in classes], list(classes.values())
        for name, index in zip(names, indices):
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_tasks:
                raise SeqlrpError(f"model.classes: {name!r} -> {index!r} is not an output index in 0..{n_tasks - 1}")
        if len(set(indices)) != len(indices):
            raise SeqlrpError("model.classes: two classes name the same output index")
        return names, indices
    names = [str(c) for c in classes]
    if len(names) != n_tasks:
        raise SeqlrpError(
            f"model.classes lists {len(names)} names but the explained output has {n_tasks} tasks: name every "
            "output in order, or map names to output indices ({name: index}) to pick some"
        )
    return names, list(range(n_tasks))


class ExternalModel(nn.Module):
    """A foreign ``inner`` module seen as a classifier of ``info.classes`` (module docstring)."""

    def __init__(self, inner: nn.Module, *, output: int | str | None, indices: Sequence[int], info: Any):
        super().__init__()
        self.inner = inner
        self.output = output
        self.indices = [int(i) for i in indices]
        self.seqlrp_info = info

    def forward(self, x: Tensor) -> Tensor:
        return self.class_scores(select_output(self.inner(x), self.output))

    def class_scores(self, out: Tensor) -> Tensor:
        """The class scores (N, n_classes) of the inner module's selected output ``out`` (what
        :func:`seqlrp.lrp.relevance` returns as ``logits`` for this model)."""
        y = scores(out)
        if y.dim() == 1:
            y = y[:, None]
        return y[:, self.indices]

    def lrp_target(self, output: int | str | None, target: int | Tensor) -> tuple[nn.Module, int | str | None, Tensor]:
        """What :func:`seqlrp.lrp.relevance` explains for class ``target``: the inner module at
        ``self.output``, task ``indices[target]``."""
        if output is not None:
            raise ValueError("an ExternalModel explains its configured output; call relevance on model.inner for another")
        index = torch.as_tensor(self.indices)
        t = torch.as_tensor(target).long()
        if bool((t < 0).any() or (t >= len(self.indices)).any()):
            raise ValueError(f"target out of range for {len(self.indices)} class(es): {t.reshape(-1).tolist()[:5]}")
        return self.inner, self.output, index.to(t.device)[t]


def n_tasks(inner: nn.Module, output: int | str | None, seq_len: int, device: str | torch.device = "cpu") -> int:
    """How many tasks the selected output of ``inner`` has on input (2, 4, seq_len)."""
    with torch.no_grad():
        out = select_output(inner(torch.zeros(2, 4, seq_len, device=device)), output)
    tasks = as_tasks(out)
    return 1 if tasks.dim() == 1 else int(tasks.shape[1])


# ---------------------------------------------------------------- the pipeline's foreign models
#
# config ``model`` names the model (``checkpoint``: a .pt2 or ONNX file; or ``module``: the user's
# class, with ``kwargs`` and ``weights``), ``classes`` the outputs to explain, ``output`` and
# ``seq_len`` what the file may not say. :func:`open_foreign` loads and checks it (at start-up and
# in rule import_model), :func:`import_foreign` writes ``results/model/model.pt``: a seqlrp
# checkpoint with arch "external" that :func:`seqlrp.models.load_model` turns back into an
# :class:`ExternalModel` (:func:`from_checkpoint`).

class ForeignModelError(SeqlrpError):
    """A foreign model that does not fit its config; ``key`` is the config key to point at."""

    def __init__(self, key: tuple[str, ...], problem: str):
        super().__init__(problem)
        self.key = key


@dataclass(frozen=True)
class ForeignSpec:
    """The config's ``model`` section for a model from outside seqlrp."""

    classes: list[str] | dict[str, int]
    checkpoint: str | None = None
    module: str | None = None
    kwargs: dict = field(default_factory=dict)
    weights: str | None = None
    output: int | str | None = None
    seq_len: int | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ForeignSpec:
        classes = section.get("classes")
        if isinstance(classes, Mapping):
            classes = {str(k): v for k, v in classes.items()}
        elif classes is not None:
            classes = [str(c) for c in classes]
        return cls(classes=classes, checkpoint=section.get("checkpoint"), module=section.get("module"),
                   kwargs=dict(section.get("kwargs") or {}), weights=section.get("weights"),
                   output=section.get("output"), seq_len=section.get("seq_len"))

    @property
    def key(self) -> tuple[str, ...]:
        """The config key that names the model."""
        return ("model", "module") if self.module else ("model", "checkpoint")


def module_file(spec: str) -> str | None:
    """The Python file of a ``path/to/file.py:Class`` spec (None for ``package.module:Class``)."""
    target = spec.rpartition(":")[0] if isinstance(spec, str) else ""
    return target if target.endswith(".py") or "/" in target or os.sep in target else None


def declared_length(source: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """``(channels, length)`` of the input shape a model file declares (None where it does not say)."""
    shape = (source or {}).get("input_shape")
    if not shape or len(shape) != 3:
        return None, None
    channels, length = (shape[2], shape[1]) if source.get("channels_last") else (shape[1], shape[2])
    return channels, length


def open_foreign(spec: ForeignSpec, data_seq_len: int | None, *, device: str | torch.device = "cpu") -> ExternalModel:
    """Load the model ``spec`` names and check it, as an :class:`ExternalModel` on ``device``.

    Its seq_len is ``spec.seq_len``, else the length the file declares (the last input dimension,
    the middle one for a channels-last model), else ``data_seq_len``; it must equal
    ``data_seq_len`` (when given). The model must run on (2, 4, seq_len) zeros, ``spec.output``
    must pick one tensor and ``spec.classes`` must fit its tasks. Raises
    :class:`ForeignModelError` (one line, with the config key to blame).
    """
    if not spec.classes:
        raise ForeignModelError(("model", "classes"), "a model from outside seqlrp needs model.classes: the names of the "
                                "outputs to explain, a list in output order, or a mapping name -> output index")
    try:
        if spec.module:
            with torch.random.fork_rng(devices=[]):  # the class's initialisation must not move torch's generator
                inner = load_module(spec.module, spec.kwargs, spec.weights, device=device)
            source: dict[str, Any] = {"format": "module", "path": spec.module, "input_shape": None, "channels_last": False}
        else:
            inner = load_external(spec.checkpoint, device=device)
            source = dict(inner.seqlrp_source)
    except SeqlrpError as err:
        raise ForeignModelError(("model", "weights") if spec.weights and str(spec.weights) in str(err) else spec.key,
                                str(err)) from None
    name = spec.module or spec.checkpoint
    channels, declared = declared_length(source)
    if channels is not None and channels != 4:
        raise ForeignModelError(spec.key, f"{name}: the model takes {channels} input channels; seqlrp gives one-hot "
                                          "DNA, 4 channels (A, C, G, T)")
    if spec.seq_len is not None and declared is not None and spec.seq_len != declared:
        raise ForeignModelError(("model", "seq_len"), f"model.seq_len {spec.seq_len} differs from the input length "
                                                      f"{declared} that {name} declares")
    seq_len = spec.seq_len or declared or data_seq_len
    if seq_len is None:
        raise ForeignModelError(("model", "seq_len"), f"{name} does not say its input length: set model.seq_len")
    if data_seq_len is not None and seq_len != data_seq_len:
        said = "model.seq_len" if spec.seq_len else f"{name} declares"
        raise ForeignModelError(("seq_len",), f"the model takes {seq_len}-bp windows ({said}) but the data's windows "
                                              f"are {data_seq_len} bp: set seq_len: {seq_len}")
    try:
        tasks = n_tasks(inner, spec.output, seq_len, device)
    except SeqlrpError as err:
        raise ForeignModelError(("model", "output"), str(err)) from None
    except Exception as err:  # the user's forward, or the program, refuses the input
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ForeignModelError(spec.key, f"{name}: the model does not run on one-hot input of shape (2, 4, {seq_len}) "
                                          f"({type(err).__name__}: {text[:200]})") from None
    try:
        names, indices = class_indices(spec.classes, tasks)
    except SeqlrpError as err:
        raise ForeignModelError(("model", "classes"), str(err)) from None
    hparams = {"source": {k: v for k, v in source.items() if k != "path"}, "indices": indices}
    if spec.output is not None:
        hparams["output"] = spec.output
    if spec.module:
        hparams["source"].update(module=spec.module, kwargs=dict(spec.kwargs))
    info = ModelInfo("external", hparams, int(seq_len), names, provenance={"source": str(name)})
    return ExternalModel(inner, output=spec.output, indices=indices, info=info).eval()


def _plain(value: Any) -> Any:
    """JSON-like plain data (None allowed) for the checkpoint; TypeError for anything else."""
    if value is None or isinstance(value, bool):
        return value
    for kind in (str, int, float):  # subclasses (numpy scalars, torch's version string) become plain
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not plain data (str, int, float, bool, None, list, dict)")


def import_foreign(spec: ForeignSpec, info_path: str | os.PathLike, outputs: Mapping[str, str | os.PathLike]) -> ExternalModel:
    """Rule ``import_model`` for a foreign model: check it against the data (``dataset.json``) and write
    ``outputs["model"]``, a seqlrp checkpoint with arch "external"; a .pt2/ONNX file is copied to
    ``outputs["source"]`` (beside the checkpoint, which names it). Runs on the CPU."""
    import json
    import platform
    import shutil

    import numpy as np

    from .. import __version__
    from ..formats.atomic import atomic_path
    from ..provenance import sha256_file

    with open(info_path, encoding="utf-8") as handle:
        data = json.load(handle)
    try:
        model = open_foreign(spec, data["seq_len"])
    except ForeignModelError as err:
        raise SeqlrpError(f"config model: {err}") from None
    info = model.seqlrp_info
    target = Path(outputs["model"])
    hparams = dict(info.hparams)
    source = dict(hparams["source"])
    provenance = {"seqlrp": __version__, "torch": torch.__version__, "numpy": np.__version__,
                  "python": platform.python_version()}
    if spec.module:
        file = module_file(spec.module)
        if file is not None:  # a file spec is recorded with its absolute path: stages run the same file
            cls = spec.module.rpartition(":")[2]
            source["module"] = f"{Path(file).resolve()}:{cls}"
            provenance.update(source_path=str(file), source_sha256=sha256_file(file))
        else:
            provenance["source_path"] = spec.module
        if spec.weights:
            provenance.update(weights_path=str(spec.weights), weights_sha256=sha256_file(spec.weights))
        state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.inner.state_dict().items()}
    else:
        copy = Path(outputs["source"])
        if copy.parent != target.parent:
            raise SeqlrpError(f"import_model: the model file copy {copy} must lie beside {target}")
        with atomic_path(copy, suffix=copy.suffix) as tmp:
            shutil.copyfile(spec.checkpoint, tmp)
        source.update(file=copy.name, sha256=sha256_file(copy))
        provenance.update(source_path=str(spec.checkpoint), source_sha256=source["sha256"])
        state = {}
    hparams["source"] = source
    payload = {"format": FORMAT, "version": VERSION, "arch": "external", "hparams": _plain(hparams),
               "seq_len": int(info.seq_len), "classes": list(info.classes), "alphabet": info.alphabet,
               "provenance": _plain(provenance), "state_dict": state}
    write_payload(payload, target)
    return model


def from_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any], *, device: str | torch.device = "cpu") -> ExternalModel:
    """The :class:`ExternalModel` of an arch-"external" checkpoint (read by :func:`seqlrp.models.load_model`).

    A .pt2/ONNX model is loaded from the copy beside the checkpoint, which must still have the
    SHA-256 recorded at import (:func:`seqlrp.models.files.load_external`: no code from the file
    runs). A module-route model imports the class the checkpoint names — the user's own code,
    on this machine, as their config named it — and loads the checkpoint's state dict strictly.
    """
    from ..provenance import sha256_file

    path = Path(path)
    hparams = payload["hparams"]
    source = hparams.get("source") if isinstance(hparams.get("source"), Mapping) else {}
    indices = hparams.get("indices")
    if not isinstance(indices, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise CheckpointError(path, "external checkpoint: 'indices' is missing or not a list of output indices")
    fmt = source.get("format")
    if fmt in ("pt2", "onnx"):
        name = source.get("file")
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise CheckpointError(path, f"external checkpoint: model file {name!r} is not a file name beside the checkpoint")
        file = path.parent / name
        if not file.is_file():
            raise CheckpointError(path, f"the model file {name} it names is not beside it (in {path.parent})")
        if sha256_file(file) != source.get("sha256"):
            raise CheckpointError(file, "differs from the model file imported into the checkpoint beside it "
                                        "(SHA-256 changed); import the model again (rerun rule import_model)")
        inner = load_external(file, device=device)
    elif fmt == "module":
        spec = source.get("module")
        if not isinstance(spec, str):
            raise CheckpointError(path, "external checkpoint: no model class recorded")
        file = module_file(spec)
        if file is not None and not Path(file).is_file():
            given = payload["provenance"].get("source_path")
            if isinstance(given, str) and Path(given).is_file():  # the results moved with the run directory
                spec = f"{given}:{spec.rpartition(':')[2]}"
        with torch.random.fork_rng(devices=[]):
            inner = load_module(spec, source.get("kwargs") or {})
        try:
            inner.load_state_dict(payload["state_dict"], strict=True)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise CheckpointError(path, f"weights do not fit {spec}: {first}") from None
        inner = inner.to(device).eval()
    else:
        raise CheckpointError(path, f"external checkpoint: unknown model source format {fmt!r}")
    model = ExternalModel(inner, output=hparams.get("output"), indices=indices, info=info_of(payload))
    return model.to(device).eval()


def data_for(data, info):
    """The data set (:class:`~seqlrp.sequences.dataset.ExtractedData`) as a model sees it.

    A model of ours, or one whose classes are the data's: the data unchanged. A model from outside
    seqlrp names its own classes (``model.classes``): when some region set (class of the data) is
    named like a model class, those windows are that class's windows, the other sets' windows are
    labelled too, as windows of no model class (negatives in every class's metrics, explained by
    none), and a model class that no set is named like explains every window; when no set is
    named like a model class, no window has a class, and every window is explained by every model
    class, as genome-wide tiles are.
    """
    from dataclasses import replace

    from ..formats.table import UNLABELED

    classes = list(info.classes)
    if info.arch != "external" or list(data.classes) == classes:
        return data
    if any(c in classes for c in data.classes):
        return replace(data, classes=classes, others=[c for c in data.classes if c not in classes],
                       everywhere=[c for c in classes if c not in data.classes])
    table = replace(data.table, cls=[UNLABELED] * len(data.table))
    return replace(data, table=table, classes=classes, others=[])
