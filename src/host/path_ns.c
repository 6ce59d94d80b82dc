/* What one path of the host process reports, and how the process takes it in: the controller's
 * namespaces with their identifiers and ANA groups and its ANA log page (read in the path's connect
 * thread or on an event), checked against the other paths (the same NGUID, UUID and EUI-64 for the
 * same NSID, as the kernel's nvme_ns_ids_equal; CMIC multi-controller; distinct CNTLIDs) before the
 * path's namespaces join the process's one device per namespace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/hostd.h"
#include "host/ublk.h"
#include "util/log.h"

/* The UUID in a Namespace Identification Descriptor list (CNS 03h), each descriptor's length checked
 * against the 4 KiB it came in; zeros when there is none. */
static void ns_uuid(const uint8_t *list, uint8_t uuid[16])
{
	for (size_t off = 0; off + sizeof(struct nvme_ns_id_desc) <= NVME_IDENTIFY_DATA_SIZE;) {
		const struct nvme_ns_id_desc *d = (const void *)(list + off);
		size_t end = off + sizeof(*d) + d->nidl;

		if (d->nidt == 0 || end > NVME_IDENTIFY_DATA_SIZE)
			return;
		if (d->nidt == NVME_NIDT_UUID && d->nidl == 16)
			memcpy(uuid, d + 1, 16);
		off = end;
	}
}

/* Identify Namespace (and its descriptor list) into 'ni'; -ENOENT for one not to use. */
static int ns_info_read(struct tr_ctrl *c, uint32_t nsid, struct ns_info *ni)
{
	uint8_t *buf = aligned_alloc(4096, NVME_IDENTIFY_DATA_SIZE);
	struct nvme_id_ns *id = (struct nvme_id_ns *)buf;
	int status;

	if (!buf)
		return -ENOMEM;
	status = tr_ctrl_identify(c, NVME_ID_CNS_NS, nsid, buf);
	if (!status) {
		uint8_t ds = id->lbaf[id->flbas & 0xf].ds;

		/* An inactive NSID identifies as all zeros; a data size under 512 bytes is no LBA format. */
		if (id->nsze == 0 || ds < 9 || ds > 31)
			status = -ENOENT;
		*ni = (struct ns_info){ .nsid = nsid, .nsze = id->nsze, .lba_shift = ds, .anagrpid = id->anagrpid };
		memcpy(ni->nguid, id->nguid, 16);
		memcpy(ni->eui64, id->eui64, 8);
	}
	memset(buf, 0, NVME_IDENTIFY_DATA_SIZE);
	if (!status && tr_ctrl_identify(c, NVME_ID_CNS_NS_DESC_LIST, nsid, buf) == 0)
		ns_uuid(buf, ni->uuid);
	free(buf);
	return status;
}

static int read_ana(struct tr_ctrl *c, struct ana_table *t, char *why, size_t whylen)
{
	const struct nvme_id_ctrl *id = tr_ctrl_identify_data(c);
	size_t len = ana_log_size(id->nanagrpid, id->nn > MAX_NS * 16 ? MAX_NS * 16 : id->nn);
	void *buf = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
	int status;

	if (!buf)
		return -ENOMEM;
	memset(buf, 0, len);
	status = tr_ctrl_get_log(c, NVME_LOG_ANA, 0xffffffffu, buf, (uint32_t)len);
	if (status)
		snprintf(why, whylen, "reading the ANA log: %s", tr_status_str(status));
	else
		status = ana_log_parse(buf, len, id->anagrpmax, t, why, whylen);
	free(buf);
	return status < 0 ? status : status ? -EREMOTEIO : 0;
}

int path_probe(struct tr_ctrl *c, struct path_view *v, char *why, size_t whylen)
{
	uint32_t nsids[MAX_NS];
	int n = tr_ctrl_active_ns(c, nsids, MAX_NS);

	memset(v, 0, sizeof(*v));
	if (n < 0) {
		snprintf(why, whylen, "cannot read the active namespace list: %s", tr_status_str(n));
		return n;
	}
	for (int k = 0; k < n; k++)
		if (ns_info_read(c, nsids[k], &v->ns[v->nr]) == 0)
			v->nr++;
	v->have_ana = tr_ctrl_identify_data(c)->cmic & NVME_CTRL_CMIC_ANA;
	return v->have_ana ? read_ana(c, &v->ana, why, whylen) : 0;
}

static bool ids_equal(const struct ns_dev *ns, const struct ns_info *ni)
{
	return !memcmp(ns->nguid, ni->nguid, 16) && !memcmp(ns->eui64, ni->eui64, 8) && !memcmp(ns->uuid, ni->uuid, 16);
}

/* Refused as the kernel refuses a controller joining a subsystem: one that does not say it may share
 * it with others (CMIC bit 1), or with a CNTLID another path has; or another subsystem's. */
static int check_ctrl(struct hpath *p, struct tr_ctrl *c, char *why, size_t whylen)
{
	const struct nvme_id_ctrl *id = tr_ctrl_identify_data(c);
	struct hostd *h = p->h;
	uint16_t cntlid = tr_ctrl_cntlid(c);

	if (strncmp(id->subnqn, h->subnqn, sizeof(id->subnqn)) && id->subnqn[0]) {
		snprintf(why, whylen, "the controller's subsystem NQN %.223s is not %s", id->subnqn, h->subnqn);
		return -EINVAL;
	}
	for (int i = 0; i < MAX_PATHS; i++) {
		const struct hpath *o = &h->paths[i];

		if (o == p || !o->used || o->state == PS_NEW)
			continue;
		if (!(id->cmic & NVME_CTRL_CMIC_MULTI_CTRL) || !(o->cmic & NVME_CTRL_CMIC_MULTI_CTRL)) {
			snprintf(why, whylen, "subsystem doesn't support multiple controllers (CMIC %#x)", id->cmic);
			return -EINVAL;
		}
		if (o->cntlid == cntlid) {
			snprintf(why, whylen, "Duplicate cntlid %u with %s, subsys %s, rejecting", cntlid, o->name,
				 h->subnqn);
			return -EINVAL;
		}
	}
	return 0;
}

static struct ns_dev *ns_add(struct hostd *h, const struct ns_info *ni)
{
	struct ns_dev *ns;

	if (h->nr_ns == MAX_NS)
		return NULL;
	ns = &h->ns[h->nr_ns++];
	*ns = (struct ns_dev){ .nsid = ni->nsid, .nsze = ni->nsze, .lba_shift = ni->lba_shift, .current = -1 };
	memcpy(ns->nguid, ni->nguid, 16);
	memcpy(ns->eui64, ni->eui64, 8);
	memcpy(ns->uuid, ni->uuid, 16);
	tr_info("%s: namespace %u: %llu blocks of %u bytes", h->name, ns->nsid, (unsigned long long)ns->nsze,
		1u << ns->lba_shift);
	if (!h->o.no_loop && h->se && h->state != HS_DELETING)
		blkdev_attach_start(h, ns);
	return ns;
}

/* Namespaces no usable path reports any more go, with their devices. 'p' counts as usable. */
static void ns_drop_unreported(struct hostd *h, const struct hpath *p)
{
	for (int i = 0; i < h->nr_ns;) {
		bool still = false;

		for (int k = 0; k < MAX_PATHS; k++)
			still |= h->ns[i].on[k].present && (&h->paths[k] == p || h->paths[k].state == PS_LIVE);
		if (still) {
			i++;
			continue;
		}
		tr_info("%s: namespace %u removed by the target; its device goes too", h->name, h->ns[i].nsid);
		blkdev_detach_async(&h->ns[i]);
		hostd_fuse_ns_gone(h, h->ns[i].nsid);
		h->ns[i] = h->ns[--h->nr_ns];
	}
}

static void ns_take(struct hpath *p, const struct path_view *v)
{
	struct hostd *h = p->h;

	for (int i = 0; i < h->nr_ns; i++)
		h->ns[i].on[p->idx] = (struct ns_path){ 0 };
	for (int k = 0; k < v->nr; k++) {
		const struct ns_info *ni = &v->ns[k];
		struct ns_dev *ns = hostd_ns_by_nsid(h, ni->nsid);

		if (!ns && !(ns = ns_add(h, ni)))
			continue;
		ns->on[p->idx] = (struct ns_path){ .present = true, .grpid = ni->anagrpid };
		if (ns->nsze != ni->nsze) {
			tr_info("%s: namespace %u resized to %llu blocks", h->name, ns->nsid, (unsigned long long)ni->nsze);
			ns->nsze = ni->nsze;
			hostd_fuse_ns_resized(h, ns->nsid);
			blkdev_set_capacity(ns);
		}
	}
	ns_drop_unreported(h, p);
}

/* Take in what path 'p' (its controller p->ctrl, or the new one in p->job_ctrl) reports: refuse it
 * (-EINVAL, 'why' set, nothing changed) when it disagrees with the other paths. */
int path_adopt(struct hpath *p, const struct path_view *v, char *why, size_t whylen)
{
	struct tr_ctrl *c = p->ctrl ? p->ctrl : p->job_ctrl;
	const struct nvme_id_ctrl *id = tr_ctrl_identify_data(c);
	struct hostd *h = p->h;
	int err = check_ctrl(p, c, why, whylen);

	for (int k = 0; !err && k < v->nr; k++) {
		const struct ns_dev *ns = hostd_ns_by_nsid(h, v->ns[k].nsid);

		if (ns && !ids_equal(ns, &v->ns[k])) {
			snprintf(why, whylen, "IDs don't match for shared namespace %u (NGUID, UUID or EUI-64 differ)",
				 v->ns[k].nsid);
			err = -EINVAL;
		}
	}
	if (err)
		return err;
	p->cntlid = tr_ctrl_cntlid(c);
	p->cmic = id->cmic;
	p->auth = tr_ctrl_auth(c);
	snprintf(p->serial, sizeof(p->serial), "%.20s", id->sn);
	snprintf(p->model, sizeof(p->model), "%.40s", id->mn);
	snprintf(p->firmware, sizeof(p->firmware), "%.8s", id->fr);
	for (char *s = p->serial + strlen(p->serial); s > p->serial && s[-1] == ' ';)
		*--s = 0;
	for (char *s = p->model + strlen(p->model); s > p->model && s[-1] == ' ';)
		*--s = 0;
	for (char *s = p->firmware + strlen(p->firmware); s > p->firmware && s[-1] == ' ';)
		*--s = 0;
	if (!h->max_xfer || tr_ctrl_max_xfer(c) < h->max_xfer)
		h->max_xfer = tr_ctrl_max_xfer(c);
	ns_take(p, v);
	p->ana = v->have_ana;
	if (v->have_ana)
		p->ana_tbl = v->ana;
	p->ana_stale = false;
	mpath_paths_changed(h);
	return 0;
}
