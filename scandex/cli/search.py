"""`scandex search`: query the index and print matching scans, lines and boxes."""
