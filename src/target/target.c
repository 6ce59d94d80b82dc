/* The target as a whole: its registries (subsystems, namespaces, hosts, listeners), worker
 * start-up and shutdown, and the accept loop that hands connections to workers (the control socket
 * has a thread of its own, so nothing an operator's tool does can hold up an accept). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/signalfd.h>

#include "nvme/identify.h"
#include "target/cmd.h"
#include "target/control.h"
#include "target/reload.h"
#include "util/clock.h"
#include "util/log.h"

struct tgt_target *tgt;

void tgt_set_buffer_budget(uint64_t bytes)
{
	tgt->buf_budget = bytes;
	for (int i = 0; i < tgt->nr_workers; i++)
		tgt->workers[i].buf_budget = bytes / (uint64_t)tgt->nr_workers;
}

int tgt_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	/* strtoull would also take blanks, a sign and "-1" (as 2^64 - 1): digits first, or nothing. */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || (shift && v > (~0ull >> shift)))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

bool tgt_valid_nqn(const char *nqn)
{
	size_t n = strnlen(nqn, NVME_NQN_SIZE);

	/* "nqn.yyyy-mm.reverse-domain:..." or the UUID form. */
	return n >= NVME_NQN_MIN_LEN && n <= NVME_NQN_MAX_LEN &&
	       !strncmp(nqn, NVME_NQN_PREFIX, strlen(NVME_NQN_PREFIX));
}

/* ---- Identity ---- */

int tgt_target_id_set(const char *uuid)
{
	return nvme_uuid_parse(uuid, tgt->target_id);
}

static int read_target_id(const char *path)
{
	char line[64] = "";
	FILE *f = fopen(path, "r");
	int err;

	if (!f)
		return -errno;
	err = fgets(line, sizeof(line), f) ? 0 : -EINVAL;
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	if (!err && tgt_target_id_set(line))
		err = -EINVAL;
	if (err == -EINVAL)
		tr_err("%s: not a UUID; remove it to get a new identity, or pin one with --target-id", path);
	return err;
}

int tgt_target_id_load(const char *state_dir)
{
	char path[PATH_MAX], text[40];
	int fd, err;

	snprintf(path, sizeof(path), "%s/target-id", state_dir);
	err = read_target_id(path);
	if (err != -ENOENT)
		return err;
	if (RAND_bytes(tgt->target_id, sizeof(tgt->target_id)) != 1)
		return -EIO;
	nvme_uuid_set_version(tgt->target_id, NVME_UUID_V4_RANDOM);
	nvme_uuid_format(tgt->target_id, text);
	mkdir(state_dir, 0755);
	/* O_EXCL: of two targets starting at once on one state directory, both end up with the one
	 * identity that was written first. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? read_target_id(path) : -errno;
	err = dprintf(fd, "%s\n", text) < 0 || fsync(fd) ? -errno : 0;
	close(fd);
	if (!err)
		tr_info("new target identity %s kept in %s", text, path);
	return err;
}

/* Derive an identifier from this target's identity and a description of what it names; 0 or -ENOMEM. */
int tgt_derive_id(uint8_t out[16], const char *what, uint32_t number, bool as_uuid)
{
	char id[40], *name;

	nvme_uuid_format(tgt->target_id, id);
	if (asprintf(&name, "%s %s", id, what) < 0)
		return -ENOMEM;
	nvme_derive_id(out, name, number, as_uuid);
	free(name);
	return 0;
}

/* ---- Subsystems ---- */

struct tgt_subsys *tgt_subsys_find(struct tgt_target *t, const char *nqn)
{
	for (struct tgt_subsys *s = t->subsystems; s; s = s->next) {
		if (!strcmp(s->nqn, nqn))
			return s;
	}
	return NULL;
}

static int default_serial(const char *nqn, char *out, size_t len)
{
	uint8_t id[16];

	/* Per box: two targets exporting one NQN are two devices unless the config pins a serial. */
	if (tgt_derive_id(id, nqn, 0, false))
		return -ENOMEM;
	snprintf(out, len, "%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", id[0], id[1], id[2], id[3], id[4],
		 id[5], id[6], id[7], id[8], id[9]);
	return 0;
}

static struct tgt_subsys *subsys_alloc(const char *nqn, const char *serial, const char *model)
{
	struct tgt_subsys *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->nqn, sizeof(s->nqn), "%s", nqn);
	if (serial && *serial) {
		snprintf(s->serial, sizeof(s->serial), "%s", serial);
	} else if (default_serial(nqn, s->serial, sizeof(s->serial))) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(s->model, sizeof(s->model), "%s", model && *model ? model : TGT_DEFAULT_MODEL);
	s->cntlid_min = s->next_cntlid = 1;
	s->cntlid_max = NVME_CNTLID_MAX;
	s->target = tgt;
	s->allow_any_host = true;
	s->port_mask = ~0u; /* every port, unless a config file links it to some */
	return s;
}

struct tgt_subsys *tgt_subsys_create(const char *nqn, const char *serial, const char *model)
{
	struct tgt_subsys *s;

	if (!tgt_valid_nqn(nqn) || !strcmp(nqn, NVME_DISC_SUBSYS_NQN)) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&tgt->lock);
	if (tgt_subsys_find(tgt, nqn)) {
		pthread_mutex_unlock(&tgt->lock);
		errno = EEXIST;
		return NULL;
	}
	s = subsys_alloc(nqn, serial, model);
	if (s) {
		struct tgt_subsys **tail = &tgt->subsystems;

		while (*tail)
			tail = &(*tail)->next;
		*tail = s;
		atomic_fetch_add(&tgt->disc_genctr, 1);
	}
	pthread_mutex_unlock(&tgt->lock);
	return s;
}

bool tgt_subsys_on_port(const struct tgt_subsys *s, uint16_t portid)
{
	return portid <= TGT_MAX_PORTID && (s->port_mask & (1u << portid));
}

static struct tgt_host_entry **host_find(struct tgt_host_entry **list, const char *hostnqn)
{
	for (; *list; list = &(*list)->next) {
		if (!strcmp((*list)->nqn, hostnqn))
			break;
	}
	return list;
}

/* Add to a host list unless there already; 0 or -ENOMEM. */
int tgt_host_list_add(struct tgt_host_entry **list, const char *hostnqn)
{
	struct tgt_host_entry **pp = host_find(list, hostnqn), *h;

	if (*pp)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->nqn, sizeof(h->nqn), "%s", hostnqn);
	h->next = *list;
	*list = h;
	return 0;
}

/* Remove from a host list; true if it was there. */
static bool host_remove(struct tgt_host_entry **list, const char *hostnqn)
{
	struct tgt_host_entry **pp = host_find(list, hostnqn), *h = *pp;

	if (!h)
		return false;
	*pp = h->next;
	free(h);
	return true;
}

void tgt_host_list_free(struct tgt_host_entry **list)
{
	while (*list) {
		struct tgt_host_entry *h = *list;

		*list = h->next;
		free(h);
	}
}

bool tgt_subsys_host_allowed(struct tgt_subsys *s, const char *hostnqn)
{
	if (s->discovery)
		return true;
	/* The deny list wins over allow_any_host: it is how one host is shut out of an open subsystem. */
	if (*host_find(&s->denied_hosts, hostnqn))
		return false;
	return s->allow_any_host || *host_find(&s->hosts, hostnqn);
}

int tgt_subsys_allow_host(struct tgt_subsys *s, const char *hostnqn)
{
	bool was_denied;
	int err = 0;

	if (!tgt_valid_nqn(hostnqn))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	was_denied = host_remove(&s->denied_hosts, hostnqn);
	/* allow-host undoes forbid-host: on a subsystem open to any host, lifting the denial restores
	 * what was before, without locking every other host out as an allowed list would. */
	if (!(was_denied && s->allow_any_host)) {
		s->allow_any_host = false;
		err = tgt_host_list_add(&s->hosts, hostnqn);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&tgt->disc_genctr, 1);
	return err;
}

int tgt_subsys_deny_host(struct tgt_subsys *s, const char *hostnqn)
{
	int err;

	if (!tgt_valid_nqn(hostnqn))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	err = tgt_host_list_add(&s->denied_hosts, hostnqn);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&tgt->disc_genctr, 1);
	return err;
}

/* Tear down every live controller `doomed` picks (called under s->lock); returns how many. One per
 * pass: tgt_ctrl_fatal() may free the controller, which takes s->lock, so it runs unlocked and the
 * walk starts over. Each pass ends one controller and a doomed host can make no new ones
 * (tgt_ctrl_create checks access under s->lock), so this ends, with no array to outgrow however
 * many there are. */
int tgt_subsys_drop_ctrls(struct tgt_subsys *s, bool (*doomed)(struct tgt_subsys *, struct tgt_ctrl *, const void *),
			  const void *arg, const char *why)
{
	int dropped = 0;

	for (;;) {
		struct tgt_ctrl *victim = NULL;

		pthread_mutex_lock(&s->lock);
		for (struct tgt_ctrl *c = s->ctrls; c && !victim; c = c->next) {
			if (!doomed(s, c, arg))
				continue;
			pthread_mutex_lock(&c->lock);
			/* A live controller still holds the list's reference, so taking one is safe. */
			if (!c->dead) {
				tgt_ctrl_get(c);
				victim = c;
			}
			pthread_mutex_unlock(&c->lock);
		}
		pthread_mutex_unlock(&s->lock);
		if (!victim)
			return dropped;
		dropped += tgt_ctrl_fatal(victim, why);
		tgt_ctrl_put(victim);
	}
}

static bool ctrl_of_host(struct tgt_subsys *s, struct tgt_ctrl *c, const void *hostnqn)
{
	(void)s;
	return !strcmp(c->hostnqn, hostnqn);
}

int tgt_subsys_forbid_host(struct tgt_subsys *s, const char *hostnqn, bool *denied)
{
	bool known = false;
	int err = 0, dropped;

	if (!tgt_valid_nqn(hostnqn))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	/* Only this host's access changes: an open subsystem stays open to every other host. */
	*denied = s->allow_any_host;
	if (*denied)
		err = tgt_host_list_add(&s->denied_hosts, hostnqn);
	else
		known = host_remove(&s->hosts, hostnqn) || *host_find(&s->denied_hosts, hostnqn);
	pthread_mutex_unlock(&s->lock);
	if (err)
		return err;
	atomic_fetch_add(&tgt->disc_genctr, 1);
	dropped = tgt_subsys_drop_ctrls(s, ctrl_of_host, hostnqn, "host access revoked");
	if (!*denied && !known && !dropped)
		return -ENOENT;
	tr_info("%s: host %s forbidden (%s), %d controller%s dropped", s->nqn, hostnqn,
		*denied ? "denied" : "no longer on the allowed list", dropped, dropped == 1 ? "" : "s");
	return dropped;
}

static void notify_ns_change(struct tgt_subsys *s, uint32_t nsid)
{
	struct tgt_ctrl **ctrls;
	size_t n = 0, k = 0;

	/* Every controller, however many: take a reference to each that is not already on its way
	 * out (a controller whose last reference went stays listed until its putter gets the lock,
	 * and must not be touched after), then tell them with no subsystem lock held. */
	pthread_mutex_lock(&s->lock);
	for (struct tgt_ctrl *c = s->ctrls; c; c = c->next)
		n++;
	ctrls = n ? malloc(n * sizeof(*ctrls)) : NULL;
	for (struct tgt_ctrl *c = s->ctrls; c && ctrls; c = c->next) {
		if (tgt_ctrl_tryget(c))
			ctrls[k++] = c;
	}
	pthread_mutex_unlock(&s->lock);
	if (n && !ctrls)
		tr_err("%s: out of memory: namespace %u change not announced to %zu controllers", s->nqn, nsid, n);
	for (size_t i = 0; i < k; i++) {
		tgt_ctrl_ns_changed(ctrls[i], nsid);
		tgt_ctrl_put(ctrls[i]);
	}
	free(ctrls);
}

int tgt_subsys_add_ns(struct tgt_subsys *s, const struct tgt_ns_params *params)
{
	struct tgt_ns_params p = *params;
	struct tgt_ns *ns;

	if (p.anagrpid > TGT_MAX_ANAGRPS)
		return -ERANGE;
	pthread_mutex_lock(&s->lock);
	if (!p.nsid) {
		for (p.nsid = 1; p.nsid <= TGT_MAX_NSID && s->ns[p.nsid]; p.nsid++)
			;
	}
	bool taken = p.nsid > TGT_MAX_NSID || s->ns[p.nsid];
	pthread_mutex_unlock(&s->lock);
	if (taken)
		return p.nsid > TGT_MAX_NSID ? -ERANGE : -EEXIST;
	ns = tgt_ns_open(s->nqn, &p);
	if (!ns)
		return -errno;
	int err = tgt_subsys_attach_ns(s, ns);

	if (err < 0)
		tgt_ns_put(ns);
	return err;
}

int tgt_subsys_attach_ns(struct tgt_subsys *s, struct tgt_ns *ns)
{
	pthread_mutex_lock(&s->lock);
	if (s->ns[ns->nsid]) {
		pthread_mutex_unlock(&s->lock);
		return -EEXIST;
	}
	s->ns[ns->nsid] = ns;
	atomic_fetch_add_explicit(&s->ns_generation, 1, memory_order_release);
	pthread_mutex_unlock(&s->lock);
	if (s->target)
		tgt_ana_bump(s->target); /* the ANA log lists the namespace in its group */
	notify_ns_change(s, ns->nsid);
	return (int)ns->nsid;
}

void tgt_ns_resized(const char *subnqn, uint32_t nsid, const struct tgt_ns *which, uint64_t size)
{
	struct tgt_subsys *s;
	bool ours = false;

	pthread_mutex_lock(&tgt->lock);
	s = tgt_subsys_find(tgt, subnqn);
	pthread_mutex_unlock(&tgt->lock);
	if (!s || nsid == 0 || nsid > TGT_MAX_NSID)
		return;
	/* Compared, not followed: a namespace the subsystem no longer holds may be gone already. */
	pthread_mutex_lock(&s->lock);
	if (s->ns[nsid] == which) {
		ours = true;
		s->ns[nsid]->size = size;
		s->ns[nsid]->nlbas = size >> s->ns[nsid]->lba_shift;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ours)
		return;
	tr_info("%s: namespace %u is now %llu bytes", subnqn, nsid, (unsigned long long)size);
	notify_ns_change(s, nsid);
}

int tgt_subsys_remove_ns(struct tgt_subsys *s, uint32_t nsid)
{
	struct tgt_ns *ns;

	if (nsid == 0 || nsid > TGT_MAX_NSID)
		return -ERANGE;
	pthread_mutex_lock(&s->lock);
	ns = s->ns[nsid];
	s->ns[nsid] = NULL;
	if (ns)
		atomic_fetch_add_explicit(&s->ns_generation, 1, memory_order_release);
	pthread_mutex_unlock(&s->lock);
	if (!ns)
		return -ENOENT;
	if (s->target)
		tgt_ana_bump(s->target);
	/* Every queue drops its cached reference now; a command in flight keeps its own, and the
	 * backend closes when the last of them ends. */
	tgt_ns_put(ns);
	tgt_workers_post_ns_refresh();
	notify_ns_change(s, nsid);
	tr_info("%s: namespace %u removed", s->nqn, nsid);
	return 0;
}

static void subsys_free(struct tgt_subsys *s)
{
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		if (s->ns[i])
			tgt_ns_put(s->ns[i]);
	}
	tgt_host_list_free(&s->hosts);
	tgt_host_list_free(&s->denied_hosts);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- Listeners ---- */

int tgt_tls_mode_parse(const char *s)
{
	return !strcmp(s, "none") ? TGT_TLS_NONE : !strcmp(s, "allowed") ? TGT_TLS_ALLOWED
					: !strcmp(s, "required") ? TGT_TLS_REQUIRED : -1;
}

const char *tgt_tls_mode_name(enum tgt_tls_mode m)
{
	return m == TGT_TLS_REQUIRED ? "required" : m == TGT_TLS_ALLOWED ? "allowed" : "none";
}

int tgt_listener_add(const char *addr, const char *port, bool discovery_only, uint16_t portid,
		     enum tgt_tls_mode tls)
{
	struct tgt_listener *l;
	int err = tgt_listener_open(addr, port, discovery_only, portid, tls, &l);

	if (!err)
		tgt_listener_insert(l);
	return err;
}

void tgt_listener_insert(struct tgt_listener *l)
{
	pthread_mutex_lock(&tgt->lock);
	struct tgt_listener **tail = &tgt->listeners;
	while (*tail)
		tail = &(*tail)->next;
	*tail = l;
	pthread_mutex_unlock(&tgt->lock);
	atomic_fetch_add(&tgt->disc_genctr, 1);
	tr_info("listening on %s%s%s:%s (port id %u%s%s)", l->ipv6 ? "[" : "", l->traddr, l->ipv6 ? "]" : "",
		l->trsvcid, l->portid, l->discovery_only ? ", discovery only" : "",
		l->tls == TGT_TLS_REQUIRED ? ", TLS required" : l->tls == TGT_TLS_ALLOWED ? ", TLS allowed" : "");
}

int tgt_listener_open(const char *addr, const char *port, bool discovery_only, uint16_t portid,
		      enum tgt_tls_mode tls, struct tgt_listener **out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	struct tgt_listener *l;
	int fd, one = 1, err;

	err = getaddrinfo(addr && *addr ? addr : NULL, port, &hints, &res);
	if (err) {
		tr_err("listen %s:%s: %s", addr, port, gai_strerror(err));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 128))
		goto fail;
	l = calloc(1, sizeof(*l));
	if (!l)
		goto fail;
	l->fd = fd;
	l->portid = portid;
	l->discovery_only = discovery_only;
	l->tls = tls;
	l->ipv6 = res->ai_family == AF_INET6;
	memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
	snprintf(l->traddr, sizeof(l->traddr), "%s", addr && *addr ? addr : "0.0.0.0");
	snprintf(l->trsvcid, sizeof(l->trsvcid), "%s", port);
	freeaddrinfo(res);
	*out = l;
	return 0;
fail:
	err = -errno;
	tr_err("listen %s:%s: %s", addr, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return err;
}

/* ---- Lifetime ---- */

int tgt_init(int nr_workers)
{
	tgt = calloc(1, sizeof(*tgt));
	if (!tgt)
		return -ENOMEM;
	tgt_lba_init();
	pthread_mutex_init(&tgt->lock, NULL);
	tgt->discovery = subsys_alloc(NVME_DISC_SUBSYS_NQN, NULL, "Discovery controller");
	if (!tgt->discovery)
		return -ENOMEM;
	tgt->discovery->discovery = true;
	tgt->handshake_timeout_ms = TGT_HANDSHAKE_TIMEOUT_MS;
	tgt->idle_timeout_ms = TGT_IDLE_TIMEOUT_MS;
	tgt->max_connections = TGT_MAX_CONNECTIONS_CAP;
	tgt->reserve_fd = -1;
	tgt->nr_workers = nr_workers;
	tgt->workers = calloc((size_t)nr_workers, sizeof(*tgt->workers));
	if (!tgt->workers)
		return -ENOMEM;
	/* Command buffers a host can make the target hold: 1/8 of RAM by default, within bounds. */
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t budget = ram / 8;
	tgt_set_buffer_budget(budget < TGT_BUF_BUDGET_MIN ? TGT_BUF_BUDGET_MIN
			      : budget > TGT_BUF_BUDGET_MAX ? TGT_BUF_BUDGET_MAX : budget);
	for (int i = 0; i < nr_workers; i++) {
		int err;

		tgt->workers[i].target = tgt;
		err = tgt_worker_start(&tgt->workers[i], i);

		if (err) {
			tr_err("cannot start worker %d: %s", i, strerror(-err));
			tgt->nr_workers = i;
			return err;
		}
	}
	return 0;
}

/* Out of descriptors: a readable listener would wake us again at once, so spend the reserve
 * descriptor to take the connection off the backlog and close it, then take the reserve back. */
static void accept_and_drop(struct tgt_listener *l, int err)
{
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(10000, 1);
	unsigned suppressed;
	int fd;

	if (tgt->reserve_fd >= 0) {
		close(tgt->reserve_fd);
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			tgt_metrics_inc(&tgt->metrics.conns_refused);
		}
		tgt->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (tr_ratelimit(&rl, &suppressed))
		tr_warn("accept on port %s: %s with %d connections open; refusing new ones until some close "
			"(%u refused since the last such line)", l->trsvcid, strerror(err),
			atomic_load(&tgt->nr_connections), suppressed + 1);
}

void tgt_accept(struct tgt_listener *l)
{
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(10000, 1);
	unsigned suppressed;

	while (l->fd >= 0) { /* -1: closed by a reload after this event was taken */
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				accept_and_drop(l, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				tr_warn("accept on port %s: %s", l->trsvcid, strerror(errno));
			return;
		}
		if (atomic_load(&tgt->nr_connections) >= tgt->max_connections) {
			close(fd);
			tgt_metrics_inc(&tgt->metrics.conns_refused);
			if (tr_ratelimit(&rl, &suppressed))
				tr_warn("port %s: %d connections open, the --max-connections limit; refusing new ones "
					"(%u refused since the last such line)", l->trsvcid, tgt->max_connections,
					suppressed + 1);
			continue;
		}
		atomic_fetch_add(&tgt->nr_connections, 1);
		tgt_metrics_inc(&tgt->metrics.conns_accepted);
		/* Round-robin: the host's per-CPU queues spread over the workers. */
		tgt_worker_post_conn(&tgt->workers[tgt->next_worker++ % (unsigned)tgt->nr_workers], fd, l);
	}
}

static void listeners_free(struct tgt_listener **list)
{
	while (*list) {
		struct tgt_listener *l = *list;

		*list = l->next;
		free(l);
	}
}

static void subsystems_free(struct tgt_subsys **list)
{
	while (*list) {
		struct tgt_subsys *s = *list;

		*list = s->next;
		subsys_free(s);
	}
}

void tgt_shutdown(void)
{
	if (!tgt)
		return;
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next)
		close(l->fd);
	for (int i = 0; i < tgt->nr_workers; i++)
		tgt_worker_stop(&tgt->workers[i]);
	tgt_backend_rbd_quiesce(); /* no resize announcements into registries about to go */
	/* With the ports and subsystems a reload took away: queues and controllers kept pointing at
	 * them until the workers stopped. */
	listeners_free(&tgt->listeners);
	listeners_free(&tgt->retired_listeners);
	subsystems_free(&tgt->subsystems);
	subsystems_free(&tgt->retired);
	subsys_free(tgt->discovery);
	tgt_host_auth_free_all(tgt);
	free(tgt->workers);
	free(tgt->config_path);
	pthread_mutex_destroy(&tgt->lock);
	free(tgt);
	tgt = NULL;
}

/* How often the main thread looks whether a file or device behind a namespace changed size. */
#define REVALIDATE_MS 1000

int tgt_run(void)
{
	static char reload_token; /* the epoll tag of reload requests */
	struct epoll_event ev, evs[16];
	sigset_t mask;
	int epfd, sfd, rfd, stop = 0;
	uint64_t revalidated_ns = tr_now_ns();

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGHUP);
	/* Workers inherit this mask, so the signals arrive here and only here. */
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0)
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = l };
		epoll_ctl(epfd, EPOLL_CTL_ADD, l->fd, &ev);
	}
	tgt->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	tr_info("target ready");
	/* Everything listens and the control socket answers: systemd may call us started. */
	rfd = tgt_reload_start(epfd);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &reload_token };
	if (rfd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_ADD, rfd, &ev);
	while (!stop) {
		int n = epoll_wait(epfd, evs, 16, REVALIDATE_MS);
		uint64_t now = tr_now_ns();

		if (now - revalidated_ns >= REVALIDATE_MS * TR_NSEC_PER_MSEC) {
			revalidated_ns = now;
			tgt_ns_revalidate_all();
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo == SIGPIPE)
					continue;
				if (si.ssi_signo == SIGHUP) {
					tgt_reload_signal();
				} else {
					tr_info("%s: stopping", strsignal((int)si.ssi_signo));
					stop = 1;
				}
			} else if (evs[i].data.ptr == &reload_token) {
				tgt_reload_serve();
			} else {
				tgt_accept(evs[i].data.ptr);
			}
		}
	}
	tgt_reload_stop();
	close(epfd);
	close(sfd);
	if (tgt->reserve_fd >= 0)
		close(tgt->reserve_fd);
	tgt->reserve_fd = -1;
	return 0;
}
