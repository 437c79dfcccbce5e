"""Turn a model into a flat list of :mod:`~seqlrp.lrp.graph` nodes, BatchNorm folded in.

Nothing of the caller's model is changed: folded weights are new tensors, other weights are
read (and cast only if ``x`` has another device or dtype). Nested ``nn.Sequential`` are
flattened; :class:`seqlrp.layers.Residual` becomes a node holding its body's nodes. A
BatchNorm1d right after a Conv1d/Linear of the same scope is folded into it, with Zennit's
formula ``w' = w * g / sqrt(var + eps)``, ``b' = (b - mean) * g / sqrt(var + eps) + beta``;
any other BatchNorm1d is applied in the forward pass and passes relevance through (Zennit's
``Pass``). BatchNorm and Dropout always act as in evaluation mode, whatever ``model.training``.

Zennit's merge leaves the BatchNorm in place as "identity" (mean 0, var 1, weight 1, bias 0),
which still divides by ``sqrt(1 + eps)``. By default (``exact_batchnorm=False``) a folded
BatchNorm keeps that step too, as a pass-through node: relevance then equals Zennit's to float32
rounding even where epsilon-LRP is ill-conditioned (ELU/Exp networks), at the price of
explaining a function that differs from the model by a factor ``1/sqrt(1 + eps)`` (5e-6 at
PyTorch's default eps) per BatchNorm. ``exact_batchnorm=True`` folds exactly.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlrpError
from ..layers import Exp, Residual
from .graph import Affine, AvgPool, Elementwise, Identity, MaxPool, Node, Reshape
from .graph import Residual as ResidualNode

SUPPORTED = (
    "Conv1d, Linear, BatchNorm1d, ReLU, ELU, GELU, Softplus, seqlrp.layers.Exp, MaxPool1d, AdaptiveMaxPool1d, "
    "AvgPool1d, AdaptiveAvgPool1d, Dropout, Identity, Flatten, Sequential, seqlrp.layers.Residual"
)


class UnsupportedLayerError(SeqlrpError, TypeError):
    """A model contains a layer the LRP engine has no rule for; the message names type and path."""


def _where(path: str) -> str:
    return f"'{path}'" if path else "the model's top level"


def _activation(module: nn.Module):
    """A non-in-place function for a supported activation module, or None."""
    if isinstance(module, nn.ReLU):
        return F.relu
    if isinstance(module, nn.ELU):
        return partial(F.elu, alpha=module.alpha)
    if isinstance(module, nn.GELU):
        return partial(F.gelu, approximate=module.approximate)
    if isinstance(module, nn.Softplus):
        return partial(F.softplus, beta=module.beta, threshold=module.threshold)
    if isinstance(module, Exp):
        return torch.exp
    return None


def _tensor(t: Tensor | None, like: Tensor) -> Tensor | None:
    return None if t is None else t.detach().to(device=like.device, dtype=like.dtype)


def _affine(module: nn.Module, path: str, like: Tensor) -> Affine:
    weight, bias = _tensor(module.weight, like), _tensor(module.bias, like)
    if isinstance(module, nn.Linear):
        return Affine(path, weight=weight, bias=bias, conv=False, kind=nn.Linear)
    if module.padding_mode != "zeros":
        raise UnsupportedLayerError(
            f"LRP: Conv1d at {_where(path)} uses padding_mode={module.padding_mode!r}; only 'zeros' is supported"
        )
    if isinstance(module.padding, str):  # "valid" or "same" (stride 1); "same" puts the odd pad on the right
        total = 0 if module.padding == "valid" else module.dilation[0] * (module.kernel_size[0] - 1)
        pad = (total // 2, total - total // 2)
    else:
        pad = (module.padding[0], module.padding[0])
    return Affine(
        path, weight=weight, bias=bias, conv=True, stride=module.stride[0], pad=pad,
        dilation=module.dilation[0], groups=module.groups, kind=nn.Conv1d,
    )


def _bn_stats(bn: nn.BatchNorm1d, path: str, like: Tensor):
    if bn.running_mean is None or bn.running_var is None:
        raise UnsupportedLayerError(
            f"LRP: BatchNorm1d at {_where(path)} has no running statistics (track_running_stats=False); "
            "it cannot be folded or evaluated per sample"
        )
    mean, var = _tensor(bn.running_mean, like), _tensor(bn.running_var, like)
    gamma = _tensor(bn.weight, like) if bn.weight is not None else torch.ones_like(mean)
    beta = _tensor(bn.bias, like) if bn.bias is not None else torch.zeros_like(mean)
    return mean, var, gamma, beta


def _fold(affine: Affine, bn: nn.BatchNorm1d, path: str, like: Tensor) -> None:
    """Fold ``bn`` into ``affine`` (new tensors; the module's own parameters are untouched)."""
    mean, var, gamma, beta = _bn_stats(bn, path, like)
    scale = gamma / (var + bn.eps) ** 0.5
    index = (slice(None),) + (None,) * (affine.weight.dim() - 1)
    affine.weight = affine.weight * scale[index]
    bias = affine.bias if affine.bias is not None else torch.zeros_like(mean)
    affine.bias = (bias - mean) * scale + beta


def _zennit_identity(bn: nn.BatchNorm1d, path: str, like: Tensor) -> Identity:
    """What Zennit's merged BatchNorm still computes: ``x / sqrt(1 + eps)``, relevance passed."""
    c = bn.num_features
    zeros, ones = like.new_zeros(c), like.new_ones(c)
    return Identity(path, fn=partial(F.batch_norm, running_mean=zeros, running_var=ones, weight=ones,
                                     bias=zeros, training=False, eps=bn.eps))


def _batchnorm(bn: nn.BatchNorm1d, path: str, like: Tensor) -> Identity:
    mean, var, gamma, beta = _bn_stats(bn, path, like)
    return Identity(path, fn=partial(F.batch_norm, running_mean=mean, running_var=var, weight=gamma,
                                     bias=beta, training=False, eps=bn.eps))


def _maxpool(module: nn.Module, path: str) -> MaxPool:
    if isinstance(module, nn.AdaptiveMaxPool1d):
        fn = partial(F.adaptive_max_pool1d, output_size=module.output_size, return_indices=True)
    else:
        fn = partial(
            F.max_pool1d, kernel_size=module.kernel_size, stride=module.stride, padding=module.padding,
            dilation=module.dilation, ceil_mode=module.ceil_mode, return_indices=True,
        )
    return MaxPool(path, fn=fn)


def _single(v):
    return v[0] if isinstance(v, (tuple, list)) else v


def _avgpool(module: nn.Module, path: str, stabilizer: float) -> AvgPool:
    if isinstance(module, nn.AdaptiveAvgPool1d):
        def grad(s: Tensor, x: Tensor) -> Tensor:
            return torch.ops.aten._adaptive_avg_pool2d_backward(s.unsqueeze(-2), x.unsqueeze(-2)).squeeze(-2)

        return AvgPool(path, fn=module.forward, grad=grad, stabilizer=stabilizer)
    k, st, p = _single(module.kernel_size), _single(module.stride), _single(module.padding)

    def grad(s: Tensor, x: Tensor) -> Tensor:
        return torch.ops.aten.avg_pool2d_backward(
            s.unsqueeze(-2), x.unsqueeze(-2), [1, k], [1, st], [0, p], module.ceil_mode, module.count_include_pad, None
        ).squeeze(-2)

    return AvgPool(path, fn=module.forward, grad=grad, stabilizer=stabilizer)


def _leaves(module: nn.Module, path: str) -> list[tuple[str, nn.Module]]:
    """(path, module) of a Sequential's items in order, nested Sequentials flattened."""
    if not isinstance(module, nn.Sequential):
        return [(path, module)]
    items = []
    for name, child in module.named_children():
        items += _leaves(child, f"{path}.{name}" if path else name)
    return items


def build(
    model: nn.Module, like: Tensor, *, stabilizer: float = 1e-6, exact_batchnorm: bool = False, _path: str = ""
) -> list[Node]:
    """The nodes of ``model`` (an ``nn.Sequential`` or one supported layer) in forward order.

    ``like``: a tensor whose device and dtype the node parameters take (the input ``x``).
    ``exact_batchnorm``: fold BatchNorm exactly instead of as Zennit does (module docstring).
    Raises :class:`UnsupportedLayerError` naming the type and path of any other layer.
    """
    nodes: list[Node] = []
    previous: nn.Module | None = None
    for path, module in _leaves(model, _path):
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            nodes.append(_affine(module, path, like))
        elif isinstance(module, nn.BatchNorm1d):
            last = nodes[-1] if nodes else None
            foldable = isinstance(previous, (nn.Conv1d, nn.Linear)) and isinstance(last, Affine)
            if foldable and module.num_features == last.weight.shape[0]:
                _fold(last, module, path, like)
                if not exact_batchnorm:
                    nodes.append(_zennit_identity(module, path, like))
            else:
                nodes.append(_batchnorm(module, path, like))
        elif _activation(module) is not None:
            nodes.append(Elementwise(path, fn=_activation(module)))
        elif isinstance(module, (nn.MaxPool1d, nn.AdaptiveMaxPool1d)):
            nodes.append(_maxpool(module, path))
        elif isinstance(module, (nn.AvgPool1d, nn.AdaptiveAvgPool1d)):
            nodes.append(_avgpool(module, path, stabilizer))
        elif isinstance(module, (nn.modules.dropout._DropoutNd, nn.Identity)):
            nodes.append(Identity(path))
        elif isinstance(module, nn.Flatten):
            nodes.append(Reshape(path, fn=module.forward))
        elif isinstance(module, Residual):
            body = build(module.body, like, stabilizer=stabilizer, exact_batchnorm=exact_batchnorm,
                         _path=f"{path}.body" if path else "body")
            nodes.append(ResidualNode(path, body=body, stabilizer=stabilizer))
        else:
            raise UnsupportedLayerError(
                f"LRP: unsupported layer {type(module).__name__} at {_where(path)} (supported: {SUPPORTED})"
            )
        previous = module
    return nodes


def affines(nodes: list[Node]) -> list[Affine]:
    """All Affine nodes in forward order, descending into residual bodies."""
    found: list[Affine] = []
    for node in nodes:
        if isinstance(node, Affine):
            found.append(node)
        elif isinstance(node, ResidualNode):
            found += affines(node.body)
    return found
