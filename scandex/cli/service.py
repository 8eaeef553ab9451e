"""`scandex run`, `status`, `reindex`: the watch-folder daemon and its bookkeeping."""
