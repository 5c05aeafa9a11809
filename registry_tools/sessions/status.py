"""The names of a session's statuses, with no imports: the session model, its stores and the fast
path of ``sessions list`` all read them."""

LAUNCHING, RUNNING, STOPPED, COMPLETED, FAILED = "launching", "running", "stopped", "completed", "failed"
ACTIVE = (LAUNCHING, RUNNING, STOPPED)
FINISHED = (COMPLETED, FAILED)
