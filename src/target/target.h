/* The target's registries: subsystems with namespaces and allowed hosts, controllers, listeners
 * and the target as a whole, and the functions that connect them. Queues and commands are in
 * queue.h and cmd.h, storage in backend.h, the event loops in worker.h. */
#ifndef TIGHTROPE_TARGET_H
#define TIGHTROPE_TARGET_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nvme/dhchap_key.h"
#include "nvme/spec.h"
#include "target/backend.h"
#include "target/metrics.h"

struct tgt_worker;
struct tgt_queue;
struct tgt_ctrl;
struct tgt_subsys;
struct tgt_ns;
struct io_uring;

/* Limits and defaults; the Linux target's values where it has one. */
#define TGT_MAX_NSID 1024
#define TGT_RESV_LOG_MAX 16 /* reservation notices a controller keeps unread */
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
#define TGT_LBA_SIZE_512 (1u << TGT_LBA_SHIFT_512) /* the two block sizes a namespace may have */
#define TGT_LBA_SIZE_4K (1u << TGT_LBA_SHIFT_4K)
#define TGT_DEFAULT_MODEL "tightrope"
#define TGT_HANDSHAKE_TIMEOUT_MS 10000 /* ICReq and Connect must be done by then */
#define TGT_IDLE_TIMEOUT_MS (3600u * 1000) /* a KATO 0 controller with no command for this long goes */
#define TGT_MAX_CONNECTIONS_CAP 8192 /* the default --max-connections, if the fd limit allows it */
#define TGT_BUF_BUDGET_MIN (64ull << 20) /* the default buffer budget is 1/8 of RAM within these */
#define TGT_BUF_BUDGET_MAX (8ull << 30)
#define TGT_MAX_ANAGRPS 128 /* ANA groups 1..128, as nvmet */
#define TGT_DEFAULT_ANAGRPID 1 /* every namespace's group unless told; optimized on every port */
#define TGT_ANATT 10 /* seconds a host should allow for a transition (ANA state "change") */

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
	/* Controller IDs come from this range (nvmet's attr_cntlid_min/max): two targets that serve one
	 * subsystem give them disjoint ranges, for a host refuses two paths with the same CNTLID. */
	uint16_t cntlid_min, cntlid_max;
	uint16_t next_cntlid;
	uint32_t port_mask; /* bit per listener port id that exports this subsystem; 0 = all */
	struct tgt_target *target; /* the target it belongs to */
	struct tgt_subsys_metrics metrics; /* cumulative: they outlive controllers and queues */
	struct tgt_subsys *next;
};

#define TGT_TLS_KEY_STR_MAX 128 /* "NVMeTLSkey-1:02:" + base64 of 48 + 4 bytes + ":" */

/* ---- Host credentials (nvmet's hosts/NQN/dhchap_*: one set per host, for every subsystem) ---- */

struct tgt_host_auth {
	char nqn[NVME_NQN_SIZE];
	char key[NVME_DHCHAP_SECRET_MAX]; /* the host's DH-HMAC-CHAP secret, as given ("" = none) */
	char ctrl_key[NVME_DHCHAP_SECRET_MAX]; /* the controller's, for bidirectional authentication */
	char tls_key[TGT_TLS_KEY_STR_MAX]; /* its configured TLS PSK, "NVMeTLSkey-1:..." ("" = none) */
	uint8_t hash; /* preferred hash (NVME_AUTH_HASH_*) */
	uint8_t dhgroup; /* required DH group (NVME_AUTH_DHGROUP_*) */
	/* Failed attempts: past a few in a short window, the host's attempts are refused at once. */
	uint64_t fail_window_start_ms;
	unsigned fails;
	struct tgt_host_auth *next;
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
	bool auth_required; /* the host has a DH-HMAC-CHAP secret: every queue authenticates */
	bool admin_authenticated; /* under lock: I/O queues may connect */
	struct tgt_queue *queues[TGT_MAX_IO_QUEUES + 1]; /* [0] is the admin queue */
	/* Registers and features: touched only from the admin queue's worker. */
	uint32_t cc;
	uint32_t csts;
	uint32_t aen_cfg;
	uint16_t aer_cids[TGT_AERL + 1];
	struct tgt_cmd *aer_cmds[TGT_AERL + 1];
	int nr_aers;
	/* Events (TGT_AEN_* bits), filled by control work, drained by the admin worker. An event that
	 * was sent stays masked until the host reads its log page. */
	uint32_t aen_masked;
	uint32_t aen_pending;
	uint32_t changed_ns[NVME_CHANGED_NS_MAX];
	uint32_t nr_changed_ns; /* > NVME_CHANGED_NS_MAX means "more than fit" */
	uint64_t err_count;
	/* Reservation notices for this controller's host (log page 80h), oldest first; under lock. */
	struct tgt_resv_notice {
		uint64_t count;
		uint32_t nsid;
		uint8_t type;
	} resv_log[TGT_RESV_LOG_MAX];
	unsigned resv_log_first, resv_log_len;
	uint64_t resv_log_counter; /* every notice takes the next number, kept or lost (0 skipped) */
	struct tgt_ctrl *next;
};

/* Asynchronous events a controller reports, as bits of aen_pending/aen_masked. */
#define TGT_AEN_NS_CHANGED (1u << 0) /* Namespace Attribute Changed: log 04h */
#define TGT_AEN_ANA_CHANGE (1u << 1) /* Asymmetric Namespace Access Change: log 0Ch */
#define TGT_AEN_RESV (1u << 2) /* Reservation Log Page Available: log 80h */

/* ---- Listeners and the target as a whole ---- */

/* A port's TLS policy (nvmet's addr_tsas / addr_treq): none; TLS 1.3 allowed beside plain
 * connections (treq "not required"); TLS 1.3 required. */
enum tgt_tls_mode { TGT_TLS_NONE, TGT_TLS_ALLOWED, TGT_TLS_REQUIRED };

struct tgt_listener {
	int fd;
	_Atomic enum tgt_tls_mode tls; /* atomic: a reload may change it while workers read it */
	uint16_t portid;
	struct sockaddr_storage addr;
	char traddr[64];
	char trsvcid[8];
	bool ipv6;
	_Atomic bool discovery_only; /* the same */
	struct tgt_listener *next;
};

struct tgt_target {
	pthread_mutex_t lock; /* the subsystem list and listeners */
	struct tgt_subsys *subsystems;
	struct tgt_subsys *discovery;
	struct tgt_listener *listeners;
	/* What a reload removed, kept until shutdown: controllers and queues may still point at them. */
	struct tgt_subsys *retired;
	struct tgt_listener *retired_listeners;
	struct tgt_host_auth *host_auth; /* under lock */
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
	/* Poll mode (--poll-us): a worker that saw an event within this many microseconds looks again
	 * without sleeping, as SPDK's reactors and the kernel's busy-poll do; 0 = always sleep. */
	_Atomic uint32_t poll_us;
	/* ANA: each port's state of each group (enum nvme_ana_state; 0 = never set, which reads as
	 * optimized for the default group and inaccessible for the others, as nvmet's ports start),
	 * and the change count the ANA log page reports. Read on the I/O path without a lock. */
	_Atomic uint8_t ana_state[TGT_MAX_PORTID + 1][TGT_MAX_ANAGRPS + 1];
	_Atomic uint64_t ana_chgcnt;
	struct tgt_target_metrics metrics; /* --metrics (metrics.c) */
};

/* The process's target: set up by tgt_init and reached only by the command line, the control
 * socket and the config file. The core, handlers and transports go through queue->target. */
extern struct tgt_target *tgt;

/* target.c: the target's lifetime and registries. */
int tgt_init(int nr_workers);
void tgt_shutdown(void);
struct tgt_subsys *tgt_subsys_create(const char *nqn, const char *serial, const char *model);
struct tgt_subsys *tgt_subsys_find(struct tgt_target *t, const char *nqn); /* caller holds t->lock */
int tgt_subsys_add_ns(struct tgt_subsys *s, const struct tgt_ns_params *params);
int tgt_subsys_remove_ns(struct tgt_subsys *s, uint32_t nsid);
/* `ctl resize-ns`: make namespace nsid 'size' bytes (its backend grows or shrinks the storage), then
 * tell every controller; -errno with *why for the operator (read-only, fixed size, data past the end). */
int tgt_subsys_resize_ns(struct tgt_subsys *s, uint32_t nsid, uint64_t size, bool force, const char **why);
/* Compare every file or device namespace with its storage's size now, and announce the ones that
 * changed from outside (the main thread, once a second: nvmet's revalidate_size without the knob). */
void tgt_ns_revalidate_all(void);
/* Put a namespace opened by tgt_ns_open in its NSID's slot and tell the controllers; the NSID, or
 * -EEXIST (the caller still owns ns). */
int tgt_subsys_attach_ns(struct tgt_subsys *s, struct tgt_ns *ns);
/* Tear down each live controller for which doomed(s, c, arg) says so (called under s->lock), with
 * `why` in the log; returns how many. */
int tgt_subsys_drop_ctrls(struct tgt_subsys *s, bool (*doomed)(struct tgt_subsys *, struct tgt_ctrl *, const void *),
			  const void *arg, const char *why);
/* A host list (allowed or denied): add unless there (0 or -ENOMEM), free all. Caller holds s->lock. */
int tgt_host_list_add(struct tgt_host_entry **list, const char *hostnqn);
void tgt_host_list_free(struct tgt_host_entry **list);
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
int tgt_listener_add(const char *addr, const char *port, bool discovery_only, uint16_t portid,
		     enum tgt_tls_mode tls);
/* tgt_listener_add in two steps: bind and listen (0 or -errno, logged), then publish. */
int tgt_listener_open(const char *addr, const char *port, bool discovery_only, uint16_t portid,
		      enum tgt_tls_mode tls, struct tgt_listener **out);
void tgt_listener_insert(struct tgt_listener *l);
/* "none", "allowed", "required" (the CLI's words) and back; -1 for anything else. */
int tgt_tls_mode_parse(const char *s);
const char *tgt_tls_mode_name(enum tgt_tls_mode m);
bool tgt_valid_nqn(const char *nqn);
/* Pin the target's identity to a UUID string; 0 or -EINVAL. */
int tgt_target_id_set(const char *uuid);
/* Read the identity kept in STATE_DIR/target-id, creating it (random) the first time. 0 or -errno. */
int tgt_target_id_load(const char *state_dir);
/* An identifier derived from this target's identity and a description of what it names (serials,
 * namespace UUIDs and NGUIDs); 0 or -ENOMEM. */
int tgt_derive_id(uint8_t out[16], const char *what, uint32_t number, bool as_uuid);
/* Set the command buffer budget (bytes, all workers together). */
void tgt_set_buffer_budget(uint64_t bytes);
/* The most memory one connection can make the target hold beyond the buffer budget (a full-depth
 * queue's state and one largest transfer; in-capsule data in flight at the backend aside; tcp.c). */
uint64_t tgt_conn_worst_bytes(void);

/* auth.c: host credentials. Set a host's DH-HMAC-CHAP settings; a NULL field is left as it is, an
 * empty secret removes it. 0, or -EINVAL (a bad NQN, secret, hash or group; *why says which). */
int tgt_host_auth_set(struct tgt_target *t, const char *hostnqn, const char *key, const char *ctrl_key,
		      const char *hash, const char *dhgroup, const char **why);
/* Set (or, with "", remove) a host's configured TLS PSK in the interchange form. 0 or -EINVAL. */
int tgt_host_tls_set(struct tgt_target *t, const char *hostnqn, const char *key, const char **why);
/* Does this host have a TLS PSK? Copy it out (TGT_TLS_KEY_STR_MAX bytes); false if none. */
bool tgt_host_has_tls(struct tgt_target *t, const char *hostnqn);
bool tgt_host_tls_get(struct tgt_target *t, const char *hostnqn, char *key);
/* Forget every host's credentials (the target is going away). */
void tgt_host_auth_free_all(struct tgt_target *t);
/* Does this host have to authenticate? */
bool tgt_host_auth_required(struct tgt_target *t, const char *hostnqn);

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
void tgt_ctrl_touch_at(struct tgt_ctrl *ctrl, uint64_t now_ms); /* the caller read the clock */
uint64_t tgt_ctrl_cap(void);
int tgt_ctrl_property_get(struct tgt_ctrl *ctrl, uint32_t offset, bool eight, uint64_t *value);
int tgt_ctrl_property_set(struct tgt_ctrl *ctrl, uint32_t offset, uint64_t value);
void tgt_ctrl_ns_changed(struct tgt_ctrl *ctrl, uint32_t nsid); /* caller holds a reference */
void tgt_ctrl_ana_changed(struct tgt_ctrl *ctrl); /* caller holds a reference */
/* A reservation notice for this controller (the subsystem's lock held): logged for page 80h and
 * announced; past TGT_RESV_LOG_MAX unread ones it is counted, not kept. */
void tgt_ctrl_resv_notice(struct tgt_ctrl *ctrl, uint32_t nsid, uint8_t type);
/* The oldest notice into 'log' (an empty page if none), consumed unless 'retain'. */
void tgt_ctrl_resv_log_take(struct tgt_ctrl *ctrl, struct nvme_resv_notify_log *log, bool retain);
void tgt_ctrl_deliver_aens(struct tgt_ctrl *ctrl);
void tgt_ctrl_check_keep_alive(struct tgt_ctrl *ctrl, uint64_t now_ms);

/* ana.c: Asymmetric Namespace Access. A port's state of a group, as the I/O path and log see it. */
enum nvme_ana_state tgt_ana_state(struct tgt_target *t, uint16_t portid, uint32_t grpid);
/* Set it (ctl set-ana, --ana-state, the config's ana_groups): bumps the change count and sends the
 * ANA change event to every controller on that port. 0, -ERANGE (port or group), -EINVAL (state). */
int tgt_ana_set(struct tgt_target *t, uint16_t portid, uint32_t grpid, enum nvme_ana_state state);
/* Was the state of this group set on this port (what `ctl save` writes as the port's ana_groups)? */
bool tgt_ana_configured(struct tgt_target *t, uint16_t portid, uint32_t grpid);
/* nvmet's words: "optimized", "non-optimized", "inaccessible", "persistent-loss", "change"; -1. */
int tgt_ana_state_parse(const char *s);
const char *tgt_ana_state_name(enum nvme_ana_state state);
/* Something the ANA log lists changed (a namespace came or went): a new change count. */
void tgt_ana_bump(struct tgt_target *t);
/* The status an I/O command to this namespace gets on this controller's port: 0 if accessible. */
uint16_t tgt_ana_io_status(struct tgt_ctrl *ctrl, const struct tgt_ns *ns);
/* Build the ANA log page (LID 0Ch) for a controller into a new buffer; its length, or 0. */
size_t tgt_ana_log_build(struct tgt_ctrl *ctrl, bool groups_only, uint8_t **out);
/* Pin a subsystem's controller ID range; -ERANGE outside 1..NVME_CNTLID_MAX or min > max. */
int tgt_subsys_set_cntlid_range(struct tgt_subsys *s, long min, long max);

#endif
