"""The line recognizer network: a small convolutional front end, one BiLSTM, CTC outputs.

The convolutions shrink the width four times before the LSTM, because on a CPU the LSTM's
sequential steps dominate the cost: fewer, richer time steps buy speed at little accuracy cost
(each output step still covers about a quarter of a character's width at our scale).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
