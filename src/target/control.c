/* The local control socket: one JSON request per connection, one JSON reply. Lets an operator
 * list controllers and queue counters, add/remove namespaces, allow/forbid hosts and save config. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "target/control.h"
#include "target/cmd.h"
#include "util/log.h"

#define CTL_MAX_REQUEST 65536

int tgt_control_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	chmod(path, 0600); /* whoever may talk to it may reconfigure the target */
	return fd;
}

static json_object *queue_json(const struct tgt_queue *q)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "qid", json_object_new_int(q->qid));
	json_object_object_add(o, "peer", json_object_new_string(q->peer));
	json_object_object_add(o, "size", json_object_new_int(q->size));
	json_object_object_add(o, "worker", json_object_new_int(q->worker->id));
	json_object_object_add(o, "hdgst", json_object_new_boolean(q->rx_framing.hdgst));
	json_object_object_add(o, "ddgst", json_object_new_boolean(q->rx_framing.ddgst));
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
	pthread_mutex_lock(&c->lock);
	json_object_object_add(o, "state", json_object_new_string(c->dead ? "deleting" : "live"));
	json_object_object_add(o, "nr_io_queues", json_object_new_int(c->nr_io_queues));
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
	json_object *ctrls = json_object_new_array();

	json_object_object_add(o, "nqn", json_object_new_string(s->nqn));
	json_object_object_add(o, "serial", json_object_new_string(s->serial));
	json_object_object_add(o, "model", json_object_new_string(s->model));
	pthread_mutex_lock(&s->lock);
	json_object_object_add(o, "allow_any_host", json_object_new_boolean(s->allow_any_host));
	for (struct tgt_host_entry *h = s->hosts; h; h = h->next)
		json_object_array_add(hosts, json_object_new_string(h->nqn));
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
		json_object_array_add(nss, n);
	}
	for (struct tgt_ctrl *c = s->ctrls; c; c = c->next)
		json_object_array_add(ctrls, ctrl_json(c));
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(o, "hosts", hosts);
	json_object_object_add(o, "namespaces", nss);
	json_object_object_add(o, "controllers", ctrls);
	return o;
}

static json_object *cmd_list(void)
{
	json_object *o = json_object_new_object(), *subs = json_object_new_array();
	json_object *ports = json_object_new_array();

	pthread_mutex_lock(&tgt->lock);
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "portid", json_object_new_int(l->portid));
		json_object_object_add(p, "traddr", json_object_new_string(l->traddr));
		json_object_object_add(p, "trsvcid", json_object_new_string(l->trsvcid));
		json_object_object_add(p, "discovery_only", json_object_new_boolean(l->discovery_only));
		json_object_array_add(ports, p);
	}
	json_object_array_add(subs, subsys_json(tgt->discovery));
	for (struct tgt_subsys *s = tgt->subsystems; s; s = s->next)
		json_object_array_add(subs, subsys_json(s));
	pthread_mutex_unlock(&tgt->lock);
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

static int64_t int_arg(json_object *req, const char *key, int64_t dflt)
{
	json_object *v;

	return json_object_object_get_ex(req, key, &v) ? json_object_get_int64(v) : dflt;
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
	s = tgt_subsys_find(nqn);
	pthread_mutex_unlock(&tgt->lock);
	if (!s)
		*error = "no such subsystem";
	return s;
}

/* Handle one request; returns the reply (never NULL). */
static json_object *handle(json_object *req)
{
	const char *cmd = str_arg(req, "cmd"), *error = NULL;
	static char msg[512];
	json_object *reply = NULL;
	struct tgt_subsys *s;
	int err = 0;

	if (!cmd) {
		error = "missing \"cmd\"";
	} else if (!strcmp(cmd, "list")) {
		reply = cmd_list();
	} else if (!strcmp(cmd, "add-ns")) {
		struct tgt_ns_params p = { .path = str_arg(req, "path"), .nsid = (uint32_t)int_arg(req, "nsid", 0),
					   .readonly = bool_arg(req, "readonly"),
					   .buffered = bool_arg(req, "buffered"),
					   .lba_size = (uint32_t)int_arg(req, "lba_size", 0) };

		if ((s = subsys_arg(req, &error)) && !p.path)
			error = "missing \"path\"";
		else if (s && (err = tgt_subsys_add_ns(s, &p)) > 0) {
			reply = json_object_new_object();
			json_object_object_add(reply, "nsid", json_object_new_int(err));
			err = 0;
		} else if (err == -EEXIST) {
			error = "that nsid is already in use";
		} else if (err == -ERANGE) {
			error = "nsid out of range (1..1024)";
		} else if (err < 0) {
			snprintf(msg, sizeof(msg), "cannot open %s: %s", p.path,
				 err == -EINVAL ? "bad size or unsupported block size" : strerror(-err));
			error = msg;
		}
	} else if (!strcmp(cmd, "remove-ns")) {
		if ((s = subsys_arg(req, &error)))
			err = tgt_subsys_remove_ns(s, (uint32_t)int_arg(req, "nsid", 0));
		if (err == -ENOENT || err == -ERANGE)
			error = "no namespace with that nsid";
	} else if (!strcmp(cmd, "allow-host") || !strcmp(cmd, "forbid-host")) {
		const char *host = str_arg(req, "host");

		if ((s = subsys_arg(req, &error)) && !host)
			error = "missing \"host\"";
		else if (s)
			err = cmd[0] == 'a' ? tgt_subsys_allow_host(s, host) : tgt_subsys_forbid_host(s, host);
		if (err == -EINVAL)
			error = "not a valid host NQN";
		else if (err == -ENOENT)
			error = "that host is neither allowed nor connected";
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

void tgt_control_serve(int listen_fd)
{
	char *buf = malloc(CTL_MAX_REQUEST + 1);
	size_t have = 0;
	json_object *req, *reply;
	const char *out;
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return;
	}
	/* Operators' tools are local and quick; a stuck one must not stall the target. */
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (have < CTL_MAX_REQUEST) {
		ssize_t n = recv(fd, buf + have, CTL_MAX_REQUEST - have, 0);

		if (n <= 0)
			break;
		have += (size_t)n;
		if (memchr(buf + have - (size_t)n, '\n', (size_t)n))
			break;
	}
	buf[have] = 0;
	req = json_tokener_parse(buf);
	if (!req || !json_object_is_type(req, json_type_object)) {
		reply = json_object_new_object();
		json_object_object_add(reply, "ok", json_object_new_boolean(false));
		json_object_object_add(reply, "error", json_object_new_string("request is not a JSON object"));
	} else {
		reply = handle(req);
	}
	out = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	if (send(fd, out, strlen(out), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		tr_debug("control: reply not delivered: %s", strerror(errno));
	json_object_put(reply);
	json_object_put(req);
	free(buf);
	close(fd);
}
