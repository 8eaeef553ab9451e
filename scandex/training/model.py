"""The line recognizer network: a small convolutional front end, one BiLSTM, CTC outputs.

The convolutions shrink the width four times before the LSTM, because on a CPU the LSTM's
sequential steps dominate the cost: fewer, richer time steps buy speed at little accuracy cost
(each output step still covers about a quarter of a character's width at our scale).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    height_px: int = 32
    num_classes: int = 0
    conv_channels: tuple[int, int, int] = (16, 32, 48)
    lstm_hidden: int = 128
    lstm_layers: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict) -> ModelConfig:
        data = dict(data)
        data["conv_channels"] = tuple(data["conv_channels"])
        return ModelConfig(**data)


def _conv_block(in_ch: int, out_ch: int, pool: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool, pool),
    )


class LineRecognizer(nn.Module):
    """(batch, 1, height, width) ink images -> (batch, width // 4, classes) log-probabilities."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3 = config.conv_channels
        self.convs = nn.Sequential(
            _conv_block(1, c1, (2, 2)),
            _conv_block(c1, c2, (2, 2)),
            _conv_block(c2, c3, (2, 1)),
        )
        features = c3 * (config.height_px // 8)
        self.lstm = nn.LSTM(
            features,
            config.lstm_hidden,
            num_layers=config.lstm_layers,
            bidirectional=True,
            batch_first=True,
        )
        self.classifier = nn.Linear(2 * config.lstm_hidden, config.num_classes)

    # Set when the weights come from an exported model, whose BatchNorm was folded into the
    # convolutions: batch statistics must not replace the folded (identity) normalization.
    frozen_batchnorm: bool = False

    def train(self, mode: bool = True) -> LineRecognizer:
        super().train(mode)
        if self.frozen_batchnorm:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.convs(images)  # (B, C, H/8, W/4)
        batch, channels, rows, steps = x.shape
        x = x.permute(0, 3, 1, 2).reshape(batch, steps, channels * rows)
        x, _ = self.lstm(x)
        return torch.log_softmax(self.classifier(x), dim=-1)


def widened(model: LineRecognizer, hidden: int, *, scale: float = 0.5) -> LineRecognizer:
    """The same network with `hidden` units in each LSTM direction instead of its own: it
    reads exactly as `model` until training puts the new units to use.

    The old units keep their weights; the new ones get PyTorch's random incoming weights
    (times `scale`) and zero outgoing ones (into the old units' gates, the next layer and the
    classifier), so nothing they compute reaches the output yet, while their gradients do.
    Capacity grown this way keeps what a model trained for days knows, where a wider model
    from scratch would need those days again on a CPU."""
    old_hidden = model.config.lstm_hidden
    if hidden < old_hidden:
        raise ValueError(f"cannot narrow the LSTM from {old_hidden} to {hidden} units")
    grown = LineRecognizer(replace(model.config, lstm_hidden=hidden))
    grown.frozen_batchnorm = model.frozen_batchnorm
    old = model.state_dict()
    state = grown.state_dict()
    with torch.no_grad():
        for name, tensor in state.items():
            if name.startswith("lstm."):
                tensor.mul_(scale)
                _place_lstm_weights(name, old[name], tensor, old_hidden, hidden)
            elif name == "classifier.weight":
                tensor.zero_()
                _place_directions(old[name], tensor, old_hidden, hidden)
            else:
                tensor.copy_(old[name])
    grown.load_state_dict(state)
    return grown


def _place_lstm_weights(
    name: str, old: torch.Tensor, new: torch.Tensor, old_hidden: int, hidden: int
) -> None:
    """Copy one LSTM tensor's old rows (four gates of `old_hidden`, now of `hidden`) into
    `new`, zeroing the columns through which the new units would reach the old ones."""
    for gate in range(4):
        rows_old = old[gate * old_hidden : (gate + 1) * old_hidden]
        rows_new = new[gate * hidden : gate * hidden + old_hidden]
        if name.startswith("lstm.bias") or (name.startswith("lstm.weight_ih_l0")):
            rows_new.copy_(rows_old)  # a bias, or the first layer's input: the conv features
            continue
        rows_new.zero_()
        if name.startswith("lstm.weight_hh"):
            rows_new[:, :old_hidden] = rows_old
        else:  # a later layer's input: the forward then the backward states of the one below
            _place_directions(rows_old, rows_new, old_hidden, hidden)


def _place_directions(old: torch.Tensor, new: torch.Tensor, old_hidden: int, hidden: int) -> None:
    """Columns over [forward states, backward states]: the old ones at the start of each half."""
    new[:, :old_hidden] = old[:, :old_hidden]
    new[:, hidden : hidden + old_hidden] = old[:, old_hidden:]


def new_unit_masks(model: LineRecognizer, old_hidden: int) -> dict[str, torch.Tensor]:
    """For a model `widened` from `old_hidden` units: per LSTM and classifier tensor, True at
    the weights of the units added (their own rows, and the columns their outputs feed)."""
    hidden = model.config.lstm_hidden
    new_rows = torch.zeros(4 * hidden, dtype=torch.bool)
    for gate in range(4):
        new_rows[gate * hidden + old_hidden : (gate + 1) * hidden] = True
    new_states = torch.zeros(hidden, dtype=torch.bool)
    new_states[old_hidden:] = True
    both_directions = torch.cat([new_states, new_states])
    masks = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("lstm.bias"):
            masks[name] = new_rows.clone()
        elif name.startswith("lstm.weight"):
            if name.startswith("lstm.weight_hh"):
                columns = new_states
            elif name.startswith("lstm.weight_ih_l0"):
                columns = torch.zeros(tensor.shape[1], dtype=torch.bool)
            else:
                columns = both_directions
            masks[name] = new_rows[:, None] | columns[None, :]
        elif name == "classifier.weight":
            masks[name] = both_directions[None, :].expand(tensor.shape[0], -1).clone()
    return masks
