/* JSON configuration in nvmetcli's format (/etc/nvmet/config.json): hosts, ports with their
 * subsystems, subsystems with attr/allowed_hosts/namespaces. Extensions: "mem:SIZE" device paths,
 * "readonly" and "buffered_io" per namespace, "denied_hosts" per subsystem (what forbid-host left
 * on a subsystem open to any host; nvmetcli has no such list and ignores the key). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvme/identify.h"
#include "target/control.h"
#include "util/log.h"

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static json_object *jget(json_object *o, const char *key, json_type type)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type) ? v : NULL;
}

/* "1", 1, true all mean yes: nvmetcli writes attributes as strings. */
static bool jbool(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_string))
		return !strcmp(json_object_get_string(v), "1") || !strcmp(json_object_get_string(v), "true");
	return json_object_get_boolean(v);
}

static int load_namespace(struct tgt_subsys *s, json_object *n)
{
	json_object *dev = jget(n, "device", json_type_object);
	json_object *en;
	struct tgt_ns_params p = { 0 };
	uint8_t uuid[16], nguid[16];
	const char *v;
	int err;

	if (json_object_object_get_ex(n, "enable", &en) && !json_object_get_int(en))
		return 0;
	p.nsid = (uint32_t)json_object_get_int(jget(n, "nsid", json_type_int));
	p.path = dev ? jstr(dev, "path") : NULL;
	if (!p.path || !p.nsid) {
		tr_err("config: %s: a namespace needs \"nsid\" and \"device\".\"path\"", s->nqn);
		return -EINVAL;
	}
	if (dev && (v = jstr(dev, "uuid")) && *v) {
		if (nvme_uuid_parse(v, uuid))
			return tr_err("config: nsid %u: bad uuid %s", p.nsid, v), -EINVAL;
		p.uuid = uuid;
	}
	if (dev && (v = jstr(dev, "nguid")) && *v) {
		if (nvme_uuid_parse(v, nguid))
			return tr_err("config: nsid %u: bad nguid %s", p.nsid, v), -EINVAL;
		p.nguid = nguid;
	}
	p.readonly = jbool(n, "readonly");
	p.buffered = jbool(n, "buffered_io") || (dev && jbool(dev, "buffered_io"));
	if (dev && jget(dev, "lba_size", json_type_int))
		p.lba_size = (uint32_t)json_object_get_int(jget(dev, "lba_size", json_type_int));
	err = tgt_subsys_add_ns(s, &p);
	return err < 0 ? err : 0;
}

static int load_subsystem(json_object *o)
{
	const char *nqn = jstr(o, "nqn");
	json_object *attr = jget(o, "attr", json_type_object);
	json_object *hosts = jget(o, "allowed_hosts", json_type_array);
	json_object *denied = jget(o, "denied_hosts", json_type_array);
	json_object *nss = jget(o, "namespaces", json_type_array);
	struct tgt_subsys *s;
	int err;

	if (!nqn) {
		tr_err("config: a subsystem has no \"nqn\"");
		return -EINVAL;
	}
	s = tgt_subsys_create(nqn, attr ? jstr(attr, "serial") : NULL, attr ? jstr(attr, "model") : NULL);
	if (!s) {
		tr_err("config: subsystem %s: %s", nqn, errno == EEXIST ? "defined twice" : "invalid NQN");
		return -errno;
	}
	s->port_mask = 0; /* exported only where a port lists it */
	for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
		const char *h = json_object_get_string(json_object_array_get_idx(hosts, i));

		if ((err = tgt_subsys_allow_host(s, h))) {
			tr_err("config: %s: bad allowed host %s", nqn, h);
			return err;
		}
	}
	s->allow_any_host = attr ? jbool(attr, "allow_any_host") : !hosts;
	for (size_t i = 0; denied && i < json_object_array_length(denied); i++) {
		const char *h = json_object_get_string(json_object_array_get_idx(denied, i));

		if (!h || (err = tgt_subsys_deny_host(s, h))) {
			tr_err("config: %s: bad denied host %s", nqn, h ? h : "(null)");
			return err ? err : -EINVAL;
		}
	}
	for (size_t i = 0; nss && i < json_object_array_length(nss); i++) {
		if ((err = load_namespace(s, json_object_array_get_idx(nss, i))))
			return err;
	}
	return 0;
}

static int load_port(json_object *o)
{
	json_object *addr = jget(o, "addr", json_type_object);
	json_object *subs = jget(o, "subsystems", json_type_array);
	int portid = json_object_get_int(jget(o, "portid", json_type_int));
	const char *trtype = addr ? jstr(addr, "trtype") : NULL;
	int err;

	if (!addr || !trtype || strcmp(trtype, "tcp")) {
		tr_warn("config: port %d: only trtype \"tcp\" is served here; skipped", portid);
		return 0;
	}
	if (portid < 0 || portid >= 32) {
		tr_err("config: port id %d out of range (0..31)", portid);
		return -ERANGE;
	}
	for (size_t i = 0; subs && i < json_object_array_length(subs); i++) {
		const char *nqn = json_object_get_string(json_object_array_get_idx(subs, i));
		struct tgt_subsys *s;

		pthread_mutex_lock(&tgt->lock);
		s = tgt_subsys_find(tgt, nqn);
		if (s)
			s->port_mask |= 1u << portid;
		pthread_mutex_unlock(&tgt->lock);
		if (!s) {
			tr_err("config: port %d lists unknown subsystem %s", portid, nqn);
			return -ENOENT;
		}
	}
	err = tgt_listener_add(jstr(addr, "traddr"), jstr(addr, "trsvcid") ? jstr(addr, "trsvcid") : "4420",
			       !subs || json_object_array_length(subs) == 0, (uint16_t)portid);
	return err;
}

int tgt_config_load(const char *path)
{
	json_object *root = json_object_from_file(path), *subs, *ports;
	int err = 0;

	if (!root || !json_object_is_type(root, json_type_object)) {
		tr_err("config %s: not readable JSON: %s", path, json_util_get_last_err());
		json_object_put(root);
		return -EINVAL;
	}
	/* An extension: the identity serials and namespace IDs derive from, as `ctl save` writes it. */
	if (jstr(root, "target_id") && tgt_target_id_set(jstr(root, "target_id"))) {
		tr_err("config %s: target_id %s is not a UUID", path, jstr(root, "target_id"));
		json_object_put(root);
		return -EINVAL;
	}
	subs = jget(root, "subsystems", json_type_array);
	ports = jget(root, "ports", json_type_array);
	for (size_t i = 0; !err && subs && i < json_object_array_length(subs); i++)
		err = load_subsystem(json_object_array_get_idx(subs, i));
	for (size_t i = 0; !err && ports && i < json_object_array_length(ports); i++)
		err = load_port(json_object_array_get_idx(ports, i));
	json_object_put(root);
	return err;
}

static json_object *save_subsystem(struct tgt_subsys *s, json_object *all_hosts)
{
	json_object *o = json_object_new_object(), *attr = json_object_new_object();
	json_object *hosts = json_object_new_array(), *nss = json_object_new_array();
	json_object *denied = json_object_new_array();
	char id[40];

	pthread_mutex_lock(&s->lock);
	json_object_object_add(attr, "allow_any_host", json_object_new_string(s->allow_any_host ? "1" : "0"));
	json_object_object_add(attr, "serial", json_object_new_string(s->serial));
	json_object_object_add(attr, "model", json_object_new_string(s->model));
	json_object_object_add(attr, "version", json_object_new_string("1.3"));
	for (struct tgt_host_entry *h = s->hosts; h; h = h->next) {
		json_object *e = json_object_new_object();

		json_object_array_add(hosts, json_object_new_string(h->nqn));
		json_object_object_add(e, "nqn", json_object_new_string(h->nqn));
		json_object_array_add(all_hosts, e);
	}
	for (struct tgt_host_entry *h = s->denied_hosts; h; h = h->next)
		json_object_array_add(denied, json_object_new_string(h->nqn));
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		struct tgt_ns *ns = s->ns[i];
		json_object *n, *dev;

		if (!ns)
			continue;
		n = json_object_new_object();
		dev = json_object_new_object();
		json_object_object_add(dev, "path", json_object_new_string(ns->path));
		nvme_uuid_format(ns->uuid, id);
		json_object_object_add(dev, "uuid", json_object_new_string(id));
		nvme_uuid_format(ns->nguid, id);
		json_object_object_add(dev, "nguid", json_object_new_string(id));
		json_object_object_add(n, "device", dev);
		json_object_object_add(n, "enable", json_object_new_int(1));
		json_object_object_add(n, "nsid", json_object_new_int((int)ns->nsid));
		json_object_object_add(n, "readonly", json_object_new_boolean(ns->readonly));
		json_object_object_add(n, "buffered_io", json_object_new_boolean(ns->buffered));
		json_object_array_add(nss, n);
	}
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(o, "allowed_hosts", hosts);
	json_object_object_add(o, "attr", attr);
	/* Written only when there is one, so a config without denials stays plain nvmetcli. */
	if (json_object_array_length(denied))
		json_object_object_add(o, "denied_hosts", denied);
	else
		json_object_put(denied);
	json_object_object_add(o, "namespaces", nss);
	json_object_object_add(o, "nqn", json_object_new_string(s->nqn));
	return o;
}

int tgt_config_save(const char *path)
{
	json_object *root = json_object_new_object(), *hosts = json_object_new_array();
	json_object *ports = json_object_new_array(), *subs = json_object_new_array();
	char tmp[4096];
	int err = 0;

	pthread_mutex_lock(&tgt->lock);
	for (struct tgt_subsys *s = tgt->subsystems; s; s = s->next)
		json_object_array_add(subs, save_subsystem(s, hosts));
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next) {
		json_object *p = json_object_new_object(), *a = json_object_new_object();
		json_object *linked = json_object_new_array();

		json_object_object_add(a, "adrfam", json_object_new_string(l->ipv6 ? "ipv6" : "ipv4"));
		json_object_object_add(a, "traddr", json_object_new_string(l->traddr));
		json_object_object_add(a, "treq", json_object_new_string("not specified"));
		json_object_object_add(a, "trsvcid", json_object_new_string(l->trsvcid));
		json_object_object_add(a, "trtype", json_object_new_string("tcp"));
		json_object_object_add(p, "addr", a);
		json_object_object_add(p, "portid", json_object_new_int(l->portid));
		json_object_object_add(p, "referrals", json_object_new_array());
		for (struct tgt_subsys *s = tgt->subsystems; s && !l->discovery_only; s = s->next) {
			if (tgt_subsys_on_port(s, l->portid))
				json_object_array_add(linked, json_object_new_string(s->nqn));
		}
		json_object_object_add(p, "subsystems", linked);
		json_object_array_add(ports, p);
	}
	pthread_mutex_unlock(&tgt->lock);
	nvme_uuid_format(tgt->target_id, tmp);
	json_object_object_add(root, "target_id", json_object_new_string(tmp));
	json_object_object_add(root, "hosts", hosts);
	json_object_object_add(root, "ports", ports);
	json_object_object_add(root, "subsystems", subs);

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED) ||
	    rename(tmp, path)) {
		err = -errno;
		tr_err("config: cannot save to %s: %s", path, strerror(errno));
		unlink(tmp);
	} else {
		tr_info("config saved to %s", path);
	}
	json_object_put(root);
	return err;
}
