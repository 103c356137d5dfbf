/* SPDX-License-Identifier: MIT */
/*
 * failure.h — why a file failed, as a type: set where the failure happens, carried
 * in the task result, the report, the journal and the trace. Nothing in imgpool
 * decides anything by reading an error message's words.
 *
 * Which failures are remembered ("failed earlier": not tried again until the input,
 * the output settings or the limits change, or --retry-failed):
 *   - FAIL_DECODE, FAIL_LIMIT, FAIL_CRASH: they say something about the input;
 *     the same input under the same limits fails the same way.
 *   - FAIL_TIMEOUT, FAIL_ENVIRONMENT, FAIL_OUTPUT: the machine's state (load,
 *     permissions, a full disk, a kill from outside, SIGBUS, a file in the way;
 *     a decoder's failure while the machine is short of disk, threads or
 *     descriptors: machine.h) rather than the input; tried again next run, and
 *     remembered only after FAILURE_STRIKES identical ones in a row (a
 *     decompression bomb that gets its worker OOM-killed must not be retried
 *     every night for ever); FAIL_ENVIRONMENT only while the input cannot be
 *     opened, FAIL_OUTPUT only while the folder of an output cannot be written
 *     (plan.c): both are mended with no change to the input a run could see.
 *   - FAIL_INTERRUPTED: the run was stopped; never recorded as a failure.
 */
#ifndef IMGPOOL_FAILURE_H
#define IMGPOOL_FAILURE_H

typedef enum failure_kind {
	FAIL_NONE = 0,
	FAIL_DECODE,      /* the input is not an image we can read, or is damaged */
	FAIL_LIMIT,       /* over --max-pixels */
	FAIL_OUTPUT,      /* the output side: cannot write, a file in the way */
	FAIL_CRASH,       /* its worker crashed on every attempt */
	FAIL_TIMEOUT,     /* it ran past --timeout on every attempt */
	FAIL_INTERRUPTED, /* the run was stopped before it finished */
	FAIL_ENVIRONMENT, /* cannot read the input (permissions, I/O), killed from outside */
	FAIL_EARLIER,     /* report only: skipped, it failed before and nothing changed */
	FAIL_KIND_COUNT
} failure_kind;

/* Identical environmental failures in a row before they are remembered. */
#define FAILURE_STRIKES 3

/* "decode", "limit", "output", "crash", "timeout", "interrupted", "environment",
 * "failed-earlier"; "" for FAIL_NONE or an unknown value. */
const char *failure_name(failure_kind k);

/* 1 when one failure of this kind is remembered at once (see above). */
int failure_remembered_at_once(failure_kind k);

#endif
