/* The local control socket: one JSON request per connection, one JSON reply. Lets an operator
 * list controllers and queue counters, add/remove namespaces, allow/forbid hosts and save config.
 * It is served by a thread of its own with non-blocking clients, so a slow or stuck control client
 * delays neither NVMe connections (accepted by the main thread) nor other control clients. */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nvme/dhchap.h"
#include "target/control.h"
#include "target/reload.h"
#include "target/cmd.h"
#include "util/clock.h"
#include "util/log.h"

#define CTL_MAX_REQUEST 65536
#define CTL_MAX_CLIENTS 16 /* more at once are turned away: operators' tools come one at a time */
#define CTL_DEADLINE_MS 5000 /* to send the request, and again to take the reply */
#define CTL_BACKLOG (4 * CTL_MAX_CLIENTS)
#define CTL_SOCKET_UMASK 0177 /* the socket is born 0600 */
#define CTL_STR_(x) #x
#define CTL_STR(x) CTL_STR_(x)

struct ctl_client {
	int fd;
	pid_t pid; /* for log lines: the peer's credentials are all a local socket has */
	uint64_t deadline_ms;
	char *buf; /* the request as it arrives */
	size_t have;
	char *out; /* the reply, once there is one */
	size_t out_len, out_off;
};

struct tgt_control {
	char *path;
	int fd;
	int wake_fd; /* rung by tgt_control_stop() */
	dev_t dev; /* the socket file we bound, so we remove only that one */
	ino_t ino;
	pthread_t thread;
	struct ctl_client clients[CTL_MAX_CLIENTS];
	int nr_clients;
};

static json_object *queue_json(const struct tgt_queue *q)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "qid", json_object_new_int(q->qid));
	json_object_object_add(o, "peer", json_object_new_string(q->peer));
	json_object_object_add(o, "size", json_object_new_int(q->size));
	json_object_object_add(o, "worker", json_object_new_int(q->worker->id));
	json_object_object_add(o, "hdgst", json_object_new_boolean(q->hdgst));
	json_object_object_add(o, "ddgst", json_object_new_boolean(q->ddgst));
#define COUNTER(name) json_object_object_add(o, #name, json_object_new_int64((int64_t)atomic_load_explicit(&q->stats.name, memory_order_relaxed)))
	COUNTER(cmds);
	COUNTER(read_cmds);
	COUNTER(write_cmds);
	COUNTER(read_bytes);
	COUNTER(write_bytes);
	COUNTER(errors);
	COUNTER(buf_waits);
	COUNTER(inflight);
#undef COUNTER
	return o;
}

static json_object *ctrl_json(struct tgt_ctrl *c)
{
	json_object *o = json_object_new_object(), *queues = json_object_new_array();

	json_object_object_add(o, "cntlid", json_object_new_int(c->cntlid));
	json_object_object_add(o, "hostnqn", json_object_new_string(c->hostnqn));
	json_object_object_add(o, "kato_ms", json_object_new_int64(c->kato_ms));
	json_object_object_add(o, "portid", json_object_new_int(c->portid));
	pthread_mutex_lock(&c->lock);
	json_object_object_add(o, "state", json_object_new_string(c->dead ? "deleting" : "live"));
	json_object_object_add(o, "nr_io_queues", json_object_new_int(c->nr_io_queues));
	json_object_object_add(o, "auth", json_object_new_string(!c->auth_required     ? "none"
								 : c->admin_authenticated ? "dhchap"
											  : "pending"));
	for (int i = 0; i <= TGT_MAX_IO_QUEUES; i++) {
		if (c->queues[i])
			json_object_array_add(queues, queue_json(c->queues[i]));
	}
	pthread_mutex_unlock(&c->lock);
	json_object_object_add(o, "queues", queues);
	return o;
}

static json_object *subsys_json(struct tgt_subsys *s)
{
	json_object *o = json_object_new_object();
	json_object *nss = json_object_new_array(), *hosts = json_object_new_array();
	json_object *denied = json_object_new_array(), *ctrls = json_object_new_array();

	json_object_object_add(o, "nqn", json_object_new_string(s->nqn));
	json_object_object_add(o, "serial", json_object_new_string(s->serial));
	json_object_object_add(o, "model", json_object_new_string(s->model));
	pthread_mutex_lock(&s->lock);
	json_object_object_add(o, "allow_any_host", json_object_new_boolean(s->allow_any_host));
	json_object_object_add(o, "cntlid_min", json_object_new_int(s->cntlid_min));
	json_object_object_add(o, "cntlid_max", json_object_new_int(s->cntlid_max));
	for (struct tgt_host_entry *h = s->hosts; h; h = h->next)
		json_object_array_add(hosts, json_object_new_string(h->nqn));
	for (struct tgt_host_entry *h = s->denied_hosts; h; h = h->next)
		json_object_array_add(denied, json_object_new_string(h->nqn));
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		struct tgt_ns *ns = s->ns[i];
		json_object *n;

		if (!ns)
			continue;
		n = json_object_new_object();
		json_object_object_add(n, "nsid", json_object_new_int((int)ns->nsid));
		json_object_object_add(n, "path", json_object_new_string(ns->path));
		json_object_object_add(n, "backend", json_object_new_string(ns->ops->kind));
		json_object_object_add(n, "size", json_object_new_int64((int64_t)ns->size));
		json_object_object_add(n, "lba_size", json_object_new_int(1 << ns->lba_shift));
		json_object_object_add(n, "readonly", json_object_new_boolean(ns->readonly));
		json_object_object_add(n, "anagrpid", json_object_new_int((int)ns->anagrpid));
		json_object_array_add(nss, n);
	}
	for (struct tgt_ctrl *c = s->ctrls; c; c = c->next)
		json_object_array_add(ctrls, ctrl_json(c));
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(o, "hosts", hosts);
	json_object_object_add(o, "denied_hosts", denied);
	json_object_object_add(o, "namespaces", nss);
	json_object_object_add(o, "controllers", ctrls);
	return o;
}

/* The port's ANA groups with a state of their own, and the default group. */
static json_object *ana_groups_json(uint16_t portid)
{
	json_object *groups = json_object_new_array();

	for (uint32_t g = 1; g <= TGT_MAX_ANAGRPS; g++) {
		json_object *e;

		if (g != TGT_DEFAULT_ANAGRPID && !tgt_ana_configured(tgt, portid, g))
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "grpid", json_object_new_int((int)g));
		json_object_object_add(e, "state", json_object_new_string(tgt_ana_state_name(tgt_ana_state(tgt, portid, g))));
		json_object_array_add(groups, e);
	}
	return groups;
}

static json_object *cmd_list(void)
{
	json_object *o = json_object_new_object(), *subs = json_object_new_array();
	json_object *ports = json_object_new_array(), *auth = json_object_new_array();

	pthread_mutex_lock(&tgt->lock);
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "portid", json_object_new_int(l->portid));
		json_object_object_add(p, "tls", json_object_new_string(tgt_tls_mode_name(l->tls)));
		json_object_object_add(p, "traddr", json_object_new_string(l->traddr));
		json_object_object_add(p, "trsvcid", json_object_new_string(l->trsvcid));
		json_object_object_add(p, "discovery_only", json_object_new_boolean(l->discovery_only));
		json_object_object_add(p, "ana_groups", ana_groups_json(l->portid));
		json_object_array_add(ports, p);
	}
	json_object_array_add(subs, subsys_json(tgt->discovery));
	for (struct tgt_subsys *s = tgt->subsystems; s; s = s->next)
		json_object_array_add(subs, subsys_json(s));
	/* Which hosts must authenticate, and how; never their secrets. */
	for (struct tgt_host_auth *h = tgt->host_auth; h; h = h->next) {
		json_object *a = json_object_new_object();

		if (!h->key[0] && !h->tls_key[0]) {
			json_object_put(a);
			continue;
		}
		json_object_object_add(a, "host", json_object_new_string(h->nqn));
		json_object_object_add(a, "dhchap", json_object_new_boolean(h->key[0] != 0));
		json_object_object_add(a, "tls_psk", json_object_new_boolean(h->tls_key[0] != 0));
		json_object_object_add(a, "dhchap_hash", json_object_new_string(nvme_auth_hash_name(h->hash)));
		json_object_object_add(a, "dhchap_dhgroup", json_object_new_string(nvme_dhgroup_name(h->dhgroup)));
		json_object_object_add(a, "bidirectional", json_object_new_boolean(h->ctrl_key[0] != 0));
		json_object_array_add(auth, a);
	}
	pthread_mutex_unlock(&tgt->lock);
	json_object_object_add(o, "host_auth", auth);
	json_object_object_add(o, "ports", ports);
	json_object_object_add(o, "subsystems", subs);
	return o;
}

static const char *str_arg(json_object *req, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(req, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* An unsigned 32-bit argument, 0 if absent; a value outside 0..UINT32_MAX reads as UINT32_MAX, which
 * no NSID or block size is, rather than wrapping round to one that is. */
static uint32_t u32_arg(json_object *req, const char *key)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(req, key, &v))
		return 0;
	n = json_object_get_int64(v);
	return n < 0 || n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static bool bool_arg(json_object *req, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(req, key, &v) && json_object_get_boolean(v);
}

static struct tgt_subsys *subsys_arg(json_object *req, const char **error)
{
	const char *nqn = str_arg(req, "subsys");
	struct tgt_subsys *s = NULL;

	if (!nqn) {
		*error = "missing \"subsys\"";
		return NULL;
	}
	pthread_mutex_lock(&tgt->lock);
	s = tgt_subsys_find(tgt, nqn);
	pthread_mutex_unlock(&tgt->lock);
	if (!s)
		*error = "no such subsystem";
	return s;
}

/* add-ns: the new namespace's NSID in *reply, or what is wrong. */
static const char *add_ns(json_object *req, json_object **reply)
{
	static char msg[512];
	struct tgt_ns_params p = { .path = str_arg(req, "path"), .nsid = u32_arg(req, "nsid"),
				   .readonly = bool_arg(req, "readonly"), .buffered = bool_arg(req, "buffered"),
				   .lba_size = u32_arg(req, "lba_size") };
	const char *error = NULL;
	struct tgt_subsys *s = subsys_arg(req, &error);
	int err;

	if (!s)
		return error;
	if (!p.path)
		return "missing \"path\"";
	err = tgt_subsys_add_ns(s, &p);
	if (err > 0) {
		*reply = json_object_new_object();
		json_object_object_add(*reply, "nsid", json_object_new_int(err));
		return NULL;
	}
	if (err == -EEXIST)
		return "that nsid is already in use";
	if (err == -ERANGE)
		return "nsid out of range (1.." CTL_STR(TGT_MAX_NSID) ")";
	snprintf(msg, sizeof(msg), "cannot open %s: %s", p.path,
		 err == -EINVAL ? "bad size or unsupported block size" : strerror(-err));
	return msg;
}

/* set-host-auth: a host's DH-HMAC-CHAP settings and TLS PSK, those given. NULL or what is wrong. */
static const char *set_host_auth(json_object *req)
{
	const char *host = str_arg(req, "host"), *key = str_arg(req, "dhchap_key");
	const char *ctrl_key = str_arg(req, "dhchap_ctrl_key"), *hash = str_arg(req, "dhchap_hash");
	const char *dhgroup = str_arg(req, "dhchap_dhgroup"), *tls_key = str_arg(req, "tls_key"), *error = NULL;

	if (!host)
		return "missing \"host\"";
	if ((key || ctrl_key || hash || dhgroup) && tgt_host_auth_set(tgt, host, key, ctrl_key, hash, dhgroup, &error))
		return error;
	if (tls_key && tgt_host_tls_set(tgt, host, tls_key, &error))
		return error;
	tr_info("control: credentials of host %s changed", host); /* never the secrets */
	return NULL;
}

/* set-ana: a port's state of an ANA group (nvmet's ports/N/ana_groups/G/ana/state). */
static const char *set_ana(json_object *req)
{
	uint32_t portid = u32_arg(req, "portid"), grpid = u32_arg(req, "grpid");
	int state = tgt_ana_state_parse(str_arg(req, "state"));
	bool known = false;

	pthread_mutex_lock(&tgt->lock);
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next)
		known |= l->portid == portid && !l->discovery_only;
	pthread_mutex_unlock(&tgt->lock);
	if (!known)
		return "no port with that portid serves subsystems";
	if (state < 0)
		return "\"state\" must be optimized, non-optimized, inaccessible, persistent-loss or change";
	if (tgt_ana_set(tgt, (uint16_t)portid, grpid, state))
		return "\"grpid\" must be 1..128";
	return NULL;
}

/* resize-ns: {subsys, nsid, size, force}; NULL or what is wrong. */
static const char *resize_ns(json_object *req)
{
	static char why[160]; /* one request at a time: this thread's */
	const char *error = NULL, *reason;
	struct tgt_subsys *s = subsys_arg(req, &error);
	json_object *v;
	int64_t size = json_object_object_get_ex(req, "size", &v) ? json_object_get_int64(v) : -1;
	int err;

	if (!s)
		return error;
	if (size <= 0)
		return "\"size\" must be a positive number of bytes";
	err = tgt_subsys_resize_ns(s, u32_arg(req, "nsid"), (uint64_t)size,
				   json_object_object_get_ex(req, "force", &v) && json_object_get_boolean(v), &reason);
	if (err == -ENOENT || err == -ERANGE)
		return "no namespace with that nsid";
	if (err) {
		snprintf(why, sizeof(why), "%s", reason ? reason : strerror(-err));
		return why;
	}
	return NULL;
}

/* Handle one request; returns the reply (never NULL). */
static json_object *handle(json_object *req)
{
	const char *cmd = str_arg(req, "cmd"), *error = NULL;
	json_object *reply = NULL;
	struct tgt_subsys *s;
	int err = 0;

	if (!cmd) {
		error = "missing \"cmd\"";
	} else if (!strcmp(cmd, "list")) {
		reply = cmd_list();
	} else if (!strcmp(cmd, "add-ns")) {
		error = add_ns(req, &reply);
	} else if (!strcmp(cmd, "remove-ns")) {
		if ((s = subsys_arg(req, &error)))
			err = tgt_subsys_remove_ns(s, u32_arg(req, "nsid"));
		if (err == -ENOENT || err == -ERANGE)
			error = "no namespace with that nsid";
	} else if (!strcmp(cmd, "resize-ns")) {
		error = resize_ns(req);
	} else if (!strcmp(cmd, "allow-host") || !strcmp(cmd, "forbid-host")) {
		const char *host = str_arg(req, "host");
		bool denied = false;

		if ((s = subsys_arg(req, &error)) && !host)
			error = "missing \"host\"";
		else if (s && cmd[0] == 'a')
			err = tgt_subsys_allow_host(s, host);
		else if (s && (err = tgt_subsys_forbid_host(s, host, &denied)) >= 0) {
			/* Say what happened: how many controllers went, and which list changed. */
			reply = json_object_new_object();
			json_object_object_add(reply, "dropped", json_object_new_int(err));
			json_object_object_add(reply, "action", json_object_new_string(denied ? "denied" : "unlisted"));
			err = 0;
		}
		if (err == -EINVAL)
			error = "not a valid host NQN";
		else if (err == -ENOENT)
			error = "that host is neither allowed nor connected";
	} else if (!strcmp(cmd, "set-host-auth")) {
		error = set_host_auth(req);
	} else if (!strcmp(cmd, "set-ana")) {
		error = set_ana(req);
	} else if (!strcmp(cmd, "reload")) {
		static char why[512]; /* one request at a time: this thread's */

		if (tgt_reload_request(str_arg(req, "path"), why, sizeof(why)))
			error = why;
	} else if (!strcmp(cmd, "save")) {
		const char *path = str_arg(req, "path");

		if (!path)
			path = tgt->config_path;
		if (!path)
			error = "no \"path\" and the target was not started from a config file";
		else
			err = tgt_config_save(path);
	} else {
		error = "unknown command";
	}
	if (err < 0 && !error)
		error = strerror(-err);
	if (error) {
		json_object_put(reply);
		reply = json_object_new_object();
		json_object_object_add(reply, "ok", json_object_new_boolean(false));
		json_object_object_add(reply, "error", json_object_new_string(error));
		return reply;
	}
	if (!reply)
		reply = json_object_new_object();
	json_object_object_add(reply, "ok", json_object_new_boolean(true));
	return reply;
}

/* The reply to a request, as one allocated line. */
static char *reply_line(const char *req_text, size_t *len)
{
	json_object *req = json_tokener_parse(req_text), *reply;
	const char *out;
	char *line;

	if (!req || !json_object_is_type(req, json_type_object)) {
		reply = json_object_new_object();
		json_object_object_add(reply, "ok", json_object_new_boolean(false));
		json_object_object_add(reply, "error", json_object_new_string("request is not a JSON object"));
	} else {
		reply = handle(req);
	}
	out = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	*len = strlen(out) + 1;
	line = malloc(*len);
	if (line) {
		memcpy(line, out, *len - 1);
		line[*len - 1] = '\n';
	}
	json_object_put(reply);
	json_object_put(req);
	return line;
}

static void client_close(struct ctl_client *c)
{
	close(c->fd);
	free(c->buf);
	free(c->out);
	c->fd = -1;
	c->buf = c->out = NULL;
}

/* Send what the socket takes now; true when the client is finished with (sent or failed). */
static bool client_send(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return false;
			tr_debug("control: reply to pid %d not delivered: %s", (int)c->pid, strerror(errno));
			return true;
		}
		c->out_off += (size_t)n;
	}
	return true;
}

/* Read what has arrived; once the request is whole (a newline, EOF or the size limit), handle it
 * and start the reply. True when the client is finished with. */
static bool client_recv(struct ctl_client *c)
{
	bool whole = false;

	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->have, CTL_MAX_REQUEST - c->have, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n < 0)
			return true;
		if (n == 0) {
			/* Connected and gone without a word: a probe (another target checking whether this
			 * socket is alive). Nobody to answer. */
			if (!c->have)
				return true;
			whole = true;
			break;
		}
		c->have += (size_t)n;
		if (memchr(c->buf + c->have - (size_t)n, '\n', (size_t)n) || c->have == CTL_MAX_REQUEST) {
			whole = true;
			break;
		}
	}
	if (!whole)
		return false;
	c->buf[c->have] = 0;
	c->out = reply_line(c->buf, &c->out_len);
	free(c->buf);
	c->buf = NULL;
	if (!c->out)
		return true;
	c->deadline_ms = tr_now_ms() + CTL_DEADLINE_MS;
	return client_send(c);
}

static void client_accept(struct tgt_control *ctl)
{
	for (;;) {
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cred = { .pid = 0 };
		socklen_t len = sizeof(cred);
		struct ctl_client *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				tr_warn("control: accept: %s", strerror(errno));
			return;
		}
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		if (ctl->nr_clients == CTL_MAX_CLIENTS) {
			static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients at once; "
						   "try again\"}\n";

			tr_warn("control: turned away pid %d: %d control clients already connected", (int)cred.pid,
				CTL_MAX_CLIENTS);
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				tr_debug("control: pid %d not told: %s", (int)cred.pid, strerror(errno));
			close(fd);
			continue;
		}
		c = &ctl->clients[ctl->nr_clients];
		*c = (struct ctl_client){ .fd = fd, .pid = cred.pid, .buf = malloc(CTL_MAX_REQUEST + 1),
					  .deadline_ms = tr_now_ms() + CTL_DEADLINE_MS };
		if (!c->buf) {
			close(fd);
			continue;
		}
		ctl->nr_clients++;
	}
}

static void *control_thread(void *arg)
{
	struct tgt_control *ctl = arg;
	struct pollfd pfd[CTL_MAX_CLIENTS + 2];

	for (;;) {
		uint64_t now = tr_now_ms(), next = UINT64_MAX;
		int timeout, n = 0;

		pfd[n++] = (struct pollfd){ .fd = ctl->wake_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ctl->fd, .events = POLLIN };
		for (int i = 0; i < ctl->nr_clients; i++) {
			struct ctl_client *c = &ctl->clients[i];

			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = c->out ? POLLOUT : POLLIN };
			if (c->deadline_ms < next)
				next = c->deadline_ms;
		}
		timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			tr_err("control: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		now = tr_now_ms();
		for (int i = 0; i < ctl->nr_clients; i++) {
			struct ctl_client *c = &ctl->clients[i];
			short ev = pfd[i + 2].revents;
			bool done = false;

			if (ev & (POLLIN | POLLHUP | POLLERR))
				done = c->out ? true : client_recv(c);
			if (!done && (ev & POLLOUT) && c->out)
				done = client_send(c);
			if (!done && now >= c->deadline_ms) {
				tr_warn("control: pid %d sent no complete request within %d s%s; closed", (int)c->pid,
					CTL_DEADLINE_MS / 1000, c->out ? " (or did not take its reply)" : "");
				done = true;
			}
			if (done)
				client_close(c);
		}
		/* Compact after the pass: pfd[] followed the old order. */
		for (int i = 0, j = 0, nr = ctl->nr_clients; i < nr; i++) {
			if (ctl->clients[i].fd < 0)
				ctl->nr_clients--;
			else
				ctl->clients[j++] = ctl->clients[i];
		}
		if (pfd[1].revents)
			client_accept(ctl);
	}
	for (int i = 0; i < ctl->nr_clients; i++)
		client_close(&ctl->clients[i]);
	ctl->nr_clients = 0;
	return NULL;
}

/* Is a live target behind the socket at path? 0: nothing there (a stale socket is removed),
 * -EADDRINUSE: someone answers, other -errno: leave it alone. */
static int probe(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, err;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		tr_err("control socket %s: the path exists and is not a socket; not touching it", path);
		return -EEXIST;
	}
	/* Non-blocking: a live target whose backlog is full must not hang our start-up. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) ? errno : 0;
	close(fd);
	if (!err || err == EAGAIN || err == EINPROGRESS) {
		tr_err("control socket %s is in use by another target", path);
		return -EADDRINUSE;
	}
	if (err != ECONNREFUSED) {
		tr_err("control socket %s: %s", path, strerror(err));
		return -err;
	}
	/* Nobody listens: what a killed target leaves behind. */
	tr_info("control socket %s: removing a stale socket nobody answers on", path);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

int tgt_control_start(const char *path, struct tgt_control **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct tgt_control *ctl;
	struct stat st;
	mode_t mask;
	int err;

	size_t len = strlen(path);

	if (len >= sizeof(sun.sun_path)) {
		tr_err("control socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, len + 1);
	err = probe(path, &sun);
	if (err)
		return err;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl || !(ctl->path = strdup(path))) {
		free(ctl);
		return -ENOMEM;
	}
	ctl->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->wake_fd < 0 || ctl->fd < 0) {
		err = -errno;
		goto fail;
	}
	/* Whoever may talk to it may reconfigure the target: the socket is born 0600 (umask 0177), never wider
	 * for a moment as it was with chmod after bind. Nothing else in the process creates files
	 * while the control socket is set up, so the process-wide umask is ours to borrow. */
	mask = umask(CTL_SOCKET_UMASK);
	err = bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(mask);
	if (err) {
		if (err == -EADDRINUSE)
			tr_err("control socket %s is in use by another target", path);
		else
			tr_err("control socket %s: %s", path, strerror(-err));
		goto fail;
	}
	/* Remember which file is ours; at exit the path may name someone else's. */
	if (!stat(path, &st)) {
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
	}
	/* A deeper backlog than the client bound: a burst is queued and then answered (maybe with
	 * "too many"), rather than refused by the kernel with EAGAIN. */
	if (listen(ctl->fd, CTL_BACKLOG))
		err = -errno;
	else
		err = -pthread_create(&ctl->thread, NULL, control_thread, ctl);
	if (err) {
		tr_err("control socket %s: %s", path, strerror(-err));
		unlink(path);
		goto fail;
	}
	*out = ctl;
	return 0;
fail:
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->wake_fd >= 0)
		close(ctl->wake_fd);
	free(ctl->path);
	free(ctl);
	return err;
}

void tgt_control_stop(struct tgt_control *ctl)
{
	uint64_t one = 1;
	struct stat st;

	if (!ctl)
		return;
	if (write(ctl->wake_fd, &one, sizeof(one)) < 0)
		tr_err("control: cannot wake its thread: %s", strerror(errno));
	pthread_join(ctl->thread, NULL);
	close(ctl->fd);
	close(ctl->wake_fd);
	/* Only the socket we bound: if the path was replaced meanwhile, the new file is not ours. */
	if (ctl->ino && !lstat(ctl->path, &st) && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	else
		tr_info("control socket %s is no longer ours; left in place", ctl->path);
	free(ctl->path);
	free(ctl);
}
