/* The host side of one NVMe/TCP connection (one queue): ICReq, command capsules, R2T/H2CData,
 * C2HData straight into the caller's buffer, completions, timeouts. Single-threaded by design. */
#ifndef TIGHTROPE_HOST_QUEUE_H
#define TIGHTROPE_HOST_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvme/spec.h"
#include "nvme/tcp_pdu.h"
#include "transport/tcp_conn.h"
#include "tightrope/host.h"

#define HQ_RXBUF 65536
#define HQ_H2C_SLOTS 128

struct hq_req {
	struct nvme_tcp_cmd_pdu pdu;
	uint8_t pdu_tail[4 + 128]; /* header digest and padding follow the header on the wire */
	uint32_t ddgst;
	uint8_t *buf;
	uint32_t len;
	bool busy;
	bool h2c; /* host-to-controller data */
	uint32_t c2h_done; /* C2HData bytes received so far */
	/* The open R2T window still to be sent as H2CData. */
	uint16_t ttag;
	uint32_t h2c_next, h2c_end;
	bool r2t_queued;
	int next_r2t; /* FIFO link of requests with an open R2T window */
	tr_io_cb cb;
	void *arg;
	struct nvme_completion *cqe_out;
	struct nvme_dsm_range dsm; /* a Deallocate's range lives as long as its command */
	uint64_t deadline_ns;
	uint32_t timeout_ms; /* the one it was given (a Keep Alive's is KATO), for the log line */
	int next_free;
	/* A fused pair (hq_submit_fused) calls back once, when its second completion arrives: the half
	 * answered first frees its slot at once and leaves its status with the other one. */
	int fused_peer; /* the other half, while both are outstanding; else -1 */
	bool fused_first; /* this half is the pair's first command */
	bool fused_peer_done; /* the other half has completed, with fused_peer_status */
	int fused_peer_status;
};

struct hq {
	int fd;
	uint16_t qid;
	uint16_t depth;
	char peer[80];
	struct nvmf_tcp_framing tx; /* what we send; what we accept is conn.rx_framing */
	uint32_t maxh2cdata;
	uint32_t inline_max; /* the most write data sent in the capsule */
	uint32_t timeout_ms;
	uint64_t completed;
	int error; /* sticky: once set, every request has failed and every call returns it */
	char why[160];

	struct hq_req *reqs;
	int free_head, inflight;
	int r2t_head, r2t_tail;

	struct ntcp_conn conn; /* the NVMe/TCP engine: receive state machine and send ring */
	/* H2CData headers live in slots until the ring they were queued on is empty. */
	struct {
		struct nvme_tcp_data_pdu hdr;
		uint8_t tail[4 + 128];
		uint32_t ddgst;
	} *h2c_slots;
	int h2c_used;

	/* The PDU being received: C2HData into rx_req->buf, or a C2HTermReq and the header it quotes. */
	struct hq_req *rx_req;
	uint32_t rx_data_len;
	uint8_t rx_data_flags;
	uint8_t rx_term[sizeof(struct nvme_tcp_term_pdu) + NVME_TCP_TERM_MAX_DATA];
	uint64_t last_timeout_scan;
	uint64_t poll_ns; /* poll mode: how long a waiting hq_poll spins before it sleeps */
};

struct ntls_psk;

struct hq_params {
	const char *traddr, *trsvcid;
	uint16_t qid, depth;
	bool hdgst, ddgst;
	uint32_t timeout_ms, connect_timeout_ms;
	const struct ntls_psk *tls; /* TLS 1.3 with this PSK before the ICReq, or NULL */
};

/* TCP connect and the ICReq/ICResp exchange. NULL with 'why' set on failure. */
struct hq *hq_open(const struct hq_params *p, char *why, size_t whylen);
/* A queue on an already connected socket whose ICReq/ICResp exchange is done (or skipped, as a
 * fuzzer does); traddr, trsvcid and connect_timeout_ms are unused. The queue owns fd from then on;
 * NULL (out of memory) leaves it to the caller. */
struct hq *hq_attach(const struct hq_params *p, int fd, uint32_t maxh2cdata);
void hq_close(struct hq *q);

/* Queue a command; data up to inline_max goes in the capsule for writes. 0, -EAGAIN or q->error. */
int hq_submit(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, tr_io_cb cb, void *arg,
	      struct nvme_completion *cqe_out);
/* With its own timeout: 0 = the queue's, HQ_NO_TIMEOUT = never (an Asynchronous Event Request). */
#define HQ_NO_TIMEOUT UINT32_MAX
int hq_submit_tmo(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, tr_io_cb cb, void *arg,
		  struct nvme_completion *cqe_out, uint32_t timeout_ms);
int hq_exec_tmo(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, struct nvme_completion *cqe,
		uint32_t timeout_ms);
/* The same for a Dataset Management command: the range is copied into the request. */
int hq_submit_dsm(struct hq *q, const struct nvme_command *cmd, const struct nvme_dsm_range *range, tr_io_cb cb,
		  void *arg);
/* A fused pair (FUSE bits of CDW0: NVME_CMD_FUSE_FIRST on 'first', NVME_CMD_FUSE_SECOND on
 * 'second'), queued back to back so that nothing goes between them on the wire, or not at all: 0,
 * -EAGAIN when fewer than two requests or too little send room are free, or q->error. Each half
 * carries its own data (first_buf, then second_buf, 'len' bytes each). 'cb' runs once, after both
 * completions, with hq_fused_status of the two. A failed queue (timeout, connection lost, hq_close)
 * fails both halves with its error and so the pair with one callback; nothing here ever sends a
 * half again. */
int hq_submit_fused(struct hq *q, const struct nvme_command *first, void *first_buf, const struct nvme_command *second,
		    void *second_buf, uint32_t len, tr_io_cb cb, void *arg);
/* The pair's one status: 0 when both succeeded; else the first half's failure (a Compare's
 * miscompare), unless it only says "aborted due to a failed fused command" and the second half
 * names the cause; a transport error (-errno) before either. */
int hq_fused_status(int first, int second);
/* Run one command to completion; returns the NVMe status or -errno. */
int hq_exec(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, struct nvme_completion *cqe);
int hq_poll(struct hq *q, int timeout_ms);
/* Is anything waiting to be sent (queued bytes, or R2T windows not yet turned into H2CData)? */
bool hq_tx_pending(const struct hq *q);
/* Fail every outstanding command with 'err' and close the socket; 'why' goes to the log. */
void hq_fail(struct hq *q, int err, const char *why);

/* Fabrics Connect on this queue; returns the NVMe status or -errno, with the completion's result in
 * *result (the cntlid in bits 15:0, AUTHREQ above). cattr: Connect attributes (NVMF_TREQ_DISABLE_SQFLOW). */
int hq_fabrics_connect(struct hq *q, const char *subnqn, const char *hostnqn, const uint8_t hostid[16],
		       uint16_t cntlid_in, uint32_t kato_ms, uint8_t cattr, uint32_t *result, char *why,
		       size_t whylen);

/* A malformed PDU header, or a TermReq received, in words (queue.c; also used by queue_setup.c). */
void hq_describe_bad_header(char *out, size_t outlen, const struct nvme_tcp_hdr *hdr, const char *from,
			    const struct nvmf_tcp_fatal *fatal);
void hq_describe_term(char *out, size_t outlen, const struct nvme_tcp_term_pdu *t, uint32_t plen);

/* ---- What the controller (host/ctrl.c) reads of a queue, so it needs none of struct hq's fields ---- */

/* The sticky error: 0 while the queue works, else the -errno every call now returns. */
int hq_error(const struct hq *q);
/* Why the queue failed, in words ("" while it works or when nothing better than the errno is known). */
const char *hq_why(const struct hq *q);
int hq_inflight(const struct hq *q);
/* The socket, for an event loop's poll(). */
int hq_fd(const struct hq *q);
/* The most write data to send inside the command capsule (the controller's IOCCSZ less the SQE). */
void hq_set_inline_max(struct hq *q, uint32_t bytes);
/* Spin this long in hq_poll before sleeping (tr_ctrl_set_poll_us); 0 = sleep at once. */
void hq_set_poll_us(struct hq *q, uint32_t poll_us);

#endif
