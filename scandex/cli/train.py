"""`scandex train`: train or fine-tune the line recognizer (needs the `train` extra)."""
