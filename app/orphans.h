/* SPDX-License-Identifier: MIT */
/*
 * orphans.h — workers a killed run left behind, stopped, holding its locks.
 *
 * A worker stopped from outside (SIGSTOP, Ctrl-Z of the group) in the moment
 * between fork() and the start of its own code has not yet asked to die with its
 * parent (the pool's worker does that first). If the run is then killed, the
 * worker stays behind stopped for good, with every descriptor the run had: its
 * flock()s on OUT/.imgpool are the open files' (shared with the run), so the
 * lock outlives the run, and every later run was refused as "another imgpool
 * run is writing". Continued, such a worker sees its parent gone and exits.
 *
 * Looked for only when a run the lock files name has ended (lock.c). A process
 * is taken for one only when it is stopped (state T, not a debugger's
 * trace stop), holds a descriptor on the folder given, is not a run (its pid is
 * not one the lock files record) and its parent does not hold the folder: a run
 * stopped by the user, and its workers, are left as they are.
 */
#ifndef IMGPOOL_ORPHANS_H
#define IMGPOOL_ORPHANS_H

/* Send SIGCONT to every such process holding the folder open at folder_fd
 * (OUT/.imgpool); runs: the nruns pids the lock files record. Returns how many
 * were continued (0 when none, or when /proc cannot be read). */
int orphans_continue(int folder_fd, const long *runs, int nruns);

#endif
