/* SPDX-License-Identifier: MIT */
/*
 * fuzz_wire.c — the pool's wire framing (pool/wire.c) fed whatever a hostile or
 * broken worker could send.
 *
 * Input: byte 0 picks the path, byte 1 the size limit, the rest is the traffic.
 *   even byte 0: the rest is one complete message in a pool_buf: imgpool_wire_open, then
 *                every record with imgpool_wire_next_task / imgpool_wire_next_result;
 *   odd byte 0:  the rest is packets, each a 2-byte little-endian length then
 *                that many bytes, sent over a real socketpair(AF_UNIX,
 *                SOCK_SEQPACKET) and reassembled by imgpool_wire_rx_packet with a small
 *                max, every complete message then parsed as above.
 * Invariants beyond "no memory error": every record's payload lies inside its
 * message, a parse never yields more records than the header promised, a
 * message that parses to the end was used up exactly, and an assembled message
 * is exactly the length its header says.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "wire.h"

/* Parse one complete message the way the pool does, checking what it hands out. */
static void parse_message(const pool_buf *msg)
{
	wire_cursor c;
	const char *why = NULL;
	int type = imgpool_wire_open(msg, &c, &why);
	if (type < 0) {
		FUZZ_CHECK(why != NULL, "imgpool_wire_open failed without a reason");
		return;
	}
	uint32_t promised = c.left, seen = 0;
	const char *lo = msg->data, *hi = msg->data + msg->len;
	for (;;) {
		wire_record r;
		int k = type == WIRE_TASKS ? imgpool_wire_next_task(&c, &r, &why)
					   : imgpool_wire_next_result(&c, &r, &why);
		if (k < 0) {
			FUZZ_CHECK(why != NULL, "a malformed record without a reason");
			return;
		}
		if (k == 0) {
			FUZZ_CHECK(seen == promised, "%u records of %u promised", seen, promised);
			FUZZ_CHECK(c.p == c.end, "parse ended with %td bytes unread", c.end - c.p);
			return;
		}
		seen++;
		FUZZ_CHECK(seen <= promised, "more records than the header promised");
		FUZZ_CHECK(r.data >= lo && r.len <= (size_t)(hi - r.data),
			   "record payload [%p, +%zu) outside the message", (void *)r.data, r.len);
		if (type == WIRE_RESULTS)
			FUZZ_CHECK(r.status >= WIRE_OK && r.status <= WIRE_STATUS_MAX,
				   "status %u passed", r.status);
		/* Touch the payload so ASan checks every byte the caller may read. */
		volatile char sink = 0;
		for (size_t i = 0; i < r.len; i++)
			sink ^= r.data[i];
		(void)sink;
	}
}

/* Path 1: the bytes are a message already assembled. The buffer holds exactly
 * len bytes plus the NUL pool_buf keeps after them. */
static void fuzz_parse(const uint8_t *data, size_t n)
{
	pool_buf b = {fuzz_strdup(data, n), n, n + 1};
	if (b.data)
		parse_message(&b);
	free(b.data);
}

/* Send each length-prefixed packet of data; stop when the socket is full. */
static void send_packets(int fd, const uint8_t *data, size_t n)
{
	size_t pos = 0;
	while (pos + 2 <= n) {
		size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		pos += 2;
		if (len > n - pos)
			len = n - pos;
		/* A packet may exceed WIRE_PACKET: the 2-byte prefix reaches 65535 and
		 * the receiver must refuse, not overrun, anything larger than it expects. */
		if (send(fd, data + pos, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			return;
		pos += len;
	}
}

/* Path 2: real packets through imgpool_wire_rx_packet, as the parent reads a worker. */
static void fuzz_socket(const uint8_t *data, size_t n, size_t max)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	send_packets(sv[1], data, n);
	close(sv[1]); /* EOF after the last packet */
	wire_rx rx = {{0}, 0};
	for (int guard = 0; guard < 10000; guard++) {
		const char *why = NULL;
		int k = imgpool_wire_rx_packet(&rx, sv[0], max, 1, &why);
		if (k == WIRE_RX_MESSAGE) {
			const wire_hdr *h = (const wire_hdr *)rx.buf.data;
			FUZZ_CHECK(rx.buf.len >= sizeof *h && h->len <= max &&
					   rx.buf.len == sizeof *h + h->len,
				   "assembled %zu bytes for a header saying %llu (max %zu)",
				   rx.buf.len, (unsigned long long)h->len, max);
			parse_message(&rx.buf);
			imgpool_wire_rx_reset(&rx);
		} else if (k == WIRE_RX_PARTIAL) {
			FUZZ_CHECK(rx.need > 0 && rx.buf.len < rx.need,
				   "partial with %zu of %zu bytes", rx.buf.len, rx.need);
		} else if (k == WIRE_RX_BAD) {
			FUZZ_CHECK(why != NULL, "a bad packet without a reason");
			imgpool_wire_rx_reset(&rx); /* the pool kills the worker; we read on */
		} else {
			break; /* AGAIN, EOF, ERRNO: nothing more to read */
		}
	}
	imgpool_wire_rx_release(&rx);
	close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* Limits from 0 to a bit over one packet, so both "over the limit" and
	 * messages spanning several packets are reached. */
	static const size_t maxes[] = {0, 8, 64, 256, 4096, 65536, 200000, 1 << 20};
	size_t max = maxes[data[1] % (sizeof maxes / sizeof maxes[0])];
	if (data[0] & 1)
		fuzz_socket(data + 2, size - 2, max);
	else
		fuzz_parse(data + 2, size - 2);
	return 0;
}
