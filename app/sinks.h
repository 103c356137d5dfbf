/* SPDX-License-Identifier: MIT */
/*
 * sinks.h — the pipes the answers go to, which a stop must not wait on.
 *
 * The per-file lines, the summary, a --report or --trace FIFO: a reader that
 * stopped reading (`imgpool ... | sleep 600`, a FIFO opened and never read)
 * holds the run in a write once the pipe is full, and a signal could not stop it:
 * the write it interrupted was retried by the next one. The signal handler
 * therefore makes the noted pipes non-blocking (sinks_unblock()): the write it
 * interrupted returns, later ones that do not fit fail, and the run says what
 * was lost (a stream's error flag). sinks_restore() puts the flags back, since a
 * pipe's description is shared with the shell's other commands.
 *
 * One set per process. sinks_note(), sinks_forget() and sinks_restore() are for
 * the main thread (they hold INT, TERM, HUP and ALRM back while they change the
 * set, so the handler never sees it half made); sinks_unblock() and
 * sinks_restore_from_handler() are async-signal-safe.
 */
#ifndef IMGPOOL_SINKS_H
#define IMGPOOL_SINKS_H

/* Add fd when it is a pipe, FIFO or socket in blocking mode (anything else, or
 * -1, is ignored: a file or terminal does not stall for good). ours: a description
 * imgpool opened itself (a --report FIFO), which sinks_forget() may take out when
 * it is closed; otherwise a descriptor the shell gave (stdout, /dev/fd/N), whose
 * flags sinks_restore() puts back at the end. After a stop, fd is made
 * non-blocking at once. */
void sinks_note(int fd, int ours);

/* Take fd out before it is closed (its number may be reused), when it was noted as
 * ours; anything else stays until sinks_restore(). */
void sinks_forget(int fd);

/* From a signal handler: every noted descriptor non-blocking, and the ones noted
 * from now on too. */
void sinks_unblock(void);

/* May a line be written to fd now without waiting (poll), or is it not a pipe?
 * For a thread no signal reaches (the monitor's progress lines, which a stalled
 * reader would otherwise hold in write() with the report's lock taken): it drops
 * what the reader does not take at once. */
int sinks_ready(int fd);

/* The flags as they were noted, and the set emptied. */
void sinks_restore(void);

/* The same, from a signal handler about to end the process. */
void sinks_restore_from_handler(void);

#endif
