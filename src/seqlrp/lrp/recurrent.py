"""LRP through ``aten.lstm`` and ``aten.gru`` (``nn.LSTM`` as in DanQ, ``nn.GRU``): the recurrence
unrolled, gates as constants.

The rule of Arras et al. (2017): in ``c_t = f_t * c_{t-1} + i_t * g_t`` and
``h_t = o_t * tanh(c_t)`` the sigmoid gates ``i, f, o`` are constants (signal-take-all, as for
every gate, :mod:`.attention`), ``tanh`` passes relevance unchanged, the sum for ``c_t`` splits
it in proportion to its two terms (the initial state, a constant, absorbs its share), and the
cell input ``g_t = tanh(W_ig x_t + W_hg h_{t-1} + b)`` sends it to ``x_t`` and ``h_{t-1}`` by the
epsilon rule (the biases absorb their share). Layers and directions are walked back in reverse;
a bidirectional layer's output is the two directions' ``h`` side by side. A GRU the same way:
``h_t = (1 - z) n + z h_{t-1}`` splits by contribution with ``z`` constant,
``n = tanh(W_in x + b_in + r (W_hn h_{t-1} + b_hn))`` passes and splits with ``r`` constant.

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


def _gru_direction(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None,
                   reverse: bool) -> dict[str, list[Tensor]]:
    """Forward pass of one GRU direction on ``x`` (N, T, F), gates r, z, n in PyTorch's order."""
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    h = h0
    saved: dict[str, list[Tensor]] = {k: [] for k in ("t", "h_prev", "z", "n", "h", "gi_n", "gh_n", "r", "pre_n")}
    for t in steps:
        gi, gh = x[:, t] @ w_ih.t(), h @ w_hh.t()
        if b_ih is not None:
            gi, gh = gi + b_ih, gh + b_hh
        (gi_r, gi_z, gi_n), (gh_r, gh_z, gh_n) = gi.chunk(3, -1), gh.chunk(3, -1)
        r, z = (gi_r + gh_r).sigmoid(), (gi_z + gh_z).sigmoid()
        pre_n = gi_n + r * gh_n
        n = pre_n.tanh()
        h_new = (1 - z) * n + z * h
        for key, value in (("t", t), ("h_prev", h), ("z", z), ("n", n), ("h", h_new), ("gi_n", gi_n), ("gh_n", gh_n),
                           ("r", r), ("pre_n", pre_n)):
            saved[key].append(value)
        h = h_new
    saved["out"] = saved["h"]
    return saved


def _gru_direction_backward(x: Tensor, saved: dict[str, list[Tensor]], r_h: Tensor, r_hn: Tensor | None,
                            w_ih: Tensor, w_hh: Tensor, stabilizer: float) -> Tensor:
    """Relevance of ``x`` (N, T, F) of one GRU direction: ``h = (1 - z) n + z h_prev`` split by
    contribution (the gates constant), ``n = tanh(gi_n + r gh_n)`` passes and splits, then epsilon."""
    hidden = w_hh.shape[1]
    w_in, w_hn = w_ih[2 * hidden:], w_hh[2 * hidden:]
    r_x = torch.zeros_like(x)
    carry = torch.zeros_like(r_h[:, 0]) if r_hn is None else r_hn.clone()
    for k in range(len(saved["t"]) - 1, -1, -1):
        t = saved["t"][k]
        share = ratio(r_h[:, t] + carry, saved["h"][k], stabilizer)
        z, n, h_prev = saved["z"][k], saved["n"][k], saved["h_prev"][k]
        carry = z * h_prev * share
        s = ratio((1 - z) * n * share, saved["pre_n"][k], stabilizer)  # tanh passes to pre_n
        gi_n, gh_n = saved["gi_n"][k], saved["gh_n"][k]
        r_x[:, t] = x[:, t] * (ratio(gi_n * s, gi_n, stabilizer) @ w_in)
        carry = carry + h_prev * (ratio(saved["r"][k] * gh_n * s, gh_n, stabilizer) @ w_hn)
    return r_x


def _lstm_step_fns(weights, has_biases: bool, h0: Tensor, c0: Tensor, stabilizer: float):
    per = 4 if has_biases else 2

    def forward(x: Tensor, index: int, reverse: bool):
        w = weights[index * per: (index + 1) * per]
        saved = _direction(x, h0[index], c0[index], w[0], w[1], w[2] + w[3] if has_biases else None, reverse)
        saved["out"] = [o * c.tanh() for o, c in zip(saved["o"], saved["c"])]
        return w, saved

    def backward(x: Tensor, w, saved, r_h: Tensor, finals: list, index: int) -> Tensor:
        r_hn, r_cn = (None if f is None else f[index] for f in finals)
        return _direction_backward(x, saved, r_h, r_hn, r_cn, w[0], w[1], stabilizer)

    return forward, backward


def _gru_step_fns(weights, has_biases: bool, h0: Tensor, stabilizer: float):
    per = 4 if has_biases else 2

    def forward(x: Tensor, index: int, reverse: bool):
        w = weights[index * per: (index + 1) * per]
        b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
        return w, _gru_direction(x, h0[index], w[0], w[1], b_ih, b_hh, reverse)

    def backward(x: Tensor, w, saved, r_h: Tensor, finals: list, index: int) -> Tensor:
        return _gru_direction_backward(x, saved, r_h, None if finals[0] is None else finals[0][index], w[0], w[1],
                                       stabilizer)

    return forward, backward


def _walk(x: Tensor, r_out: Tensor, finals: list, num_layers: int, dirs: int, hidden: int, forward, backward,
          batch_first: bool) -> Tensor:
    """Every layer and direction forward (keeping their steps), then the relevance back, last layer first."""
    if not batch_first:
        x, r_out = x.transpose(0, 1), r_out.transpose(0, 1)
    inputs, records = [x], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            w, saved = forward(inputs[-1], layer * dirs + d, d == 1)
            order = sorted(range(len(saved["t"])), key=lambda k: saved["t"][k])
            outs.append(torch.stack([saved["out"][k] for k in order], dim=1))
            records.append((w, saved))
        inputs.append(torch.cat(outs, dim=-1))
    for layer in range(num_layers - 1, -1, -1):
        r_in = torch.zeros_like(inputs[layer])
        for d in range(dirs):
            index = layer * dirs + d  # the final states hold every layer's and direction's last step
            w, saved = records[index]
            r_in = r_in + backward(inputs[layer], w, saved, r_out[..., d * hidden:(d + 1) * hidden], finals, index)
        r_out = r_in
    return r_out if batch_first else r_out.transpose(0, 1)


def lstm_backward(node: Node, env: dict, r: Any, stabilizer: float) -> Tensor:
    """Relevance of the input of ``aten.lstm.input`` (module docstring); ``r`` is the list of the
    relevance of its outputs (output, h_n, c_n; None where none arrives)."""
    x_node, hx, params, has_biases, num_layers, _dropout, _train, bidirectional, batch_first = node.args[:9]
    h0, c0 = (env[h] if isinstance(h, Node) else h for h in hx)
    r = list(r) if isinstance(r, (tuple, list)) else [r, None, None]
    r_out = r[0] if r[0] is not None else torch.zeros_like(env[node][0])
    forward, backward = _lstm_step_fns([env[p] for p in params], has_biases, h0, c0, stabilizer)
    return _walk(env[x_node], r_out, (r + [None, None])[1:3], num_layers, 2 if bidirectional else 1, h0.shape[-1],
                 forward, backward, batch_first)


def gru_backward(node: Node, env: dict, r: Any, stabilizer: float) -> Tensor:
    """Relevance of the input of ``aten.gru.input``: the GRU unrolled, its gates r and z constants."""
    x_node, hx, params, has_biases, num_layers, _dropout, _train, bidirectional, batch_first = node.args[:9]
    h0 = env[hx] if isinstance(hx, Node) else hx
    r = list(r) if isinstance(r, (tuple, list)) else [r, None]
    r_out = r[0] if r[0] is not None else torch.zeros_like(env[node][0])
    forward, backward = _gru_step_fns([env[p] for p in params], has_biases, h0, stabilizer)
    return _walk(env[x_node], r_out, (r + [None])[1:2], num_layers, 2 if bidirectional else 1, h0.shape[-1],
                 forward, backward, batch_first)
