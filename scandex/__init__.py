"""scandex: watch folders of scans, OCR them to hOCR, and search the text with its boxes."""

__version__ = "0.1.0"
