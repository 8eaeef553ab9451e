"""The OCR engine: `ocr_file(path) -> Document` and `ocr_image(gray) -> Page`.

Stages, one module each: io (decode), binarize (flatten, threshold), deskew (the skew, the
level frame, boxes mapped back to the original), segment (scale, columns, lines),
reading_order, lines (cut each line's own image), normalize, recognize (ONNX LSTM+CTC), ctc
(decoding), pipeline (chains them into the page model), hocr (file format).
"""

from scandex.ocr.pipeline import OcrParams, get_recognizer, ocr_file, ocr_image

__all__ = ["OcrParams", "get_recognizer", "ocr_file", "ocr_image"]
