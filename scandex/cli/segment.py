"""`scandex segment`: show how the page analysis sees a scan (line boxes, order, columns)."""
