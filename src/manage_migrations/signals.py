"""SIGINT (Ctrl-C) and SIGTERM (a container stopping) stop a command at once, even while a
statement waits inside a database driver.

Python runs a signal handler only between bytecodes, so a statement blocked in C (libpq
waiting for a lock, SQLite's busy wait) would keep the command deaf until it returned. The
C-level handler also writes the signal to a wakeup pipe; a thread reading it tells every
running statement to stop, the way each database lets another thread do it (a cancel request,
``sqlite3_interrupt``, ``KILL QUERY``). The statement then fails, and the handler's
``Interrupted`` goes up through the command's one error path.

Nothing here imports SQLAlchemy: ``manage_migrations.database`` adds each connection it checks out.
"""
import os
import signal
import threading
import time

from manage_migrations.output import Interrupted

# How to stop the statement each checked-out connection runs, by connection: a callable the
# database's driver makes safe to call from another thread.
STATEMENT_STOPPERS: dict[object, object] = {}
# Set once the statements running when a signal arrived have been told to stop.
STOPPED = threading.Event()


def install() -> None:
    """Make SIGINT and SIGTERM raise ``Interrupted`` (exit 130 and 143) and cancel what runs."""

    def stop(signum, frame):
        Interrupted.received = signum
        raise Interrupted(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    # Neither end is ever closed: were the writer's number reused by a database socket, a
    # signal would write into that.
    global _stopper
    _stopper = threading.Thread(target=_stop_statements_on_signal, args=(reader,), name="stop statements", daemon=True)
    _stopper.start()


_stopper: threading.Thread | None = None


def wait_for_statements_to_stop(timeout: float = 5) -> None:
    """Before saying where the database stands: a statement not yet stopped could still change
    it (MariaDB goes on with a statement whose client has gone, until it notices)."""
    if _stopper is not None:
        STOPPED.wait(timeout)


# How long a stopped command may take to say where the database stands before the process ends
# without it: a server that does not answer (a frozen pooler, a route gone dark) would otherwise
# keep it waiting for as long as the network keeps the connection open.
GRACE = 5
# What is said then, kept current by the executor as each step starts.
UNANSWERED = "Interrupted: the database did not answer, so the process ended without it."
unanswered = UNANSWERED


def _stop_statements_on_signal(reader: int) -> None:
    while True:
        signum = os.read(reader, 64)
        if not signum:
            return
        threading.Thread(target=_end_unanswered, args=(signum[-1],), name="grace", daemon=True).start()
        for stop_statement in list(STATEMENT_STOPPERS.values()):
            try:
                stop_statement()
            except Exception:
                pass  # the connection may have closed meanwhile: nothing left to stop
        STOPPED.set()


def _end_unanswered(signum: int) -> None:
    """The last resort: when a signal's command has not ended within GRACE seconds (its cancel
    request, or the answer its driver waits for, is stuck in the network), say so and end the
    process. The open transaction is the server's to roll back once it notices."""
    time.sleep(GRACE)
    os.write(2, f"{unanswered}\n".encode())
    os._exit(128 + signum)
