/* JSON configuration in nvmetcli's format (/etc/nvmet/config.json): hosts (with their "dhchap"
 * secrets, as nvmetcli since July 2026 saves them; the file is written mode 0600), ports with their
 * subsystems, subsystems with attr/allowed_hosts/namespaces. Extensions: "mem:SIZE" device paths,
 * "readonly" and "buffered_io" per namespace, "denied_hosts" per subsystem (what forbid-host left
 * on a subsystem open to any host; nvmetcli has no such list and ignores the key). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvme/dhchap.h"
#include "nvme/identify.h"
#include "target/config.h"
#include "target/control.h"
#include "util/log.h"
#include "util/parse.h"

/* A key's value when it has the type wanted: 0 with *out set, or NULL if the key is absent (or null);
 * -EINVAL, logged, when it is there with another type. `where` names the object for the log line. */
int tgt_jopt(json_object *o, const char *key, json_type type, const char *where, json_object **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, type)) {
		tr_err("config: %s: \"%s\" must be of type %s, not %s", where, key, json_type_to_name(type),
		       json_type_to_name(json_object_get_type(v)));
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int tgt_jopt_str(json_object *o, const char *key, const char *where, const char **out)
{
	json_object *v;
	int err = tgt_jopt(o, key, json_type_string, where, &v);

	*out = v ? json_object_get_string(v) : NULL;
	return err;
}

/* An array of strings (host NQNs, a port's subsystems): NULL if absent, -EINVAL if anything else. */
int tgt_jopt_str_array(json_object *o, const char *key, const char *where, json_object **out)
{
	int err = tgt_jopt(o, key, json_type_array, where, out);

	for (size_t i = 0; !err && *out && i < json_object_array_length(*out); i++) {
		if (!json_object_is_type(json_object_array_get_idx(*out, i), json_type_string)) {
			tr_err("config: %s: \"%s\" must list strings only", where, key);
			err = -EINVAL;
		}
	}
	return err;
}

/* "1", 1, true all mean yes: nvmetcli writes attributes as strings. */
bool tgt_jbool(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_string))
		return !strcmp(json_object_get_string(v), "1") || !strcmp(json_object_get_string(v), "true");
	return json_object_get_boolean(v);
}

/* A number that nvmetcli may write as a string ("cntlid_min": "1"); absent = *out unchanged. */
int tgt_jnum(json_object *o, const char *key, const char *where, long min, long max, long *out)
{
	json_object *v;
	const char *text;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	text = json_object_get_string(v);
	if ((!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_string)) ||
	    tr_parse_long(text, min, max, out)) {
		tr_err("config: %s: \"%s\" must be a number in %ld..%ld, not %s", where, key, min, max, text);
		return -EINVAL;
	}
	return 0;
}

static const char *str_at(json_object *array, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(array, i));
}

static int parse_id(json_object *dev, const char *key, const char *where, uint8_t out[16], const uint8_t **set)
{
	const char *v;
	int err = dev ? tgt_jopt_str(dev, key, where, &v) : 0;

	if (err || !dev || !v || !*v)
		return err;
	if (nvme_uuid_parse(v, out)) {
		tr_err("config: %s: bad %s %s", where, key, v);
		return -EINVAL;
	}
	*set = out;
	return 0;
}

/* The namespace's parameters; the caller's buffers hold its UUID and NGUID. */
int tgt_config_ns_params(const char *nqn, json_object *n, struct tgt_ns_params *p, uint8_t *uuid, uint8_t *nguid)
{
	json_object *dev, *nsid, *lbs;
	char where[NVME_NQN_SIZE + 32];
	int err;

	err = tgt_jopt(n, "nsid", json_type_int, nqn, &nsid);
	if (!err)
		err = tgt_jopt(n, "device", json_type_object, nqn, &dev);
	if (!err && dev)
		err = tgt_jopt_str(dev, "path", nqn, &p->path);
	if (err)
		return err;
	if (!nsid || !dev || !p->path) {
		tr_err("config: %s: a namespace needs \"nsid\" and \"device\".\"path\"", nqn);
		return -EINVAL;
	}
	if (json_object_get_int64(nsid) < 1 || json_object_get_int64(nsid) > TGT_MAX_NSID) {
		tr_err("config: %s: nsid %s out of range (1..%u)", nqn, json_object_get_string(nsid), TGT_MAX_NSID);
		return -ERANGE;
	}
	p->nsid = (uint32_t)json_object_get_int64(nsid);
	snprintf(where, sizeof(where), "%s nsid %u", nqn, p->nsid);
	err = parse_id(dev, "uuid", where, uuid, &p->uuid);
	if (!err)
		err = parse_id(dev, "nguid", where, nguid, &p->nguid);
	if (!err)
		err = tgt_jopt(dev, "lba_size", json_type_int, where, &lbs);
	if (err)
		return err;
	if (lbs && (json_object_get_int64(lbs) < 0 || json_object_get_int64(lbs) > UINT32_MAX)) {
		tr_err("config: %s: bad lba_size %s", where, json_object_get_string(lbs));
		return -EINVAL;
	}
	p->lba_size = lbs ? (uint32_t)json_object_get_int64(lbs) : 0;
	long grp = 0;

	err = tgt_jnum(n, "ana_grpid", where, 1, TGT_MAX_ANAGRPS, &grp);
	if (err)
		return err;
	p->anagrpid = (uint32_t)grp;
	p->readonly = tgt_jbool(n, "readonly");
	p->buffered = tgt_jbool(n, "buffered_io") || tgt_jbool(dev, "buffered_io");
	return 0;
}

static int load_namespace(struct tgt_subsys *s, json_object *n)
{
	struct tgt_ns_params p = { 0 };
	uint8_t uuid[16], nguid[16];
	json_object *en;
	int err;

	if (!json_object_is_type(n, json_type_object)) {
		tr_err("config: %s: a namespace must be an object", s->nqn);
		return -EINVAL;
	}
	if (json_object_object_get_ex(n, "enable", &en) && !json_object_get_int(en))
		return 0;
	err = tgt_config_ns_params(s->nqn, n, &p, uuid, nguid);
	if (err)
		return err;
	err = tgt_subsys_add_ns(s, &p);
	if (err == -EEXIST)
		tr_err("config: %s: nsid %u defined twice", s->nqn, p.nsid);
	/* Other failures to open the storage were logged where they happened. */
	return err < 0 ? err : 0;
}

/* The top-level hosts: their DH-HMAC-CHAP settings, in nvmetcli's "dhchap" attribute group
 * ({"key", "ctrl_key", "hash": "hmac(sha256)", "dhgroup": "ffdhe2048"}, configfs' dhchap_* files),
 * and (an extension: nvmet keeps PSKs in the kernel's keyring) "tls_key", the configured PSK. */
static int load_host_auth(json_object *hosts, const char *path)
{
	for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
		json_object *h = json_object_array_get_idx(hosts, i), *dh = NULL;
		const char *nqn = NULL, *key = NULL, *ctrl_key = NULL, *hash = NULL, *dhgroup = NULL, *why;
		const char *tls_key = NULL;
		int err = json_object_is_type(h, json_type_object) ? tgt_jopt_str(h, "nqn", path, &nqn) : -EINVAL;

		if (!err)
			err = tgt_jopt(h, "dhchap", json_type_object, path, &dh);
		if (!err)
			err = tgt_jopt_str(h, "tls_key", path, &tls_key);
		if (!err && tls_key && tls_key[0] && tgt_host_tls_set(tgt, nqn, tls_key, &why)) {
			tr_err("config %s: host %s: %s", path, nqn, why);
			return -EINVAL;
		}
		if (!err && dh)
			err = tgt_jopt_str(dh, "key", path, &key) || tgt_jopt_str(dh, "ctrl_key", path, &ctrl_key) ||
					      tgt_jopt_str(dh, "hash", path, &hash) || tgt_jopt_str(dh, "dhgroup", path, &dhgroup)
				      ? -EINVAL
				      : 0;
		if (err) {
			tr_err("config %s: hosts[%zu] must be an object with \"nqn\" and string dhchap fields", path, i);
			return -EINVAL;
		}
		if (!dh || !key || !key[0])
			continue; /* a host without a secret: nothing to keep beyond its NQN */
		if (tgt_host_auth_set(tgt, nqn, key, ctrl_key, hash, dhgroup, &why)) {
			tr_err("config %s: host %s: %s", path, nqn ? nqn : "?", why);
			return -EINVAL;
		}
	}
	return 0;
}

static int load_hosts(struct tgt_subsys *s, json_object *hosts, bool deny)
{
	for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
		const char *h = str_at(hosts, i);
		int err = deny ? tgt_subsys_deny_host(s, h) : tgt_subsys_allow_host(s, h);

		if (err) {
			tr_err("config: %s: bad %s host %s", s->nqn, deny ? "denied" : "allowed", h);
			return err;
		}
	}
	return 0;
}

static int load_subsystem(json_object *o)
{
	json_object *attr = NULL, *hosts = NULL, *denied = NULL, *nss = NULL;
	const char *nqn, *serial = NULL, *model = NULL;
	struct tgt_subsys *s;
	int err;

	if (!json_object_is_type(o, json_type_object)) {
		tr_err("config: a subsystem must be an object");
		return -EINVAL;
	}
	err = tgt_jopt_str(o, "nqn", "a subsystem", &nqn);
	if (err)
		return err;
	if (!nqn) {
		tr_err("config: a subsystem has no \"nqn\"");
		return -EINVAL;
	}
	err = tgt_jopt(o, "attr", json_type_object, nqn, &attr);
	if (!err && attr)
		err = tgt_jopt_str(attr, "serial", nqn, &serial);
	if (!err && attr)
		err = tgt_jopt_str(attr, "model", nqn, &model);
	if (!err)
		err = tgt_jopt_str_array(o, "allowed_hosts", nqn, &hosts);
	if (!err)
		err = tgt_jopt_str_array(o, "denied_hosts", nqn, &denied);
	if (!err)
		err = tgt_jopt(o, "namespaces", json_type_array, nqn, &nss);
	if (err)
		return err;
	s = tgt_subsys_create(nqn, serial, model);
	if (!s) {
		err = -errno;
		tr_err("config: subsystem %s: %s", nqn,
		       err == -EEXIST ? "defined twice" : err == -EINVAL ? "invalid NQN" : strerror(-err));
		return err;
	}
	s->port_mask = 0; /* exported only where a port lists it */
	long cmin = 1, cmax = NVME_CNTLID_MAX;

	err = attr ? tgt_jnum(attr, "cntlid_min", nqn, 1, NVME_CNTLID_MAX, &cmin) : 0;
	if (!err && attr)
		err = tgt_jnum(attr, "cntlid_max", nqn, 1, NVME_CNTLID_MAX, &cmax);
	if (!err && tgt_subsys_set_cntlid_range(s, cmin, cmax)) {
		tr_err("config: %s: cntlid_min %ld is above cntlid_max %ld", nqn, cmin, cmax);
		err = -ERANGE;
	}
	if (!err)
		err = load_hosts(s, hosts, false);
	s->allow_any_host = attr ? tgt_jbool(attr, "allow_any_host") : !hosts;
	if (!err)
		err = load_hosts(s, denied, true);
	for (size_t i = 0; !err && nss && i < json_object_array_length(nss); i++)
		err = load_namespace(s, json_object_array_get_idx(nss, i));
	return err;
}

/* Export the port's subsystems on it. */
static int link_subsystems(json_object *subs, int portid)
{
	for (size_t i = 0; subs && i < json_object_array_length(subs); i++) {
		const char *nqn = str_at(subs, i);
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
	return 0;
}

/* nvmet's addr_tsas ("none", "tls1.3") and addr_treq ("not specified", "required", "not required")
 * as a TLS policy. */
int tgt_config_port_tls(json_object *addr, int id, enum tgt_tls_mode *tls)
{
	const char *tsas = NULL, *treq = NULL;
	int err = tgt_jopt_str(addr, "tsas", "a port", &tsas) || tgt_jopt_str(addr, "treq", "a port", &treq) ? -EINVAL : 0;

	if (err || !tsas || !strcmp(tsas, "none")) {
		*tls = TGT_TLS_NONE;
		return err;
	}
	if (strcmp(tsas, "tls1.3")) {
		tr_err("config: port %d: tsas \"%s\": \"none\" or \"tls1.3\"", id, tsas);
		return -EINVAL;
	}
	/* With TLS on, "not specified" is read the safe way: required. */
	*tls = treq && !strcmp(treq, "not required") ? TGT_TLS_ALLOWED : TGT_TLS_REQUIRED;
	return 0;
}

/* nvmetcli's ana_groups of a port: [{"grpid": 2, "ana": {"state": "non-optimized"}}, ...]. */
static int load_ana_groups(json_object *o, int portid)
{
	json_object *groups = NULL;
	char where[32];
	int err = tgt_jopt(o, "ana_groups", json_type_array, "a port", &groups);

	snprintf(where, sizeof(where), "port %d ana_groups", portid);
	for (size_t i = 0; !err && groups && i < json_object_array_length(groups); i++) {
		json_object *g = json_object_array_get_idx(groups, i), *ana = NULL;
		const char *state = NULL;
		long grpid = 0;
		int st;

		err = json_object_is_type(g, json_type_object) ? tgt_jnum(g, "grpid", where, 1, TGT_MAX_ANAGRPS, &grpid)
							       : -EINVAL;
		if (!err)
			err = tgt_jopt(g, "ana", json_type_object, where, &ana);
		if (!err && ana)
			err = tgt_jopt_str(ana, "state", where, &state);
		if (err)
			break;
		st = tgt_ana_state_parse(state ? state : "optimized");
		if (!grpid || st < 0) {
			tr_err("config: %s: each group needs a \"grpid\" and a known \"ana\".\"state\"", where);
			return -EINVAL;
		}
		err = tgt_ana_set(tgt, (uint16_t)portid, (uint32_t)grpid, st);
	}
	return err;
}

static int load_port(json_object *o)
{
	json_object *addr = NULL, *subs = NULL, *portid = NULL;
	const char *trtype = NULL, *traddr = NULL, *trsvcid = NULL;
	enum tgt_tls_mode tls = TGT_TLS_NONE;
	int err, id;

	if (!json_object_is_type(o, json_type_object)) {
		tr_err("config: a port must be an object");
		return -EINVAL;
	}
	err = tgt_jopt(o, "portid", json_type_int, "a port", &portid);
	if (!err)
		err = tgt_jopt(o, "addr", json_type_object, "a port", &addr);
	if (!err && addr)
		err = tgt_jopt_str(addr, "trtype", "a port", &trtype);
	if (err)
		return err;
	id = portid ? json_object_get_int(portid) : -1;
	if (!trtype || strcmp(trtype, "tcp")) {
		tr_warn("config: port %d: only trtype \"tcp\" is served here; skipped", id);
		return 0;
	}
	if (!portid) {
		tr_err("config: a tcp port has no \"portid\"");
		return -EINVAL;
	}
	if (json_object_get_int64(portid) < 0 || json_object_get_int64(portid) > TGT_MAX_PORTID) {
		tr_err("config: port id %s out of range (0..%d)", json_object_get_string(portid), TGT_MAX_PORTID);
		return -ERANGE;
	}
	err = tgt_jopt_str(addr, "traddr", "a port", &traddr);
	if (!err)
		err = tgt_jopt_str(addr, "trsvcid", "a port", &trsvcid);
	if (!err)
		err = tgt_config_port_tls(addr, id, &tls);
	if (!err)
		err = tgt_jopt_str_array(o, "subsystems", "a port", &subs);
	if (!err)
		err = link_subsystems(subs, id);
	if (!err)
		err = load_ana_groups(o, id);
	if (err)
		return err;
	return tgt_listener_add(traddr, trsvcid ? trsvcid : TGT_DEFAULT_TRSVCID,
				!subs || json_object_array_length(subs) == 0, (uint16_t)id, tls);
}

int tgt_config_load(const char *path)
{
	json_object *root = json_object_from_file(path), *subs = NULL, *ports = NULL, *hosts = NULL;
	const char *target_id = NULL;
	int err = 0;

	if (!root || !json_object_is_type(root, json_type_object)) {
		tr_err("config %s: not readable JSON: %s", path,
		       root ? "not an object" : json_util_get_last_err() ? json_util_get_last_err() : "unknown error");
		json_object_put(root);
		return -EINVAL;
	}
	err = tgt_jopt_str(root, "target_id", path, &target_id);
	/* An extension: the identity serials and namespace IDs derive from, as `ctl save` writes it. */
	if (!err && target_id && tgt_target_id_set(target_id)) {
		tr_err("config %s: target_id %s is not a UUID", path, target_id);
		err = -EINVAL;
	}
	if (!err)
		err = tgt_jopt(root, "hosts", json_type_array, path, &hosts);
	if (!err)
		err = load_host_auth(hosts, path);
	if (!err)
		err = tgt_jopt(root, "subsystems", json_type_array, path, &subs);
	if (!err)
		err = tgt_jopt(root, "ports", json_type_array, path, &ports);
	for (size_t i = 0; !err && subs && i < json_object_array_length(subs); i++)
		err = load_subsystem(json_object_array_get_idx(subs, i));
	for (size_t i = 0; !err && ports && i < json_object_array_length(ports); i++)
		err = load_port(json_object_array_get_idx(ports, i));
	json_object_put(root);
	return err;
}

/* The top-level entry of a host, made once however many subsystems list it. */
static json_object *host_entry(json_object *all_hosts, const char *nqn)
{
	json_object *e, *v;

	for (size_t i = 0; i < json_object_array_length(all_hosts); i++) {
		e = json_object_array_get_idx(all_hosts, i);
		if (json_object_object_get_ex(e, "nqn", &v) && !strcmp(json_object_get_string(v), nqn))
			return e;
	}
	e = json_object_new_object();
	json_object_object_add(e, "nqn", json_object_new_string(nqn));
	json_object_array_add(all_hosts, e);
	return e;
}

/* Hosts' secrets, as nvmetcli keeps them; caller holds tgt->lock. */
static void save_host_auth(json_object *all_hosts)
{
	for (struct tgt_host_auth *h = tgt->host_auth; h; h = h->next) {
		json_object *d = json_object_new_object();
		char hash[32];

		if (h->tls_key[0])
			json_object_object_add(host_entry(all_hosts, h->nqn), "tls_key", json_object_new_string(h->tls_key));
		if (!h->key[0]) {
			json_object_put(d);
			continue;
		}
		snprintf(hash, sizeof(hash), "hmac(%s)", nvme_auth_hash_name(h->hash));
		json_object_object_add(d, "ctrl_key", json_object_new_string(h->ctrl_key));
		json_object_object_add(d, "dhgroup", json_object_new_string(nvme_dhgroup_name(h->dhgroup)));
		json_object_object_add(d, "hash", json_object_new_string(hash));
		json_object_object_add(d, "key", json_object_new_string(h->key));
		json_object_object_add(host_entry(all_hosts, h->nqn), "dhchap", d);
	}
}

static json_object *save_subsystem(struct tgt_subsys *s, json_object *all_hosts)
{
	json_object *o = json_object_new_object(), *attr = json_object_new_object();
	json_object *hosts = json_object_new_array(), *nss = json_object_new_array();
	json_object *denied = json_object_new_array();
	char id[40];

	pthread_mutex_lock(&s->lock);
	json_object_object_add(attr, "allow_any_host", json_object_new_string(s->allow_any_host ? "1" : "0"));
	snprintf(id, sizeof(id), "%u", s->cntlid_max);
	json_object_object_add(attr, "cntlid_max", json_object_new_string(id));
	snprintf(id, sizeof(id), "%u", s->cntlid_min);
	json_object_object_add(attr, "cntlid_min", json_object_new_string(id));
	json_object_object_add(attr, "serial", json_object_new_string(s->serial));
	json_object_object_add(attr, "model", json_object_new_string(s->model));
	json_object_object_add(attr, "version", json_object_new_string("1.3"));
	for (struct tgt_host_entry *h = s->hosts; h; h = h->next) {
		json_object_array_add(hosts, json_object_new_string(h->nqn));
		host_entry(all_hosts, h->nqn);
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
		/* Written when not the default, so a restart does not change the block size hosts see. */
		if (ns->lba_shift != TGT_LBA_SHIFT_512)
			json_object_object_add(dev, "lba_size", json_object_new_int(1 << ns->lba_shift));
		json_object_object_add(n, "ana_grpid", json_object_new_int((int)ns->anagrpid));
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

/* A port's ANA groups as nvmetcli writes them: the default group always, and every group given a
 * state on this port. */
static json_object *save_ana_groups(uint16_t portid)
{
	json_object *groups = json_object_new_array();

	for (uint32_t g = 1; g <= TGT_MAX_ANAGRPS; g++) {
		json_object *e, *ana;

		if (g != TGT_DEFAULT_ANAGRPID && !tgt_ana_configured(tgt, portid, g))
			continue;
		e = json_object_new_object();
		ana = json_object_new_object();
		json_object_object_add(ana, "state", json_object_new_string(tgt_ana_state_name(tgt_ana_state(tgt, portid, g))));
		json_object_object_add(e, "ana", ana);
		json_object_object_add(e, "grpid", json_object_new_int((int)g));
		json_object_array_add(groups, e);
	}
	return groups;
}

int tgt_config_save(const char *path)
{
	json_object *root = json_object_new_object(), *hosts = json_object_new_array();
	json_object *ports = json_object_new_array(), *subs = json_object_new_array();
	char tmp[PATH_MAX + 32];
	int err = 0;

	pthread_mutex_lock(&tgt->lock);
	for (struct tgt_subsys *s = tgt->subsystems; s; s = s->next)
		json_object_array_add(subs, save_subsystem(s, hosts));
	save_host_auth(hosts);
	for (struct tgt_listener *l = tgt->listeners; l; l = l->next) {
		json_object *p = json_object_new_object(), *a = json_object_new_object();
		json_object *linked = json_object_new_array();

		json_object_object_add(a, "adrfam", json_object_new_string(l->ipv6 ? "ipv6" : "ipv4"));
		json_object_object_add(a, "traddr", json_object_new_string(l->traddr));
		json_object_object_add(a, "treq", json_object_new_string(l->tls == TGT_TLS_REQUIRED ? "required"
									  : l->tls == TGT_TLS_ALLOWED ? "not required"
												      : "not specified"));
		json_object_object_add(a, "tsas", json_object_new_string(l->tls == TGT_TLS_NONE ? "none" : "tls1.3"));
		json_object_object_add(a, "trsvcid", json_object_new_string(l->trsvcid));
		json_object_object_add(a, "trtype", json_object_new_string("tcp"));
		json_object_object_add(p, "addr", a);
		json_object_object_add(p, "ana_groups", save_ana_groups(l->portid));
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
	/* Hosts' secrets are in it: readable by the owner only, from its first byte on. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int wrote = fd < 0 ? -1 : json_object_to_fd(fd, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);

	if (fd >= 0 && close(fd))
		wrote = -1;
	if (wrote || rename(tmp, path)) {
		err = -errno;
		tr_err("config: cannot save to %s: %s", path, strerror(errno));
		unlink(tmp);
	} else {
		tr_info("config saved to %s", path);
	}
	json_object_put(root);
	return err;
}
