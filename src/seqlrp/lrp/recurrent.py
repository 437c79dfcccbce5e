"""LRP through ``aten.lstm`` (``nn.LSTM``, as in DanQ): the recurrence unrolled, gates as constants.

The rule of Arras et al. (2017): in ``c_t = f_t * c_{t-1} + i_t * g_t`` and
``h_t = o_t * tanh(c_t)`` the sigmoid gates ``i, f, o`` are constants (signal-take-all, as for
every gate, :mod:`.attention`), ``tanh`` passes relevance unchanged, the sum for ``c_t`` splits
it in proportion to its two terms (the initial state, a constant, absorbs its share), and the
cell input ``g_t = tanh(W_ig x_t + W_hg h_{t-1} + b)`` sends it to ``x_t`` and ``h_{t-1}`` by the
epsilon rule (the biases absorb their share). Layers and directions are walked back in reverse;
a bidirectional layer's output is the two directions' ``h`` side by side.

Shapes: input (N, T, F) with ``batch_first`` (else (T, N, F)); output (…, T, D * H).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.fx import Node

from .graph import ratio


def _direction(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, b: Tensor | None,
               reverse: bool) -> dict[str, list[Tensor]]:
    """Forward pass of one direction of one layer on ``x`` (N, T, F): every step's values."""
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    h, c = h0, c0
    saved: dict[str, list[Tensor]] = {k: [] for k in ("t", "h_prev", "c_prev", "i", "f", "g", "o", "c", "z_g")}
    hidden = w_hh.shape[1]
    for t in steps:
        z = x[:, t] @ w_ih.t() + h @ w_hh.t()
        if b is not None:
            z = z + b
        i, f, z_g, o = z.split(hidden, dim=-1)
        i, f, o, g = i.sigmoid(), f.sigmoid(), o.sigmoid(), z_g.tanh()
        c_new = f * c + i * g
        for key, value in (("t", t), ("h_prev", h), ("c_prev", c), ("i", i), ("f", f), ("g", g), ("o", o),
                           ("c", c_new), ("z_g", z_g)):
            saved[key].append(value)
        h, c = o * c_new.tanh(), c_new
    return saved


def _direction_backward(x: Tensor, saved: dict[str, list[Tensor]], r_h: Tensor, r_hn: Tensor | None,
                        r_cn: Tensor | None, w_ih: Tensor, w_hh: Tensor, stabilizer: float) -> Tensor:
    """Relevance of ``x`` (N, T, F) from the relevance ``r_h`` (N, T, H) of the direction's outputs."""
    hidden = w_hh.shape[1]
    w_ig, w_hg = w_ih[2 * hidden: 3 * hidden], w_hh[2 * hidden: 3 * hidden]
    r_x = torch.zeros_like(x)
    carry_h = torch.zeros_like(r_h[:, 0]) if r_hn is None else r_hn.clone()
    carry_c = torch.zeros_like(r_h[:, 0]) if r_cn is None else r_cn.clone()
    for k in range(len(saved["t"]) - 1, -1, -1):
        t = saved["t"][k]
        r_c = r_h[:, t] + carry_h + carry_c  # h = o * tanh(c): the gate o is a constant, tanh passes
        c, f, i, g = saved["c"][k], saved["f"][k], saved["i"][k], saved["g"][k]
        share = ratio(r_c, c, stabilizer)
        carry_c = f * saved["c_prev"][k] * share
        r_zg = i * g * share  # g = tanh(z_g) passes relevance to z_g
        s = ratio(r_zg, saved["z_g"][k], stabilizer)
        r_x[:, t] = x[:, t] * (s @ w_ig)
        carry_h = saved["h_prev"][k] * (s @ w_hg)
    return r_x


def lstm_backward(node: Node, env: dict, r: Any, stabilizer: float) -> Tensor:
    """Relevance of the input of ``aten.lstm.input`` (module docstring); ``r`` is the list of the
    relevance of its outputs (output, h_n, c_n; None where none arrives)."""
    x_node, hx, params, has_biases, num_layers, _dropout, _train, bidirectional, batch_first = node.args[:9]
    x = env[x_node]
    h0, c0 = (env[h] if isinstance(h, Node) else h for h in hx)
    weights = [env[p] for p in params]
    r = list(r) if isinstance(r, (tuple, list)) else [r, None, None]
    r_out = r[0] if r[0] is not None else torch.zeros_like(env[node][0])
    r_hn, r_cn = (r + [None, None])[1:3]
    if not batch_first:
        x, r_out = x.transpose(0, 1), r_out.transpose(0, 1)
    dirs = 2 if bidirectional else 1
    per = 4 if has_biases else 2
    hidden = h0.shape[-1]
    inputs, records = [x], []
    for layer in range(num_layers):  # forward pass, keeping each direction's steps
        outs = []
        for d in range(dirs):
            w = weights[(layer * dirs + d) * per: (layer * dirs + d + 1) * per]
            bias = w[2] + w[3] if has_biases else None
            saved = _direction(inputs[-1], h0[layer * dirs + d], c0[layer * dirs + d], w[0], w[1], bias, reverse=d == 1)
            order = sorted(range(len(saved["t"])), key=lambda k: saved["t"][k])
            outs.append(torch.stack([saved["o"][k] * saved["c"][k].tanh() for k in order], dim=1))
            records.append((w, saved))
        inputs.append(torch.cat(outs, dim=-1))
    for layer in range(num_layers - 1, -1, -1):  # backward pass, last layer first
        x_layer = inputs[layer]
        r_in = torch.zeros_like(x_layer)
        for d in range(dirs):
            w, saved = records[layer * dirs + d]
            index = layer * dirs + d  # h_n, c_n hold every layer's and direction's final state
            r_in = r_in + _direction_backward(
                x_layer, saved, r_out[..., d * hidden:(d + 1) * hidden], None if r_hn is None else r_hn[index],
                None if r_cn is None else r_cn[index], w[0], w[1], stabilizer)
        r_out = r_in
    return r_out if batch_first else r_out.transpose(0, 1)
