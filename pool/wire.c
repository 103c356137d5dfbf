/* SPDX-License-Identifier: MIT */
/*
 * wire.c — framing of pool messages over SOCK_SEQPACKET; see wire.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "wire.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

struct task_rec {
	uint64_t id, fn, len, flags;
};
struct result_rec {
	uint64_t id;
	uint32_t status, zero;
	int64_t start_ns, end_ns;
	uint64_t len;
};

static wire_hdr *hdr_of(const pool_buf *b)
{
	return (wire_hdr *)b->data;
}

int imgpool_wire_begin(pool_buf *b, int type)
{
	b->len = 0;
	wire_hdr h = {.magic = WIRE_MAGIC, .type = (uint16_t)type};
	return pool_buf_append(b, &h, sizeof h);
}

uint32_t imgpool_wire_count(const pool_buf *b)
{
	return b->len >= sizeof(wire_hdr) ? hdr_of(b)->count : 0;
}

/* Append a fixed record then its payload, padded so the next record is aligned. */
static int add_record(pool_buf *b, const void *rec, size_t reclen, const void *data,
		      size_t len)
{
	size_t pad = ALIGN8(len) - len;
	static const char zeros[8];
	if (pool_buf_reserve(b, reclen + len + pad) < 0)
		return -1;
	pool_buf_append(b, rec, reclen);
	pool_buf_append(b, data, len);
	pool_buf_append(b, zeros, pad);
	hdr_of(b)->count++;
	return 0;
}

int imgpool_wire_add_task(pool_buf *b, uint64_t id, uint64_t fn, uint32_t flags, const void *arg,
			  size_t len)
{
	struct task_rec r = {id, fn, len, flags};
	return add_record(b, &r, sizeof r, arg, len);
}

int imgpool_wire_add_result(pool_buf *b, uint64_t id, uint32_t status, int64_t start_ns,
			    int64_t end_ns, const void *data, size_t len)
{
	struct result_rec r = {id, status, 0, start_ns, end_ns, len};
	return add_record(b, &r, sizeof r, data, len);
}

size_t imgpool_wire_result_size(size_t len)
{
	return sizeof(struct result_rec) + ALIGN8(len);
}

int imgpool_wire_add_bytes(pool_buf *b, const void *data, size_t len)
{
	return pool_buf_append(b, data, len);
}

int imgpool_wire_send(int fd, pool_buf *b, size_t *off, int nonblock)
{
	hdr_of(b)->len = b->len - sizeof(wire_hdr);
	while (*off < b->len) {
		size_t n = b->len - *off;
		if (n > WIRE_PACKET)
			n = WIRE_PACKET;
		ssize_t w = send(fd, b->data + *off, n,
				 MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (nonblock && (errno == EAGAIN || errno == EWOULDBLOCK))
				return 0;
			return -1;
		}
		/* SOCK_SEQPACKET sends a packet whole or not at all. */
		*off += (size_t)w;
	}
	return 1;
}

void imgpool_wire_rx_reset(wire_rx *rx)
{
	rx->buf.len = 0;
	rx->need = 0;
}

void imgpool_wire_rx_release(wire_rx *rx)
{
	pool_buf_release(&rx->buf);
	rx->need = 0;
}

int imgpool_wire_rx_packet(wire_rx *rx, int fd, size_t max, int nonblock, const char **why)
{
	/* Room for a whole packet: a larger one would be truncated and is refused. */
	size_t room = WIRE_PACKET;
	if (rx->need && rx->need - rx->buf.len < room)
		room = rx->need - rx->buf.len;
	if (pool_buf_reserve(&rx->buf, room) < 0) {
		errno = ENOMEM;
		return WIRE_RX_ERRNO;
	}
	struct iovec iov = {rx->buf.data + rx->buf.len, room};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;
	do
		n = recvmsg(fd, &mh, nonblock ? MSG_DONTWAIT : 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (nonblock && (errno == EAGAIN || errno == EWOULDBLOCK))
			return WIRE_RX_AGAIN;
		if (errno == ECONNRESET)
			return WIRE_RX_EOF;
		return WIRE_RX_ERRNO;
	}
	if (n == 0)
		return WIRE_RX_EOF;
	if (mh.msg_flags & MSG_TRUNC) {
		*why = rx->need ? "a packet longer than its message" : "an oversized packet";
		return WIRE_RX_BAD;
	}
	rx->buf.len += (size_t)n;
	if (!rx->need) {
		if (rx->buf.len < sizeof(wire_hdr)) {
			*why = "a packet shorter than a header";
			return WIRE_RX_BAD;
		}
		const wire_hdr *h = hdr_of(&rx->buf);
		if (h->magic != WIRE_MAGIC) {
			*why = "a header with a bad magic number";
			return WIRE_RX_BAD;
		}
		if (h->len > max) {
			*why = "a message over the size limit";
			return WIRE_RX_BAD;
		}
		rx->need = sizeof(wire_hdr) + (size_t)h->len;
		if (rx->buf.len > rx->need) {
			*why = "a packet longer than its message";
			return WIRE_RX_BAD;
		}
	}
	return rx->buf.len == rx->need ? WIRE_RX_MESSAGE : WIRE_RX_PARTIAL;
}

int imgpool_wire_open(const pool_buf *msg, wire_cursor *c, const char **why)
{
	const wire_hdr *h = hdr_of(msg);
	if (msg->len < sizeof *h || h->len != msg->len - sizeof *h) {
		*why = "a message whose length does not match its header";
		return -1;
	}
	if (h->type < WIRE_TASKS || h->type > WIRE_INIT_FAILED) {
		*why = "a message of unknown type";
		return -1;
	}
	c->p = msg->data + sizeof *h;
	c->end = msg->data + msg->len;
	c->left = h->count;
	return h->type;
}

/* Read the fixed part of the next record; 0 when the promised records are all read. */
static int take(wire_cursor *c, void *rec, size_t reclen, const char **why)
{
	if (c->left == 0) {
		if (c->p != c->end) {
			*why = "trailing bytes after the last record";
			return -1;
		}
		return 0;
	}
	if ((size_t)(c->end - c->p) < reclen) {
		*why = "a record cut short";
		return -1;
	}
	memcpy(rec, c->p, reclen);
	c->p += reclen;
	return 1;
}

static int payload(wire_cursor *c, uint64_t len, const char **data, size_t *out,
		   const char **why)
{
	size_t avail = (size_t)(c->end - c->p);
	if (len > avail || ALIGN8(len) > avail) {
		*why = "a record longer than its message";
		return -1;
	}
	*data = c->p;
	*out = (size_t)len;
	c->p += ALIGN8(len);
	c->left--;
	return 1;
}

int imgpool_wire_next_task(wire_cursor *c, wire_record *r, const char **why)
{
	struct task_rec t;
	int k = take(c, &t, sizeof t, why);
	if (k <= 0)
		return k;
	r->id = t.id;
	r->fn = t.fn;
	r->flags = (uint32_t)t.flags;
	return payload(c, t.len, &r->data, &r->len, why);
}

int imgpool_wire_next_result(wire_cursor *c, wire_record *r, const char **why)
{
	struct result_rec t;
	int k = take(c, &t, sizeof t, why);
	if (k <= 0)
		return k;
	if (t.status < WIRE_OK || t.status > WIRE_STATUS_MAX) {
		*why = "a result with an unknown status";
		return -1;
	}
	r->id = t.id;
	r->status = t.status;
	r->start_ns = t.start_ns;
	r->end_ns = t.end_ns;
	return payload(c, t.len, &r->data, &r->len, why);
}
