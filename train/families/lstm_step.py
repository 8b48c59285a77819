"""One step of an embedding and a stacked LSTM, written out as plain matrix products for export.

Exported as it is, one step of `nn.LSTM` becomes ONNX's LSTM operator wrapped in some eighty slices,
reshapes and transposes, and at batch 1 on one CPU thread that plumbing costs more than the arithmetic.
Written out, each layer is one matrix product over [input, hidden] plus a few element-wise operations,
and the first layer's input product folds into the embedding: each token's row of (embedding x input
weights + biases) is looked up instead of multiplied. The numbers are the same as the trained model's
(the export's parity check compares this graph with the model itself); the step is faster.
"""

from __future__ import annotations

import torch
from torch import nn


class FusedLSTMStep(nn.Module):
    """(token, h, c) -> (readout of the top layer, h_out, c_out), the state shaped [layers, batch, hidden]."""

    def __init__(self, embed: nn.Embedding, lstm: nn.LSTM, readout: nn.Module) -> None:
        super().__init__()
        self.readout = readout
        self.layers = lstm.num_layers
        with torch.no_grad():
            # row t: what token t adds to the first layer's gates (PyTorch's gate order: i, f, g, o)
            self.first_input = nn.Parameter(embed.weight @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0,
                                            requires_grad=False)
            self.first_hidden = nn.Parameter(lstm.weight_hh_l0.T.contiguous(), requires_grad=False)
            self.upper_weights = nn.ParameterList(
                nn.Parameter(torch.cat([getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")], 1)
                             .T.contiguous(), requires_grad=False)
                for k in range(1, self.layers))
            self.upper_biases = nn.ParameterList(
                nn.Parameter(getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}"), requires_grad=False)
                for k in range(1, self.layers))

    @staticmethod
    def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        in_gate, forget_gate, candidate, out_gate = gates.chunk(4, dim=-1)
        c_out = torch.sigmoid(forget_gate) * c + torch.sigmoid(in_gate) * torch.tanh(candidate)
        return torch.sigmoid(out_gate) * torch.tanh(c_out), c_out

    def forward(self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        x, c_first = self._cell(self.first_input[token] + h[0] @ self.first_hidden, c[0])
        hs, cs = [x], [c_first]
        for k, (weights, bias) in enumerate(zip(self.upper_weights, self.upper_biases), start=1):
            x, c_k = self._cell(torch.cat([x, h[k]], dim=-1) @ weights + bias, c[k])
            hs.append(x)
            cs.append(c_k)
        return self.readout(x), torch.stack(hs), torch.stack(cs)


def lstm_state_layout(layers: int, hidden_size: int) -> list[dict]:
    """The state of a stacked LSTM as the runtime threads it (duetto.model.step_model.StateSpec): h and c,
    each [layers, batch, hidden] with the batch on axis 1, fed back as returned."""
    shape = [layers, 1, hidden_size]
    return [{"input": name, "output": f"{name}_out", "shape": shape, "dtype": "float32", "batch_axis": 1}
            for name in ("h", "c")]
