/* The NVMe/TCP connection engine that target and host share: the PDU receive state machine (header,
 * padding, data, data digest, with a running CRC) and the send ring of iovecs with release cookies.
 * It knows framing, not commands: what a PDU means is its owner's business, told through the ops. */
#ifndef TIGHTROPE_TRANSPORT_TCP_CONN_H
#define TIGHTROPE_TRANSPORT_TCP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvme/tcp_pdu.h"

/* Where the receiver is within the current PDU. */
enum ntcp_rx_state {
	NTCP_RX_HDR, /* the common header, then the rest of the header and its digest */
	NTCP_RX_PAD, /* the padding before data that the receiver's PDA asked for */
	NTCP_RX_DATA, /* the data, into the owner's buffer (or dropped) */
	NTCP_RX_DDGST, /* the data digest */
};

/* What the owner says after a header or a PDU's data: go on reading, stop reading with the current
 * header kept (until ntcp_rx_unpark), or stop because the connection is closing. */
enum ntcp_verdict { NTCP_GO, NTCP_PARK, NTCP_STOP };

/* How a round of reading the socket ended. */
enum ntcp_rx_result {
	NTCP_RX_IDLE, /* nothing more to read now */
	NTCP_RX_BUSY, /* the round limit was reached with data still coming: come back later */
	NTCP_RX_HELD, /* the owner parked or stopped */
	NTCP_RX_EOF, /* the peer closed the connection */
	NTCP_RX_ERROR, /* recv failed: rx_errno says why */
};

struct ntcp_conn;

struct ntcp_conn_ops {
	/* A PDU's whole header is in, its header digest checked. If the PDU carries data, the owner says
	 * where it goes with ntcp_rx_data_to() (otherwise it is received and dropped). */
	enum ntcp_verdict (*rx_header)(struct ntcp_conn *c, const void *hdr, const struct nvmf_tcp_pdu_layout *l);
	/* The PDU's data is in; digest_ok is false when its data digest did not match. */
	enum ntcp_verdict (*rx_data_done)(struct ntcp_conn *c, bool digest_ok);
	/* A header the framing rules refuse, or whose digest is wrong (fes NVME_TCP_FES_HDR_DIGEST_ERR).
	 * Nothing more is read from the connection. */
	void (*rx_bad_header)(struct ntcp_conn *c, const struct nvmf_tcp_fatal *fatal);
	/* The iovec pushed with this (non-NULL) cookie is on the wire. NULL for an owner that pushes
	 * no cookies (its buffers outlive what it queues). */
	void (*tx_release)(struct ntcp_conn *c, void *cookie);
};

/* The engine's state. Owners embed it and read it through the functions below; the fields are the
 * engine's own. */
struct ntls;

struct ntcp_conn {
	int fd;
	struct ntls *tls; /* the TLS session the bytes go through, or NULL (the owner's to free) */
	enum nvmf_tcp_side side; /* which side of the connection we are: decides which PDUs are legal */
	bool before_ic; /* only the ICReq/ICResp exchange is legal until the owner clears this */
	struct nvmf_tcp_framing rx_framing; /* what we accept (digests, alignment, data limits) */
	const struct ntcp_conn_ops *ops;
	void *owner;

	/* Receive. */
	enum ntcp_rx_state rx_state;
	enum ntcp_verdict rx_hold; /* NTCP_GO while reading */
	uint8_t rx_hdr[NVME_TCP_MAX_HLEN + NVME_TCP_DIGEST_LEN];
	uint32_t rx_have; /* header bytes in rx_hdr */
	struct nvmf_tcp_pdu_layout rx_layout;
	uint32_t rx_left; /* bytes left in the current PAD/DATA/DDGST step */
	uint8_t *rx_dst; /* where data goes, NULL: dropped */
	uint32_t rx_crc; /* running data digest */
	uint8_t rx_ddgst[NVME_TCP_DIGEST_LEN];
	int rx_errno;
	uint8_t *rxbuf;
	uint32_t rxbuf_size;
	uint32_t rxbuf_pos, rxbuf_len; /* received but not yet consumed (while held) */

	/* Send: a ring of iovecs, each with the cookie to release when it is on the wire. */
	struct iovec *tx_iov;
	void **tx_cookie;
	uint32_t tx_cap, tx_head, tx_count;

	/* A TermReq we send, quoting the offending header. */
	uint8_t term_pdu[sizeof(struct nvme_tcp_term_pdu) + NVME_TCP_TERM_MAX_DATA];
};

/* Set up an engine on a connected non-blocking socket (owned by the caller: the engine never closes
 * it). side: which side we are. 0 or -ENOMEM. An owner that speaks TLS sets c->tls after the
 * handshake: from then on the engine reads and writes through the session. */
int ntcp_conn_init(struct ntcp_conn *c, int fd, enum nvmf_tcp_side side, const struct ntcp_conn_ops *ops,
		   void *owner, uint32_t rxbuf_size, uint32_t tx_cap);
void ntcp_conn_destroy(struct ntcp_conn *c);

/* ---- Receive ---- */

/* Called from rx_header: receive this PDU's data into dst (data_len bytes of room). */
void ntcp_rx_data_to(struct ntcp_conn *c, void *dst);
/* Consume bytes already received (a test or fuzzer feeds them here); returns how many were used,
 * fewer than len only when the owner parked or stopped. */
uint32_t ntcp_rx_feed(struct ntcp_conn *c, const uint8_t *p, uint32_t len);
/* Read the socket and consume what arrives, at most max_rounds recv calls. Data of at least
 * NTCP_RX_DIRECT_MIN bytes goes straight into the owner's buffer instead of through rxbuf. */
#define NTCP_RX_DIRECT_MIN 4096
enum ntcp_rx_result ntcp_rx_pump(struct ntcp_conn *c, int max_rounds);
/* Resume a parked connection: the header is handed to rx_header again, then the bytes received
 * behind it. Returns the verdict of that (the socket is not read). */
enum ntcp_verdict ntcp_rx_unpark(struct ntcp_conn *c);
static inline bool ntcp_rx_parked(const struct ntcp_conn *c)
{
	return c->rx_hold == NTCP_PARK;
}
/* The header being received, and how many bytes of it are in (for a TermReq or a log line). */
static inline const uint8_t *ntcp_rx_header(const struct ntcp_conn *c, uint32_t *have)
{
	*have = c->rx_have;
	return c->rx_hdr;
}
/* Data bytes of the current PDU received so far (0 while in its header). */
uint32_t ntcp_rx_data_received(const struct ntcp_conn *c);
/* The current PDU's layout (valid from its header on). */
static inline const struct nvmf_tcp_pdu_layout *ntcp_rx_layout(const struct ntcp_conn *c)
{
	return &c->rx_layout;
}

/* ---- Send ---- */

/* Queue bytes to send; cookie (may be NULL) goes to tx_release once they are on the wire. The bytes
 * must stay put until then. 0, -ENOBUFS when the ring is full, or -EINVAL for a cookie the owner
 * has no tx_release for. */
int ntcp_tx_push(struct ntcp_conn *c, const void *base, size_t len, void *cookie);
/* Send what the socket takes: 0 when all is out, -EAGAIN when the socket is full, -errno on failure. */
int ntcp_tx_flush(struct ntcp_conn *c);
static inline uint32_t ntcp_tx_room(const struct ntcp_conn *c)
{
	return c->tx_cap - c->tx_count;
}
/* Bytes queued and not yet on the socket (in the ring, or taken by the TLS session). */
bool ntcp_tx_pending(const struct ntcp_conn *c);
/* Grow (or shrink, as long as it holds what is queued) the ring to cap entries. 0 or -ENOMEM/-ENOBUFS. */
int ntcp_tx_resize(struct ntcp_conn *c, uint32_t cap);
/* Forget what is queued without releasing it (the connection is going away). */
void ntcp_tx_drop(struct ntcp_conn *c);
/* Does anything queued overlap [base, base + len)? */
bool ntcp_tx_refers_to(const struct ntcp_conn *c, const void *base, size_t len);
/* The piece queued 'back' entries before the one pushed with 'cookie' lies in [base, base + len): send it
 * from the same offset of 'to' instead (a copy of those bytes: the TLS session, which may have begun
 * the piece, is offered the same bytes from the new place). False if no such piece is queued. */
bool ntcp_tx_rebase(struct ntcp_conn *c, const void *cookie, uint32_t back, const void *base, size_t len, void *to);

/* A fatal transport error: drop what is queued, send a TermReq quoting the header being received,
 * best effort, and shut the sending side down. The owner closes the socket. */
void ntcp_send_term(struct ntcp_conn *c, uint16_t fes, uint32_t fei);

#endif
