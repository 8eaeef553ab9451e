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
            parts = _new_unit_parts(name, tensor.shape, old_hidden, hidden)
            if parts is None:
                tensor.copy_(old[name])
                continue
            rows, columns = parts
            tensor.mul_(scale)
            # The old weights fill what is not the new units', in the same order.
            tensor[~_mask(rows, columns)] = old[name].flatten()
            if columns is not None:
                tensor[~rows[:, None] & columns[None, :]] = 0.0  # new units -> old ones
    grown.load_state_dict(state)
    return grown


def new_unit_masks(model: LineRecognizer, old_hidden: int) -> dict[str, torch.Tensor]:
    """For a model `widened` from `old_hidden` units: per LSTM and classifier tensor, True at
    the weights of the units added (their own rows, and the columns their outputs feed)."""
    hidden = model.config.lstm_hidden
    masks = {}
    for name, tensor in model.state_dict().items():
        parts = _new_unit_parts(name, tensor.shape, old_hidden, hidden)
        if parts is not None:
            masks[name] = _mask(*parts)
    return masks


def _new_unit_parts(
    name: str, shape: torch.Size, old_hidden: int, hidden: int
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """Which rows of a widened tensor belong to new units (an LSTM's four gates of `hidden`,
    the last `hidden - old_hidden` of each) and which columns carry new units' outputs (a
    recurrent weight's states; a later layer's or the classifier's input, the forward then
    the backward states); None for a tensor widening leaves alone (convolutions, the
    classifier's bias). Columns are None for a bias."""
    if not (name.startswith("lstm.") or name == "classifier.weight"):
        return None
    rows = torch.zeros(shape[0], dtype=torch.bool)
    if name.startswith("lstm."):
        for gate in range(4):
            rows[gate * hidden + old_hidden : (gate + 1) * hidden] = True
    if name.startswith("lstm.bias"):
        return rows, None
    new_states = torch.arange(hidden) >= old_hidden
    if name.startswith("lstm.weight_hh"):
        return rows, new_states
    if name.startswith("lstm.weight_ih_l0"):  # the convolutions' features: none new
        return rows, torch.zeros(shape[1], dtype=torch.bool)
    return rows, torch.cat([new_states, new_states])


def _mask(rows: torch.Tensor, columns: torch.Tensor | None) -> torch.Tensor:
    """Rows x columns mask: True in a new row or a new column."""
    return rows.clone() if columns is None else rows[:, None] | columns[None, :]
