/* The RBD namespace spec, "rbd:POOL/[NAMESPACE/]IMAGE[:conf=PATH][:id=CLIENT]" (QEMU's form): parsed
 * and printed here, without librbd, so the CLI, the config loader and the unit tests need no Ceph. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target/backend.h"
#include "util/log.h"

/* Copy a field: non-empty, fits, and none of the characters the spec uses as separators. */
static int field(char *dst, const char *src, size_t n, const char *what, const char **why)
{
	static char msg[96];

	if (n == 0 || n >= TGT_RBD_FIELD_MAX || memchr(src, ':', n) || memchr(src, ',', n) ||
	    memchr(src, '@', n)) {
		snprintf(msg, sizeof(msg), "%s %s", what,
			 n == 0 ? "is empty" : n >= TGT_RBD_FIELD_MAX ? "is too long" : "contains ':', ',' or '@'");
		*why = msg;
		return -EINVAL;
	}
	memcpy(dst, src, n);
	dst[n] = 0;
	return 0;
}

/* POOL/IMAGE or POOL/NAMESPACE/IMAGE */
static int parse_location(const char *s, size_t n, struct tgt_rbd_spec *out, const char **why)
{
	const char *a = memchr(s, '/', n), *b;

	if (!a) {
		*why = "expected POOL/IMAGE";
		return -EINVAL;
	}
	b = memchr(a + 1, '/', (size_t)(s + n - a - 1));
	if (b && memchr(b + 1, '/', (size_t)(s + n - b - 1))) {
		*why = "more than POOL/NAMESPACE/IMAGE";
		return -EINVAL;
	}
	if (field(out->pool, s, (size_t)(a - s), "pool", why))
		return -EINVAL;
	if (b && field(out->rados_ns, a + 1, (size_t)(b - a - 1), "namespace", why))
		return -EINVAL;
	b = b ? b + 1 : a + 1;
	return field(out->image, b, (size_t)(s + n - b), "image", why);
}

int tgt_rbd_parse_spec(const char *path, const char *conf, const char *id, struct tgt_rbd_spec *out,
		       const char **why)
{
	const char *s, *opt;
	size_t n;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (!path || strncmp(path, TGT_RBD_PREFIX, strlen(TGT_RBD_PREFIX))) {
		*why = "not an rbd: spec";
		return -EINVAL;
	}
	s = path + strlen(TGT_RBD_PREFIX);
	n = strcspn(s, ":");
	if (parse_location(s, n, out, why))
		return -EINVAL;
	for (opt = s + n; *opt == ':'; opt += n + 1) {
		n = strcspn(opt + 1, ":");
		if (!strncmp(opt + 1, "conf=", 5) && !out->conf[0]) {
			if (field(out->conf, opt + 6, n - 5, "conf", why))
				return -EINVAL;
		} else if (!strncmp(opt + 1, "id=", 3) && !out->id[0]) {
			if (field(out->id, opt + 4, n - 3, "id", why))
				return -EINVAL;
		} else {
			*why = "unknown or repeated option (conf=PATH and id=CLIENT are known)";
			return -EINVAL;
		}
	}
	if (conf && field(out->conf, conf, strlen(conf), "conf", why))
		return -EINVAL;
	if (id && field(out->id, id, strlen(id), "id", why))
		return -EINVAL;
	return 0;
}

int tgt_rbd_format_spec(const struct tgt_rbd_spec *spec, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s/%s%s%s%s%s%s%s", TGT_RBD_PREFIX, spec->pool, spec->rados_ns,
			 spec->rados_ns[0] ? "/" : "", spec->image, spec->conf[0] ? ":conf=" : "", spec->conf,
			 spec->id[0] ? ":id=" : "", spec->id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

#ifndef TR_HAVE_RBD
int tgt_backend_rbd_open(struct tgt_ns *ns, const char *subnqn, const struct tgt_ns_params *p)
{
	(void)ns;
	(void)subnqn;
	tr_err("namespace %u: %s: this tightrope was built without librbd (meson -Drbd=enabled)", p->nsid, p->path);
	return -EPROTONOSUPPORT;
}

void tgt_backend_rbd_quiesce(void)
{
}
#endif
