/* Reloading the config file into the running target (`ctl reload`, SIGHUP, systemd's ExecReload):
 * read it again, check all of it, open what is new (namespaces' storage, listeners), and only then
 * apply the difference, so a file that fails changes nothing and connections the new file still
 * allows are never dropped. Runs on the main thread, which owns the listeners' epoll set; the
 * control thread hands its request over and waits. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "nvme/dhchap.h"
#include "nvme/dhchap_key.h"
#include "nvme/identify.h"
#include "nvme/tls_psk.h"
#include "target/config.h"
#include "target/control.h"
#include "target/reload.h"
#include "util/clock.h"
#include "util/log.h"

struct want_ns {
	struct tgt_ns_params p; /* p.path points into the parsed file */
	uint8_t uuid[16], nguid[16];
	struct tgt_ns *opened; /* storage opened ahead of the change */
};

struct want_subsys {
	const char *nqn, *serial, *model;
	bool allow_any;
	json_object *hosts, *denied;
	long cntlid_min, cntlid_max;
	struct want_ns *ns;
	size_t nr_ns;
	uint32_t port_mask;
	struct tgt_subsys *running; /* the running subsystem of that NQN, if any */
};

struct want_port {
	int id;
	char traddr[64];
	const char *trsvcid;
	enum tgt_tls_mode tls;
	bool discovery_only;
	json_object *ana_groups;
	struct tgt_listener *running; /* same port ID, running now */
	struct tgt_listener *opened; /* bound ahead of the change: new, or moved to another address */
};

struct want {
	json_object *root, *hosts;
	struct want_subsys *subs;
	size_t nr_subs;
	struct want_port *ports;
	size_t nr_ports;
	char *why;
	size_t why_len;
};

static int refuse(struct want *w, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct want *w, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->why, w->why_len, fmt, ap);
	va_end(ap);
	return err;
}

static struct want_subsys *want_subsys_find(struct want *w, const char *nqn)
{
	for (size_t i = 0; i < w->nr_subs; i++) {
		if (!strcmp(w->subs[i].nqn, nqn))
			return &w->subs[i];
	}
	return NULL;
}

static int check_host_list(struct want *w, const char *nqn, json_object *list, const char *what)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		const char *h = json_object_get_string(json_object_array_get_idx(list, i));

		if (!tgt_valid_nqn(h))
			return refuse(w, -EINVAL, "subsystem %s: %s host \"%s\" is not a valid NQN", nqn, what, h);
	}
	return 0;
}

static int parse_namespaces(struct want *w, struct want_subsys *ws, json_object *nss)
{
	size_t n = nss ? json_object_array_length(nss) : 0;

	ws->ns = calloc(n ? n : 1, sizeof(*ws->ns));
	if (!ws->ns)
		return refuse(w, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(nss, i), *en;
		struct want_ns *wn = &ws->ns[ws->nr_ns];

		if (!json_object_is_type(o, json_type_object))
			return refuse(w, -EINVAL, "subsystem %s: a namespace must be an object", ws->nqn);
		if (json_object_object_get_ex(o, "enable", &en) && !json_object_get_int(en))
			continue;
		if (tgt_config_ns_params(ws->nqn, o, &wn->p, wn->uuid, wn->nguid))
			return refuse(w, -EINVAL, "subsystem %s: namespace entry %zu is invalid (the target's log says how)",
				      ws->nqn, i);
		for (size_t j = 0; j < ws->nr_ns; j++) {
			if (ws->ns[j].p.nsid == wn->p.nsid)
				return refuse(w, -EEXIST, "subsystem %s: nsid %u defined twice", ws->nqn, wn->p.nsid);
		}
		/* The uuid/nguid pointers pointed at the buffers of the slot, which stays put. */
		ws->nr_ns++;
	}
	return 0;
}

static int parse_subsystem(struct want *w, json_object *o, struct want_subsys *ws)
{
	json_object *attr = NULL, *nss = NULL;
	int err = json_object_is_type(o, json_type_object) ? tgt_jopt_str(o, "nqn", "a subsystem", &ws->nqn) : -EINVAL;

	if (!err && (!ws->nqn || !tgt_valid_nqn(ws->nqn) || !strcmp(ws->nqn, NVME_DISC_SUBSYS_NQN)))
		return refuse(w, -EINVAL, "a subsystem has no valid \"nqn\"");
	if (!err)
		err = tgt_jopt(o, "attr", json_type_object, ws->nqn, &attr);
	if (!err && attr)
		err = tgt_jopt_str(attr, "serial", ws->nqn, &ws->serial) || tgt_jopt_str(attr, "model", ws->nqn, &ws->model);
	if (!err)
		err = tgt_jopt_str_array(o, "allowed_hosts", ws->nqn, &ws->hosts) ||
		      tgt_jopt_str_array(o, "denied_hosts", ws->nqn, &ws->denied);
	if (!err)
		err = tgt_jopt(o, "namespaces", json_type_array, ws->nqn, &nss);
	ws->cntlid_min = 1;
	ws->cntlid_max = NVME_CNTLID_MAX;
	if (!err && attr)
		err = tgt_jnum(attr, "cntlid_min", ws->nqn, 1, NVME_CNTLID_MAX, &ws->cntlid_min) ||
		      tgt_jnum(attr, "cntlid_max", ws->nqn, 1, NVME_CNTLID_MAX, &ws->cntlid_max);
	if (err)
		return refuse(w, -EINVAL, "subsystem %s: invalid entry (the target's log says how)",
			      ws->nqn ? ws->nqn : "?");
	if (ws->cntlid_min > ws->cntlid_max)
		return refuse(w, -ERANGE, "subsystem %s: cntlid_min is above cntlid_max", ws->nqn);
	ws->allow_any = attr ? tgt_jbool(attr, "allow_any_host") : !ws->hosts;
	err = check_host_list(w, ws->nqn, ws->hosts, "allowed");
	if (!err)
		err = check_host_list(w, ws->nqn, ws->denied, "denied");
	return err ? err : parse_namespaces(w, ws, nss);
}

static int parse_port(struct want *w, json_object *o)
{
	json_object *addr = NULL, *portid = NULL, *subs = NULL;
	const char *trtype = NULL, *traddr = NULL;
	struct want_port *wp = &w->ports[w->nr_ports];
	int err = json_object_is_type(o, json_type_object) ? tgt_jopt(o, "portid", json_type_int, "a port", &portid)
							   : -EINVAL;

	if (!err)
		err = tgt_jopt(o, "addr", json_type_object, "a port", &addr);
	if (!err && addr)
		err = tgt_jopt_str(addr, "trtype", "a port", &trtype);
	if (err)
		return refuse(w, -EINVAL, "a port entry is invalid (the target's log says how)");
	if (!trtype || strcmp(trtype, "tcp"))
		return 0; /* skipped at start-up too */
	if (!portid || json_object_get_int64(portid) < 0 || json_object_get_int64(portid) > TGT_MAX_PORTID)
		return refuse(w, -ERANGE, "a tcp port needs a \"portid\" in 0..%d", TGT_MAX_PORTID);
	wp->id = json_object_get_int(portid);
	for (size_t i = 0; i < w->nr_ports; i++) {
		if (w->ports[i].id == wp->id)
			return refuse(w, -EEXIST, "port %d defined twice", wp->id);
	}
	if (tgt_jopt_str(addr, "traddr", "a port", &traddr) || tgt_jopt_str(addr, "trsvcid", "a port", &wp->trsvcid) ||
	    tgt_config_port_tls(addr, wp->id, &wp->tls) || tgt_jopt_str_array(o, "subsystems", "a port", &subs) ||
	    tgt_jopt(o, "ana_groups", json_type_array, "a port", &wp->ana_groups))
		return refuse(w, -EINVAL, "port %d: invalid entry (the target's log says how)", wp->id);
	snprintf(wp->traddr, sizeof(wp->traddr), "%s", traddr && *traddr ? traddr : "0.0.0.0");
	if (!wp->trsvcid)
		wp->trsvcid = TGT_DEFAULT_TRSVCID;
	wp->discovery_only = !subs || !json_object_array_length(subs);
	for (size_t i = 0; subs && i < json_object_array_length(subs); i++) {
		const char *nqn = json_object_get_string(json_object_array_get_idx(subs, i));
		struct want_subsys *ws = want_subsys_find(w, nqn);

		if (!ws)
			return refuse(w, -ENOENT, "port %d lists unknown subsystem %s", wp->id, nqn);
		ws->port_mask |= 1u << wp->id;
	}
	w->nr_ports++;
	return 0;
}

/* The top-level hosts' credentials, checked the way tgt_host_auth_set and tgt_host_tls_set will. */
static int check_hosts(struct want *w)
{
	for (size_t i = 0; w->hosts && i < json_object_array_length(w->hosts); i++) {
		json_object *h = json_object_array_get_idx(w->hosts, i), *dh = NULL;
		const char *nqn = NULL, *key = NULL, *ctrl_key = NULL, *hash = NULL, *group = NULL, *tls = NULL;
		struct nvme_dhchap_key k;
		struct nvme_tls_psk psk;
		bool bad;

		if (!json_object_is_type(h, json_type_object) || tgt_jopt_str(h, "nqn", "a host", &nqn) || !nqn ||
		    tgt_jopt(h, "dhchap", json_type_object, nqn, &dh) || tgt_jopt_str(h, "tls_key", nqn, &tls) ||
		    (dh && (tgt_jopt_str(dh, "key", nqn, &key) || tgt_jopt_str(dh, "ctrl_key", nqn, &ctrl_key) ||
			    tgt_jopt_str(dh, "hash", nqn, &hash) || tgt_jopt_str(dh, "dhgroup", nqn, &group))))
			return refuse(w, -EINVAL, "hosts[%zu] must be an object with \"nqn\" and string dhchap fields", i);
		bad = (key && key[0] && nvme_dhchap_key_parse(key, &k)) ||
		      (ctrl_key && ctrl_key[0] && nvme_dhchap_key_parse(ctrl_key, &k)) ||
		      (hash && nvme_auth_hash_id(hash) < 0) || (group && nvme_dhgroup_id(group) < 0);
		OPENSSL_cleanse(&k, sizeof(k));
		if (bad || !tgt_valid_nqn(nqn))
			return refuse(w, -EINVAL, "host %s: bad NQN, DH-HMAC-CHAP secret, hash or DH group", nqn);
		bad = tls && tls[0] && nvme_tls_psk_parse(tls, &psk);
		OPENSSL_cleanse(&psk, sizeof(psk));
		if (bad)
			return refuse(w, -EINVAL, "host %s: tls_key is not a valid TLS PSK", nqn);
	}
	return 0;
}

static int parse(struct want *w, const char *path)
{
	json_object *subs = NULL, *ports = NULL;
	const char *target_id = NULL;
	uint8_t id[16];
	int err;

	w->root = json_object_from_file(path);
	if (!w->root || !json_object_is_type(w->root, json_type_object))
		return refuse(w, -EINVAL, "%s is not readable JSON: %s", path,
			      w->root ? "not an object" : json_util_get_last_err() ? json_util_get_last_err() : "?");
	err = tgt_jopt_str(w->root, "target_id", path, &target_id) ||
			      tgt_jopt(w->root, "hosts", json_type_array, path, &w->hosts) ||
			      tgt_jopt(w->root, "subsystems", json_type_array, path, &subs) ||
			      tgt_jopt(w->root, "ports", json_type_array, path, &ports)
		      ? refuse(w, -EINVAL, "%s: hosts, subsystems and ports must be arrays, target_id a string", path)
		      : 0;
	if (!err && target_id && (nvme_uuid_parse(target_id, id) || memcmp(id, tgt->target_id, sizeof(id))))
		err = refuse(w, -EINVAL, "target_id cannot change while the target runs (restart it)");
	if (!err)
		err = check_hosts(w);
	w->subs = calloc(subs ? json_object_array_length(subs) + 1 : 1, sizeof(*w->subs));
	w->ports = calloc(ports ? json_object_array_length(ports) + 1 : 1, sizeof(*w->ports));
	if (!err && (!w->subs || !w->ports))
		err = refuse(w, -ENOMEM, "out of memory");
	for (size_t i = 0; !err && subs && i < json_object_array_length(subs); i++) {
		err = parse_subsystem(w, json_object_array_get_idx(subs, i), &w->subs[w->nr_subs]);
		if (!err && want_subsys_find(w, w->subs[w->nr_subs].nqn))
			err = refuse(w, -EEXIST, "subsystem %s defined twice", w->subs[w->nr_subs].nqn);
		w->nr_subs++; /* counted even when refused: its namespace array is freed with the rest */
	}
	for (size_t i = 0; !err && ports && i < json_object_array_length(ports); i++)
		err = parse_port(w, json_object_array_get_idx(ports, i));
	return err;
}

/* What cannot change under connected hosts: a running subsystem's identity. */
static int check_live(struct want *w)
{
	pthread_mutex_lock(&tgt->lock);
	for (size_t i = 0; i < w->nr_subs; i++) {
		struct want_subsys *ws = &w->subs[i];

		ws->running = tgt_subsys_find(tgt, ws->nqn);
		if (!ws->running)
			continue;
		if (ws->serial && strcmp(ws->serial, ws->running->serial)) {
			pthread_mutex_unlock(&tgt->lock);
			return refuse(w, -EBUSY, "subsystem %s: the serial number cannot change while the target runs "
				      "(hosts identify the subsystem by it); restart the target", ws->nqn);
		}
		if (ws->model && strcmp(ws->model, ws->running->model)) {
			pthread_mutex_unlock(&tgt->lock);
			return refuse(w, -EBUSY, "subsystem %s: the model cannot change while the target runs; "
				      "restart the target", ws->nqn);
		}
	}
	for (size_t i = 0; i < w->nr_ports; i++) {
		for (struct tgt_listener *l = tgt->listeners; l; l = l->next) {
			if (l->portid == w->ports[i].id)
				w->ports[i].running = l;
		}
	}
	pthread_mutex_unlock(&tgt->lock);
	return 0;
}

/* Does the running namespace match what the file wants? Fields the file leaves out match. */
static bool ns_same(const struct tgt_ns *ns, const struct tgt_ns_params *p)
{
	return !strcmp(ns->path, p->path) && ns->readonly == p->readonly && ns->buffered == p->buffered &&
	       (!p->lba_size || (1u << ns->lba_shift) == p->lba_size) && (!p->uuid || !memcmp(ns->uuid, p->uuid, 16)) &&
	       (!p->nguid || !memcmp(ns->nguid, p->nguid, 16)) &&
	       (p->anagrpid ? p->anagrpid : TGT_DEFAULT_ANAGRPID) == ns->anagrpid;
}

static bool port_moved(const struct want_port *wp)
{
	return strcmp(wp->running->traddr, wp->traddr) || strcmp(wp->running->trsvcid, wp->trsvcid);
}

/* Open everything new before changing anything: namespaces' storage, listeners. */
static int prepare(struct want *w)
{
	for (size_t i = 0; i < w->nr_subs; i++) {
		struct want_subsys *ws = &w->subs[i];

		for (size_t j = 0; j < ws->nr_ns; j++) {
			struct want_ns *wn = &ws->ns[j];
			bool unchanged = false;

			if (ws->running) {
				pthread_mutex_lock(&ws->running->lock);
				unchanged = ws->running->ns[wn->p.nsid] && ns_same(ws->running->ns[wn->p.nsid], &wn->p);
				pthread_mutex_unlock(&ws->running->lock);
			}
			if (unchanged)
				continue;
			wn->opened = tgt_ns_open(ws->nqn, &wn->p);
			if (!wn->opened)
				return refuse(w, -errno, "subsystem %s nsid %u: cannot open %s: %s", ws->nqn, wn->p.nsid,
					      wn->p.path, errno == EINVAL ? "bad size or block size" : strerror(errno));
		}
	}
	for (size_t i = 0; i < w->nr_ports; i++) {
		struct want_port *wp = &w->ports[i];
		int err;

		if (wp->running && !port_moved(wp))
			continue;
		err = tgt_listener_open(wp->traddr, wp->trsvcid, wp->discovery_only, (uint16_t)wp->id, wp->tls,
					&wp->opened);
		if (err)
			return refuse(w, err, "port %d: cannot listen on %s:%s: %s", wp->id, wp->traddr, wp->trsvcid,
				      strerror(-err));
	}
	return 0;
}

/* Undo prepare(): what was opened and not used. */
static void want_free(struct want *w)
{
	for (size_t i = 0; w->subs && i < w->nr_subs; i++) {
		for (size_t j = 0; j < w->subs[i].nr_ns; j++) {
			if (w->subs[i].ns[j].opened)
				tgt_ns_put(w->subs[i].ns[j].opened);
		}
		free(w->subs[i].ns);
	}
	for (size_t i = 0; w->ports && i < w->nr_ports; i++) {
		if (w->ports[i].opened) {
			close(w->ports[i].opened->fd);
			free(w->ports[i].opened);
		}
	}
	free(w->subs);
	free(w->ports);
	json_object_put(w->root);
}

/* The host is no longer let in, or the port it came through no longer exports the subsystem. */
static bool ctrl_unwanted(struct tgt_subsys *s, struct tgt_ctrl *c, const void *arg)
{
	(void)arg;
	return !tgt_subsys_host_allowed(s, c->hostnqn) || !tgt_subsys_on_port(s, c->portid);
}

static bool ctrl_any(struct tgt_subsys *s, struct tgt_ctrl *c, const void *arg)
{
	(void)s, (void)c, (void)arg;
	return true;
}

static int fill_host_list(struct tgt_host_entry **list, json_object *hosts)
{
	int err = 0;

	tgt_host_list_free(list);
	for (size_t i = 0; !err && hosts && i < json_object_array_length(hosts); i++)
		err = tgt_host_list_add(list, json_object_get_string(json_object_array_get_idx(hosts, i)));
	return err;
}

/* A subsystem's access and ports as the file says; then the controllers that lost theirs go. */
static int apply_access(struct tgt_subsys *s, const struct want_subsys *ws)
{
	int err, dropped;

	pthread_mutex_lock(&s->lock);
	s->allow_any_host = ws->allow_any;
	err = fill_host_list(&s->hosts, ws->hosts);
	if (!err)
		err = fill_host_list(&s->denied_hosts, ws->denied);
	s->port_mask = ws->port_mask;
	pthread_mutex_unlock(&s->lock);
	tgt_subsys_set_cntlid_range(s, ws->cntlid_min, ws->cntlid_max);
	atomic_fetch_add(&tgt->disc_genctr, 1);
	dropped = tgt_subsys_drop_ctrls(s, ctrl_unwanted, NULL, "access revoked by a config reload");
	if (dropped)
		tr_info("reload: %s: %d controller%s dropped (host or port no longer allowed)", s->nqn, dropped,
			dropped == 1 ? "" : "s");
	return err;
}

/* Namespaces of a running subsystem: gone or changed ones out, new ones in. */
static void apply_namespaces(struct tgt_subsys *s, struct want_subsys *ws)
{
	for (uint32_t nsid = 1; nsid <= TGT_MAX_NSID; nsid++) {
		bool keep = false, present;

		pthread_mutex_lock(&s->lock);
		present = s->ns[nsid] != NULL;
		pthread_mutex_unlock(&s->lock);
		if (!present)
			continue;
		for (size_t j = 0; j < ws->nr_ns && !keep; j++)
			keep = ws->ns[j].p.nsid == nsid && !ws->ns[j].opened;
		if (!keep)
			tgt_subsys_remove_ns(s, nsid);
	}
	for (size_t j = 0; j < ws->nr_ns; j++) {
		struct want_ns *wn = &ws->ns[j];

		if (!wn->opened)
			continue;
		if (tgt_subsys_attach_ns(s, wn->opened) < 0)
			tr_err("reload: %s: nsid %u still taken", s->nqn, wn->p.nsid);
		else
			wn->opened = NULL; /* the subsystem's now */
		tr_info("reload: %s: namespace %u is %s", s->nqn, wn->p.nsid, wn->p.path);
	}
}

/* A subsystem the file no longer has: unexported, its controllers dropped, its namespaces
 * removed, and kept aside until shutdown because controllers on their way out still point at it. */
static void retire_subsys(struct tgt_subsys *s)
{
	struct tgt_subsys **pp;

	pthread_mutex_lock(&tgt->lock);
	for (pp = &tgt->subsystems; *pp && *pp != s; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = s->next;
	s->next = tgt->retired;
	tgt->retired = s;
	pthread_mutex_unlock(&tgt->lock);
	pthread_mutex_lock(&s->lock);
	s->port_mask = 0;
	s->allow_any_host = false;
	tgt_host_list_free(&s->hosts);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&tgt->disc_genctr, 1);
	tgt_subsys_drop_ctrls(s, ctrl_any, NULL, "subsystem removed by a config reload");
	for (uint32_t nsid = 1; nsid <= TGT_MAX_NSID; nsid++)
		tgt_subsys_remove_ns(s, nsid);
	tr_info("reload: subsystem %s removed", s->nqn);
}

static int apply_subsystems(struct want *w)
{
	struct tgt_subsys *gone;
	int err = 0;

	for (size_t i = 0; i < w->nr_subs && !err; i++) {
		struct want_subsys *ws = &w->subs[i];

		if (!ws->running) {
			ws->running = tgt_subsys_create(ws->nqn, ws->serial, ws->model);
			if (!ws->running)
				return refuse(w, -errno, "subsystem %s: %s (partly applied)", ws->nqn, strerror(errno));
			ws->running->port_mask = 0;
			tr_info("reload: subsystem %s added", ws->nqn);
		}
		apply_namespaces(ws->running, ws);
		err = apply_access(ws->running, ws);
	}
	do {
		gone = NULL;
		pthread_mutex_lock(&tgt->lock);
		for (struct tgt_subsys *s = tgt->subsystems; s && !gone; s = s->next) {
			if (!want_subsys_find(w, s->nqn))
				gone = s;
		}
		pthread_mutex_unlock(&tgt->lock);
		if (gone)
			retire_subsys(gone);
	} while (gone);
	return err ? refuse(w, err, "out of memory (partly applied)") : 0;
}

/* Take a listener out of the list and the epoll set and close it; kept until shutdown because
 * queues accepted on it point at it. */
static void retire_listener(struct tgt_listener *l, int epfd)
{
	struct tgt_listener **pp;

	pthread_mutex_lock(&tgt->lock);
	for (pp = &tgt->listeners; *pp && *pp != l; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = l->next;
	l->next = tgt->retired_listeners;
	tgt->retired_listeners = l;
	pthread_mutex_unlock(&tgt->lock);
	epoll_ctl(epfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	l->fd = -1;
	atomic_fetch_add(&tgt->disc_genctr, 1);
	tr_info("reload: port %u (%s:%s) closed", l->portid, l->traddr, l->trsvcid);
}

static void listen_on(struct tgt_listener *l, int epfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };

	tgt_listener_insert(l);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, l->fd, &ev))
		tr_err("reload: port %u: epoll: %s", l->portid, strerror(errno));
}

static void apply_ports(struct want *w, int epfd)
{
	struct tgt_listener *gone;

	for (size_t i = 0; i < w->nr_ports; i++) {
		struct want_port *wp = &w->ports[i];

		if (wp->opened) {
			if (wp->running)
				retire_listener(wp->running, epfd);
			listen_on(wp->opened, epfd);
			wp->opened = NULL;
		} else {
			/* Same address: the policy changes for connections accepted from now on. */
			pthread_mutex_lock(&tgt->lock);
			wp->running->tls = wp->tls;
			wp->running->discovery_only = wp->discovery_only;
			pthread_mutex_unlock(&tgt->lock);
		}
		for (size_t g = 0; wp->ana_groups && g < json_object_array_length(wp->ana_groups); g++) {
			json_object *e = json_object_array_get_idx(wp->ana_groups, g), *ana = NULL, *st = NULL;
			long grpid = 0;

			if (tgt_jnum(e, "grpid", "ana_groups", 1, TGT_MAX_ANAGRPS, &grpid) || !grpid)
				continue;
			json_object_object_get_ex(e, "ana", &ana);
			if (ana)
				json_object_object_get_ex(ana, "state", &st);
			if (tgt_ana_state_parse(st ? json_object_get_string(st) : "optimized") >= 0)
				tgt_ana_set(tgt, (uint16_t)wp->id, (uint32_t)grpid,
					    tgt_ana_state_parse(st ? json_object_get_string(st) : "optimized"));
		}
	}
	do {
		bool listed = true;

		gone = NULL;
		pthread_mutex_lock(&tgt->lock);
		for (struct tgt_listener *l = tgt->listeners; l && listed; l = l->next) {
			listed = false;
			for (size_t i = 0; i < w->nr_ports && !listed; i++)
				listed = w->ports[i].id == l->portid;
			if (!listed)
				gone = l;
		}
		pthread_mutex_unlock(&tgt->lock);
		if (gone)
			retire_listener(gone, epfd);
	} while (gone);
}

/* The file's entry for a host: whether it gives a DH-HMAC-CHAP secret, a TLS key. */
static void listed_keys(struct want *w, const char *nqn, bool *dhchap, bool *tls)
{
	*dhchap = *tls = false;
	for (size_t i = 0; w->hosts && i < json_object_array_length(w->hosts); i++) {
		json_object *e = json_object_array_get_idx(w->hosts, i), *dh = NULL;
		const char *n = NULL, *key = NULL, *tls_key = NULL;

		tgt_jopt_str(e, "nqn", "a host", &n);
		if (!n || strcmp(n, nqn))
			continue;
		tgt_jopt(e, "dhchap", json_type_object, nqn, &dh);
		tgt_jopt_str(e, "tls_key", nqn, &tls_key);
		*dhchap |= dh && !tgt_jopt_str(dh, "key", nqn, &key) && key && key[0];
		*tls |= tls_key && tls_key[0];
	}
}

/* Hosts' credentials as the file lists them; a host the file no longer gives a secret loses it.
 * Never cleared and set again: a host connecting meanwhile must not find itself without one. */
static void apply_hosts(struct want *w)
{
	struct tgt_host_auth *h;
	char (*nqns)[NVME_NQN_SIZE] = NULL;
	size_t n = 0, k = 0;
	const char *why;

	pthread_mutex_lock(&tgt->lock);
	for (h = tgt->host_auth; h; h = h->next)
		n++;
	nqns = n ? calloc(n, sizeof(*nqns)) : NULL;
	for (h = tgt->host_auth; h && nqns; h = h->next)
		snprintf(nqns[k++], sizeof(*nqns), "%s", h->nqn);
	pthread_mutex_unlock(&tgt->lock);
	for (size_t i = 0; i < k; i++) {
		bool dhchap, tls;

		listed_keys(w, nqns[i], &dhchap, &tls);
		if (!dhchap)
			tgt_host_auth_set(tgt, nqns[i], "", "", NULL, NULL, &why);
		if (!tls)
			tgt_host_tls_set(tgt, nqns[i], "", &why);
	}
	free(nqns);
	for (size_t i = 0; w->hosts && i < json_object_array_length(w->hosts); i++) {
		json_object *e = json_object_array_get_idx(w->hosts, i), *dh = NULL;
		const char *nqn = NULL, *key = NULL, *ctrl_key = NULL, *hash = NULL, *group = NULL, *tls = NULL;

		/* Checked by check_hosts() already. */
		tgt_jopt_str(e, "nqn", "a host", &nqn);
		tgt_jopt(e, "dhchap", json_type_object, nqn, &dh);
		tgt_jopt_str(e, "tls_key", nqn, &tls);
		if (dh && !tgt_jopt_str(dh, "key", nqn, &key) && key && key[0]) {
			tgt_jopt_str(dh, "ctrl_key", nqn, &ctrl_key);
			tgt_jopt_str(dh, "hash", nqn, &hash);
			tgt_jopt_str(dh, "dhgroup", nqn, &group);
			if (tgt_host_auth_set(tgt, nqn, key, ctrl_key ? ctrl_key : "", hash, group, &why))
				tr_err("reload: host %s: %s", nqn, why);
		}
		if (tls && tls[0] && tgt_host_tls_set(tgt, nqn, tls, &why))
			tr_err("reload: host %s: %s", nqn, why);
	}
}

/* The main thread's epoll set, while tgt_run serves; reload requests are handed over here. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int efd, epfd;
	bool pending, done;
	const char *path;
	char *why;
	size_t why_len;
	int err;
} rl = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, -1, false, false, NULL, NULL, 0, 0 };

/* What READY's STATUS= says: what is being served. */
static void notify_ready(void)
{
	int subs = 0, ports = 0;

	pthread_mutex_lock(&tgt->lock);
	for (struct tgt_subsys *s = tgt->subsystems; s; s = s->next)
		subs++;
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next)
		ports++;
	pthread_mutex_unlock(&tgt->lock);
	sd_notifyf(0, "READY=1\nSTATUS=serving %d subsystem%s on %d port%s", subs, subs == 1 ? "" : "s", ports,
		   ports == 1 ? "" : "s");
}

static int reload(const char *path, int epfd, char *why, size_t why_len)
{
	struct want w = { .why = why, .why_len = why_len };
	int err;

	if (!path)
		path = tgt->config_path;
	if (!path)
		return snprintf(why, why_len, "no path given and the target was not started from a config file"), -EINVAL;
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		   (unsigned long long)tr_now_ms() * 1000ull, path);
	tr_info("reload: reading %s", path);
	why[0] = 0;
	err = parse(&w, path);
	if (!err)
		err = check_live(&w);
	if (!err)
		err = prepare(&w);
	if (!err) {
		apply_hosts(&w);
		err = apply_subsystems(&w);
		apply_ports(&w, epfd);
	}
	want_free(&w);
	if (err)
		tr_err("reload of %s refused: %s", path, why);
	else
		tr_info("reload: %s applied", path);
	notify_ready();
	return err;
}

int tgt_reload_start(int epfd)
{
	pthread_mutex_lock(&rl.lock);
	rl.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rl.epfd = epfd;
	pthread_mutex_unlock(&rl.lock);
	if (rl.efd >= 0)
		notify_ready();
	return rl.efd;
}

void tgt_reload_stop(void)
{
	pthread_mutex_lock(&rl.lock);
	if (rl.pending) {
		snprintf(rl.why, rl.why_len, "the target is stopping");
		rl.err = -ESHUTDOWN;
		rl.pending = false;
		rl.done = true;
		pthread_cond_broadcast(&rl.done_cond);
	}
	if (rl.efd >= 0)
		close(rl.efd);
	rl.efd = rl.epfd = -1;
	pthread_mutex_unlock(&rl.lock);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void tgt_reload_signal(void)
{
	char why[256];

	reload(tgt->config_path, rl.epfd, why, sizeof(why));
}

void tgt_reload_serve(void)
{
	uint64_t v;

	if (read(rl.efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		tr_warn("reload: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&rl.lock);
	if (rl.pending) {
		rl.err = reload(rl.path, rl.epfd, rl.why, rl.why_len);
		rl.pending = false;
		rl.done = true;
		pthread_cond_broadcast(&rl.done_cond);
	}
	pthread_mutex_unlock(&rl.lock);
}

int tgt_reload_request(const char *path, char *why, size_t why_len)
{
	uint64_t one = 1;
	int err;

	pthread_mutex_lock(&rl.lock);
	if (rl.efd < 0) {
		pthread_mutex_unlock(&rl.lock);
		snprintf(why, why_len, "the target is not serving yet (or is stopping)");
		return -EAGAIN;
	}
	rl.path = path;
	rl.why = why;
	rl.why_len = why_len;
	rl.pending = true;
	rl.done = false;
	if (write(rl.efd, &one, sizeof(one)) < 0)
		tr_warn("reload: eventfd: %s", strerror(errno));
	while (!rl.done)
		pthread_cond_wait(&rl.done_cond, &rl.lock);
	err = rl.err;
	pthread_mutex_unlock(&rl.lock);
	return err;
}
