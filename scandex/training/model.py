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


# The front end halves the height three times: one LSTM feature row per 8 image rows.
ROWS_PER_FEATURE_ROW = 8


def with_rows_above(model: LineRecognizer, rows: int) -> LineRecognizer:
    """The same network for images `rows` taller, the new rows on top, reading the old rows
    as it did: the LSTM's weights from the new feature rows start at zero, so training goes
    on from what the network knew rather than from scratch. `rows` must be a multiple of 8,
    so that the old rows keep their place in the front end's pooling.
    """
    if rows <= 0 or rows % ROWS_PER_FEATURE_ROW:
        raise ValueError(f"rows above must be a positive multiple of {ROWS_PER_FEATURE_ROW}")
    config = replace(model.config, height_px=model.config.height_px + rows)
    channels = config.conv_channels[-1]
    old_rows = model.config.height_px // ROWS_PER_FEATURE_ROW
    new_rows = config.height_px // ROWS_PER_FEATURE_ROW
    state = model.state_dict()
    for direction in ("", "_reverse"):
        key = f"lstm.weight_ih_l0{direction}"
        # Features are ordered channel-major (channel * rows + row), as `forward` flattens them.
        old = state[key].reshape(-1, channels, old_rows)
        grown = torch.zeros(old.shape[0], channels, new_rows, dtype=old.dtype)
        grown[:, :, new_rows - old_rows :] = old
        state[key] = grown.reshape(old.shape[0], channels * new_rows)
    result = LineRecognizer(config)
    result.load_state_dict(state)
    result.frozen_batchnorm = model.frozen_batchnorm
    return result
