/* SPDX-License-Identifier: MIT */
/*
 * wire.h — private framing of messages between the pool and its workers.
 *
 * Each worker has one AF_UNIX SOCK_SEQPACKET socket. A message is a fixed header
 * followed by a body of `len` bytes; it travels as one or more packets of at most
 * WIRE_PACKET bytes, the first starting with the header. Packets of one message are
 * never interleaved with another's (one writer per direction).
 *
 * Like OpenBSD's imsg, the parent trusts nothing a worker sends: every length is
 * checked against the bytes actually received and against a maximum before use, and
 * any violation is reported so the worker can be treated as crashed.
 *
 * Bodies are sequences of records, each 8-byte aligned:
 *   WIRE_TASKS   (parent -> worker): { u64 id; u64 fn; u64 len; u64 flags; bytes[len] }
 *                  flags WIRE_FLUSH_FIRST: send the results held so far before
 *                  starting this task (a retried task, which may crash again);
 *                  WIRE_FLUSH_AFTER: send its result as soon as it is made (a
 *                  task whose result was lost with a worker that died running
 *                  none: is it this one's doing?)
 *   WIRE_RESULTS (worker -> parent): { u64 id; u32 status; u32 0; i64 start_ns;
 *                                      i64 end_ns; u64 len; bytes[len] }
 *   WIRE_READY   (worker -> parent): empty body, the initializer succeeded
 *   WIRE_INIT_FAILED (worker -> parent): the initializer's message as the body
 * A task record's sequence number is its position among all the task records sent
 * to that worker process (0, 1, 2, ...): both sides count them. A worker answers
 * only the tasks it claimed with that number (see worker.h), in the order sent; a
 * task taken back by the parent, or stopped by an interrupt, gets no answer.
 */
#ifndef POOL_WIRE_H
#define POOL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

#define WIRE_PACKET ((size_t)65536)
#define WIRE_MAGIC 0x4c4f4f50u /* "POOL" */

enum wire_type {
	WIRE_TASKS = 1,
	WIRE_RESULTS,
	WIRE_READY,
	WIRE_INIT_FAILED,
};

/* Result status codes on the wire: how the task function returned. */
enum wire_status {
	WIRE_OK = 1,
	WIRE_ERROR = 2,
};
#define WIRE_STATUS_MAX WIRE_ERROR

typedef struct wire_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t flags;
	uint32_t count; /* records in the body */
	uint32_t pad;
	uint64_t len;   /* body bytes after this header */
} wire_hdr;

/* ---- building a message in a pool_buf ---- */

/* Reset b and put an empty header of the given type at its start. */
int imgpool_wire_begin(pool_buf *b, int type);
#define WIRE_FLUSH_FIRST 1u
#define WIRE_FLUSH_AFTER 2u
int imgpool_wire_add_task(pool_buf *b, uint64_t id, uint64_t fn, uint32_t flags, const void *arg,
			  size_t len);
int imgpool_wire_add_result(pool_buf *b, uint64_t id, uint32_t status, int64_t start_ns,
			    int64_t end_ns, const void *data, size_t len);
/* The bytes a result record of len data bytes adds to a message's body. */
size_t imgpool_wire_result_size(size_t len);
/* Append raw body bytes (WIRE_INIT_FAILED). */
int imgpool_wire_add_bytes(pool_buf *b, const void *data, size_t len);
/* Records in the message being built. */
uint32_t imgpool_wire_count(const pool_buf *b);

/*
 * Send the message in b (the header's len is filled in here) as packets. With
 * nonblock, sends from *off onwards until the socket is full: returns 1 when all was
 * sent, 0 when it would block (call again when writable), -1 on error (errno).
 * Without nonblock, blocks until everything is sent (1) or an error (-1).
 */
int imgpool_wire_send(int fd, pool_buf *b, size_t *off, int nonblock);

/* ---- receiving ---- */

typedef struct wire_rx {
	pool_buf buf;   /* the message assembled so far */
	size_t need;    /* total bytes of the message being assembled; 0 before a header */
} wire_rx;

enum wire_rx_result {
	WIRE_RX_PARTIAL = 2,   /* a packet was read; the message is not complete yet */
	WIRE_RX_MESSAGE = 1,   /* a whole message is in rx->buf */
	WIRE_RX_AGAIN = 0,     /* nothing more to read now */
	WIRE_RX_EOF = -1,      /* the peer closed (mid-message: see rx->need) */
	WIRE_RX_BAD = -2,      /* protocol violation; *why says which */
	WIRE_RX_ERRNO = -3,    /* socket error; errno */
};

/*
 * Read one packet (non-blocking when nonblock) and add it to the message being
 * assembled. max bounds the body length accepted. When a message is complete, the
 * caller reads it from rx->buf and calls imgpool_wire_rx_reset before the next one.
 */
int imgpool_wire_rx_packet(wire_rx *rx, int fd, size_t max, int nonblock, const char **why);
void imgpool_wire_rx_reset(wire_rx *rx);
void imgpool_wire_rx_release(wire_rx *rx);

/* ---- parsing a complete message ---- */

typedef struct wire_cursor {
	const char *p, *end;
	uint32_t left; /* records the header promised and not yet read */
} wire_cursor;

/* Check the header of a complete message; returns its type, or -1 (why set). */
int imgpool_wire_open(const pool_buf *msg, wire_cursor *c, const char **why);

typedef struct wire_record {
	uint64_t id;
	uint64_t fn;       /* tasks */
	uint32_t flags;    /* tasks */
	uint32_t status;   /* results */
	int64_t start_ns, end_ns;
	const char *data;
	size_t len;
} wire_record;

/* Next record of a TASKS / RESULTS message: 1 read, 0 no more (and the body was
 * used up exactly), -1 malformed (why set). */
int imgpool_wire_next_task(wire_cursor *c, wire_record *r, const char **why);
int imgpool_wire_next_result(wire_cursor *c, wire_record *r, const char **why);

#endif
