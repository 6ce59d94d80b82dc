/* The target's objects: subsystems with namespaces and allowed hosts, controllers, TCP queues,
 * worker threads and listeners, and the functions that connect them. */
#ifndef TIGHTROPE_TARGET_H
#define TIGHTROPE_TARGET_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nvme/spec.h"
#include "nvme/tcp_pdu.h"
#include "transport/tcp_conn.h"

struct tgt_worker;
struct tgt_queue;
struct tgt_ctrl;
struct tgt_subsys;
struct tgt_ns;
struct io_uring;

/* Limits and defaults; the Linux target's values where it has one. */
#define TGT_MAX_NSID 1024
#define TGT_MAX_IO_QUEUES 128
#define TGT_MQES 1024 /* largest queue a host may ask for (CAP.MQES + 1) */
#define TGT_MDTS 8 /* 2^8 x 4 KiB = 1 MiB per command */
#define TGT_MAX_XFER (4096u << TGT_MDTS)
#define TGT_INLINE_DATA_SIZE 16384
#define TGT_ADMIN_INLINE_DATA_SIZE 8192
#define TGT_MAXH2CDATA 0x400000
#define TGT_KAS 10 /* keep-alive granularity: 10 x 100 ms */
#define TGT_AERL 3 /* up to 4 outstanding AERs */
#define TGT_DEFAULT_PORT 4420
#define TGT_DEFAULT_TRSVCID "4420" /* the same, as listeners and configs spell it */
#define TGT_DISC_PORT 8009
#define TGT_MAX_PORTID 31 /* listener port IDs are bits of a subsystem's port_mask */
#define TGT_BUF_ALIGN 4096 /* data buffers: page alignment suits O_DIRECT on any block size */
#define TGT_MEM_PREFIX "mem:" /* a namespace path "mem:SIZE" is RAM */
#define TGT_LBA_SHIFT_512 9
#define TGT_LBA_SHIFT_4K 12
#define TGT_DEFAULT_MODEL "tightrope"
#define TGT_HANDSHAKE_TIMEOUT_MS 10000 /* ICReq and Connect must be done by then */
#define TGT_IDLE_TIMEOUT_MS (3600u * 1000) /* a KATO 0 controller with no command for this long goes */
#define TGT_MAX_CONNECTIONS_CAP 8192 /* the default --max-connections, if the fd limit allows it */
#define TGT_BUF_BUDGET_MIN (64ull << 20) /* the default buffer budget is 1/8 of RAM within these */
#define TGT_BUF_BUDGET_MAX (8ull << 30)

/* ---- Backends: one small interface, one file per kind of storage ---- */

enum tgt_io_op { TGT_IO_READ, TGT_IO_WRITE, TGT_IO_FLUSH, TGT_IO_WRITE_ZEROES, TGT_IO_DISCARD };

struct tgt_io {
	enum tgt_io_op op;
	bool fua;
	uint64_t offset; /* bytes */
	uint64_t len; /* bytes */
	void *buf; /* data for writes; destination for reads, or NULL: "map it" (RAM only) */
	const void *mapped; /* set by a backend that serves a read straight from its memory */
	uint64_t done_bytes; /* progress across short transfers */
	struct tgt_ns *ns;
	void (*complete)(struct tgt_io *io, int err); /* err: 0 or -errno */
};

struct tgt_backend_ops {
	const char *kind;
	/* Start the I/O; completion is always reported through io->complete, maybe inline. */
	void (*submit)(struct tgt_ns *ns, struct tgt_worker *worker, struct tgt_io *io);
	void (*destroy)(struct tgt_ns *ns);
};

/* Open a namespace's storage from a spec: "mem:SIZE", a regular file or a block device. */
struct tgt_ns_params {
	const char *path;
	uint32_t nsid;
	bool readonly;
	bool buffered; /* files and block devices: page cache instead of O_DIRECT */
	uint32_t lba_size; /* 0 = from the device (or 512 for files and RAM) */
	const uint8_t *uuid; /* NULL = derived from the NQN and NSID */
	const uint8_t *nguid;
};

struct tgt_ns {
	_Atomic int refs;
	uint32_t nsid;
	char *path;
	bool readonly;
	bool buffered;
	uint8_t lba_shift;
	uint64_t nlbas;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	const struct tgt_backend_ops *ops;
	void *priv; /* backend state */
	int fd; /* file/block backends */
	uint8_t *mem; /* RAM backend */
	uint64_t size; /* bytes */
};

int tgt_backend_mem_open(struct tgt_ns *ns, uint64_t size);
int tgt_backend_file_open(struct tgt_ns *ns, const char *path, const struct tgt_ns_params *p);
void tgt_backend_file_cqe(struct tgt_worker *w, struct tgt_io *io, int res);
int tgt_backend_file_zero_fallback(struct tgt_ns *ns, uint64_t off, uint64_t len);
/* Parse "1G", "512M", "4096" ... into bytes; -EINVAL on junk. */
int tgt_parse_size(const char *s, uint64_t *out);

struct tgt_ns *tgt_ns_open(const char *subnqn, const struct tgt_ns_params *params);
void tgt_ns_get(struct tgt_ns *ns);
void tgt_ns_put(struct tgt_ns *ns);

/* ---- Subsystems ---- */

struct tgt_host_entry {
	char nqn[NVME_NQN_SIZE];
	struct tgt_host_entry *next;
};

struct tgt_subsys {
	char nqn[NVME_NQN_SIZE];
	char serial[21];
	char model[41];
	bool discovery;
	bool allow_any_host;
	pthread_mutex_t lock; /* namespaces, hosts, controllers, ports */
	struct tgt_host_entry *hosts; /* allowed, when !allow_any_host */
	struct tgt_host_entry *denied_hosts; /* forbidden whatever else says: forbid-host on an open subsystem */
	struct tgt_ns *ns[TGT_MAX_NSID + 1];
	_Atomic uint32_t ns_generation; /* bumped on every namespace change, for queue caches */
	struct tgt_ctrl *ctrls;
	uint16_t next_cntlid;
	uint32_t port_mask; /* bit per listener port id that exports this subsystem; 0 = all */
	struct tgt_subsys *next;
};

/* ---- Controllers ---- */

struct tgt_ctrl {
	_Atomic int refs;
	uint16_t cntlid;
	struct tgt_subsys *subsys;
	char hostnqn[NVME_NQN_SIZE];
	uint8_t hostid[16];
	uint16_t portid;
	uint32_t kato_ms;
	_Atomic uint64_t last_activity_ms; /* any command counts (TBKAS) */
	pthread_mutex_t lock; /* queues[], dead, changed-namespace list */
	bool dead;
	char dead_why[64]; /* why it was torn down, for the queues' close lines */
	uint16_t nr_io_queues; /* granted by Set Features Number of Queues */
	struct tgt_queue *queues[TGT_MAX_IO_QUEUES + 1]; /* [0] is the admin queue */
	/* Registers and features: touched only from the admin queue's worker. */
	uint32_t cc;
	uint32_t csts;
	uint32_t aen_cfg;
	uint16_t aer_cids[TGT_AERL + 1];
	struct tgt_cmd *aer_cmds[TGT_AERL + 1];
	int nr_aers;
	/* Namespace change notices, filled by control work, drained by the admin worker. */
	bool aen_masked; /* an event was sent and its log page not yet read */
	bool aen_pending;
	uint32_t changed_ns[NVME_CHANGED_NS_MAX];
	uint32_t nr_changed_ns; /* > NVME_CHANGED_NS_MAX means "more than fit" */
	uint64_t err_count;
	struct tgt_ctrl *next;
};

/* ---- Queues: one TCP connection each ---- */

/* A queue's life: each step is taken in tgt_queue_set_state(), which checks it. */
enum tgt_queue_state {
	TGT_Q_WAIT_ICREQ, /* accepted: the host's ICReq must come first */
	TGT_Q_CONNECTING, /* IC done, waiting for the Fabrics Connect */
	TGT_Q_LIVE, /* bound to a controller */
	TGT_Q_CLOSING, /* torn down: slots still at the backend free themselves */
};

struct tgt_queue_stats {
	_Atomic uint64_t cmds;
	_Atomic uint64_t read_cmds;
	_Atomic uint64_t write_cmds;
	_Atomic uint64_t read_bytes;
	_Atomic uint64_t write_bytes;
	_Atomic uint64_t errors;
	_Atomic uint64_t buf_waits; /* times a command or the socket waited for the buffer budget */
	_Atomic uint32_t inflight;
};

struct tgt_cmd;

struct tgt_queue {
	int fd;
	struct tgt_worker *worker;
	struct tgt_listener *listener;
	char peer[64];
	char local_addr[64];
	char local_port[8];
	bool local_ipv6;
	enum tgt_queue_state state;
	uint16_t qid;
	uint16_t size; /* entries (sqsize + 1) */
	bool sqhd_disabled;
	uint16_t sqhd;
	struct tgt_ctrl *ctrl;
	struct ntcp_conn conn; /* the NVMe/TCP engine: framing we accept, receive state, send ring */
	struct nvmf_tcp_framing tx_framing; /* what we send */
	uint32_t maxr2t;
	uint32_t nr_r2t_open; /* writes whose data we asked for: never park while data may follow */
	struct tgt_cmd *rx_cmd; /* the command whose data is arriving */

	/* Command slots: one before Connect, `size` after it. */
	struct tgt_cmd *boot_cmd;
	struct tgt_cmd *cmds;
	struct tgt_cmd *free_cmds;

	/* Namespace cache, refreshed when the subsystem's generation moves. */
	uint32_t ns_generation;
	struct tgt_ns *ns_cache[TGT_MAX_NSID + 1];

	/* Send batching. */
	bool tx_dirty; /* on the worker's flush list */
	bool want_pollout;
	struct tgt_queue *flush_next;

	struct nvme_tcp_icresp_pdu icresp;

	struct tgt_queue_stats stats;
	/* Command buffers this queue holds, and its commands waiting for the worker's budget (FIFO). */
	uint64_t buf_held;
	struct tgt_cmd *buf_wait_head, *buf_wait_tail;
	bool buf_waiting; /* on the worker's list of queues with waiting commands */
	struct tgt_queue *buf_wait_next;
	uint64_t started_ms; /* when the connection was accepted: the handshake timeout runs from here */
	int refs; /* 1 + backend I/Os in flight; worker-local */
	struct tgt_queue *prev, *next; /* worker's list */
};

/* ---- Listeners and the target as a whole ---- */

struct tgt_listener {
	int fd;
	uint16_t portid;
	struct sockaddr_storage addr;
	char traddr[64];
	char trsvcid[8];
	bool ipv6;
	bool discovery_only;
	struct tgt_listener *next;
};

struct tgt_msg;

#define TGT_BUF_CLASSES 7 /* 16 KiB << 0..6: up to MDTS, 1 MiB */
struct tgt_worker {
	int id;
	pthread_t thread;
	int epfd;
	int evfd; /* mailbox doorbell */
	pthread_mutex_t mbox_lock;
	struct tgt_msg *mbox;
	struct io_uring *ring; /* file/block backends; NULL until first needed */
	int ring_evfd;
	unsigned ring_pending; /* SQEs prepared but not yet submitted */
	unsigned ring_inflight; /* SQEs whose completion has not been reaped */
	struct tgt_queue *queues;
	struct tgt_queue *flush_list;
	_Atomic bool stopping;
	uint8_t *discard; /* scratch for data we must drain */
	/* Command data buffers recycled between this worker's queues, one free list per power-of-two
	 * size from 16 KiB to 1 MiB: no malloc, page faults or munmap per I/O, and a slot keeps no
	 * buffer while idle, so a burst on many queues does not pin memory for good. */
	void *buf_cache[TGT_BUF_CLASSES];
	size_t buf_cached_bytes;
	/* The budget for command buffers that commands hold (cache excluded): past it, a queue that
	 * already holds some waits for buffers to come back instead of allocating more. */
	uint64_t buf_budget;
	uint64_t buf_held;
	struct tgt_queue *buf_waiters, *buf_waiters_tail;
};

struct tgt_target {
	pthread_mutex_t lock; /* the subsystem list and listeners */
	struct tgt_subsys *subsystems;
	struct tgt_subsys *discovery;
	struct tgt_listener *listeners;
	struct tgt_worker *workers;
	int nr_workers;
	unsigned next_worker;
	_Atomic uint32_t disc_genctr;
	char *config_path;
	/* This target's own identity, created once and kept (STATE/target-id) or pinned by --target-id
	 * or the config: serials and namespace IDs derive from it, so two boxes never present the same
	 * identifiers for different data, and one box keeps its identifiers across restarts. */
	uint8_t target_id[16];
	/* Limits on what peers can make the target hold (settable from the command line). */
	uint32_t handshake_timeout_ms;
	uint32_t idle_timeout_ms;
	int max_connections;
	_Atomic int nr_connections; /* accepted and not yet closed */
	int reserve_fd; /* spent to accept-and-close when the process is out of descriptors */
	uint64_t buf_budget; /* command buffers, for all workers together */
};

extern struct tgt_target *tgt;

/* target.c: the target's lifetime and registries. */
int tgt_init(int nr_workers);
void tgt_shutdown(void);
uint64_t tgt_now_ms(void);
struct tgt_subsys *tgt_subsys_create(const char *nqn, const char *serial, const char *model);
struct tgt_subsys *tgt_subsys_find(const char *nqn); /* caller holds tgt->lock */
int tgt_subsys_add_ns(struct tgt_subsys *s, const struct tgt_ns_params *params);
int tgt_subsys_remove_ns(struct tgt_subsys *s, uint32_t nsid);
/* Let a host in: off the deny list; unless that was all that kept it out of a subsystem open to
 * any host, onto the allowed list too (which makes the subsystem allow-list only). */
int tgt_subsys_allow_host(struct tgt_subsys *s, const char *hostnqn);
/* Shut a host out and tear down all its controllers: onto the deny list of a subsystem open to any
 * host (*denied = true), off the allowed list of one that lists hosts. Returns the number of
 * controllers dropped, or -EINVAL (bad NQN), -ENOENT (neither allowed, denied nor connected). */
int tgt_subsys_forbid_host(struct tgt_subsys *s, const char *hostnqn, bool *denied);
/* Put a host on the deny list, nothing else (loading a saved config). */
int tgt_subsys_deny_host(struct tgt_subsys *s, const char *hostnqn);
bool tgt_subsys_host_allowed(struct tgt_subsys *s, const char *hostnqn); /* caller holds s->lock */
bool tgt_subsys_on_port(const struct tgt_subsys *s, uint16_t portid);
int tgt_listener_add(const char *addr, const char *port, bool discovery_only, uint16_t portid);
bool tgt_valid_nqn(const char *nqn);
/* Pin the target's identity to a UUID string; 0 or -EINVAL. */
int tgt_target_id_set(const char *uuid);
/* Read the identity kept in STATE_DIR/target-id, creating it (random) the first time. 0 or -errno. */
int tgt_target_id_load(const char *state_dir);

/* ctrl.c: controller lifetime, registers, keep-alive and async events. */
struct tgt_ctrl *tgt_ctrl_create(struct tgt_subsys *s, const char *hostnqn, const uint8_t *hostid,
				 uint32_t kato_ms, uint16_t portid);
struct tgt_ctrl *tgt_ctrl_lookup(struct tgt_subsys *s, uint16_t cntlid);
void tgt_ctrl_get(struct tgt_ctrl *ctrl);
/* Take a reference unless the last one is already gone; caller holds the subsystem lock. */
bool tgt_ctrl_tryget(struct tgt_ctrl *ctrl);
void tgt_ctrl_put(struct tgt_ctrl *ctrl);
bool tgt_ctrl_fatal(struct tgt_ctrl *ctrl, const char *why); /* true: this call started the teardown */
void tgt_ctrl_touch(struct tgt_ctrl *ctrl);
uint64_t tgt_ctrl_cap(void);
int tgt_ctrl_property_get(struct tgt_ctrl *ctrl, uint32_t offset, bool eight, uint64_t *value);
int tgt_ctrl_property_set(struct tgt_ctrl *ctrl, uint32_t offset, uint64_t value);
void tgt_ctrl_ns_changed(struct tgt_ctrl *ctrl, uint32_t nsid); /* caller holds a reference */
void tgt_ctrl_deliver_aens(struct tgt_ctrl *ctrl);
void tgt_ctrl_check_keep_alive(struct tgt_ctrl *ctrl, uint64_t now_ms);

/* tcp.c: the NVMe/TCP queue. */
void tgt_queue_start(struct tgt_worker *w, int fd, struct tgt_listener *l);
void tgt_queue_on_event(struct tgt_queue *q, uint32_t events);
void tgt_queue_flush(struct tgt_queue *q);
void tgt_queue_close(struct tgt_queue *q, const char *why);
void tgt_queue_put(struct tgt_queue *q);
bool tgt_queue_is_admin(const struct tgt_queue *q);
/* Close the queue if it has not finished ICReq and Connect within the handshake timeout. */
void tgt_queue_check_handshake(struct tgt_queue *q, uint64_t now_ms);
/* Bring the queue's namespace cache up to date, dropping references to removed namespaces. */
void tgt_queue_ns_refresh(struct tgt_queue *q);

/* worker.c */
int tgt_worker_start(struct tgt_worker *w, int id);
void tgt_worker_stop(struct tgt_worker *w);
/* Free the command buffers the worker recycles (after its queues are gone). */
void tgt_worker_free_bufs(struct tgt_worker *w);
/* Give waiting commands the buffers that have come back, oldest waiter first. */
void tgt_worker_resume_buf_waiters(struct tgt_worker *w);
/* The most memory one connection can make the target hold beyond the buffer budget (a full-depth
 * queue's state and one largest transfer; in-capsule data in flight at the backend aside). */
uint64_t tgt_conn_worst_bytes(void);
/* Set the command buffer budget (bytes, all workers together). */
void tgt_set_buffer_budget(uint64_t bytes);
void tgt_worker_post_conn(struct tgt_worker *w, int fd, struct tgt_listener *l);
/* Hand the worker an event to deliver; consumes a reference to ctrl the caller took. */
void tgt_worker_post_aen(struct tgt_worker *w, struct tgt_ctrl *ctrl);
/* A namespace went: every worker refreshes its queues' caches now, so the backend closes when its
 * last command ends rather than when each queue next looks a namespace up. */
void tgt_workers_post_ns_refresh(void);
struct io_uring *tgt_worker_ring(struct tgt_worker *w);
void tgt_worker_mark_flush(struct tgt_worker *w, struct tgt_queue *q);

#endif
