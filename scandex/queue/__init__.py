"""OCR on other machines: the daemon queues jobs on Redis (RQ), `scandex worker`s run them.

With `[queue] backend = "redis"` the daemon still watches, settles, hashes, keeps the state
store and owns the index; instead of its own worker processes it puts a job on an RQ queue
for each scan to read (`remote.RemoteWorkers`, the daemon's side), and `scandex worker`
processes on any machine that mounts the scans take them (`worker`, the workers' side).

- A job carries a reference, never bytes (`jobs.Ticket`): the watched folder, the path
  below it, size, SHA-256 of the content and the model's SHA-256. Its id is made of the
  content's and the model's hashes, enqueued with RQ's `unique`, so one content is never
  OCRed twice at once by one model.
- Each model has its own queue (`jobs.queue_name`): a worker takes only jobs for the model
  it has loaded, and a job for a model no worker runs waits, visible in `scandex status`.
- A worker re-checks the size and the hash before it reads, writes the hOCR (and the
  searchable PDF) beside the scan by the daemon's rules, and returns the page model
  (`jobs.document_to_wire`); the daemon indexes it and marks the file done after its index
  commit, as with local workers. Jobs and results are JSON (RQ's JSONSerializer): nothing in
  Redis is ever unpickled.
"""
