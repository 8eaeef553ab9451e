"""`scandex ocr`: recognize images (pages or single lines) and print text, hOCR or JSON."""
