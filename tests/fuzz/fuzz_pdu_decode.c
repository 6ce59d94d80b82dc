/* libFuzzer harness for the PDU codec on its own: common-header decode for both receiving sides
 * under every framing, then the type-specific validators, then the header-digest check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "nvme/tcp_pdu.h"

static void check_layout(const struct nvmf_tcp_pdu_layout *l)
{
	/* A decoded layout must describe bytes inside plen; anything else is a decoder bug. */
	uint64_t end = (uint64_t)l->hdr_total + l->pad + l->data_len + l->ddgst_len;

	if (l->hdr_total < l->hlen || end != l->plen)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[NVME_TCP_MAX_HLEN + NVME_TCP_DIGEST_LEN] = { 0 };
	struct nvmf_tcp_framing f;
	struct nvmf_tcp_pdu_layout layout;
	struct nvmf_tcp_fatal fatal;
	uint8_t knobs;

	if (size < 1)
		return 0;
	/* The first byte picks the negotiated framing, the rest is the PDU. */
	knobs = data[0];
	data++, size--;
	memcpy(hdr, data, size < sizeof(hdr) ? size : sizeof(hdr));
	f = (struct nvmf_tcp_framing){ .hdgst = knobs & 1, .ddgst = knobs & 2, .pda = (knobs >> 2) & 3,
				       .max_data = 1u << 20, .max_incapsule = 16384 };

	for (int side = NVMF_TCP_SIDE_TARGET; side <= NVMF_TCP_SIDE_HOST; side++) {
		bool before_ic = knobs & 0x10;

		memset(&fatal, 0, sizeof(fatal));
		if (nvmf_tcp_pdu_decode((const struct nvme_tcp_hdr *)hdr, (enum nvmf_tcp_side)side, &f, before_ic,
					&layout, &fatal) == 0) {
			check_layout(&layout);
			if (layout.hdr_total > sizeof(hdr))
				abort();
			if (layout.hdr_total > layout.hlen)
				(void)nvmf_tcp_hdgst_ok(hdr, layout.hlen);
		} else if (fatal.fes == 0 || fatal.fei >= NVME_TCP_MAX_HLEN) {
			abort(); /* every refusal must carry what the TermReq will say */
		}
	}
	if (size >= sizeof(struct nvme_tcp_icreq_pdu)) {
		(void)nvmf_tcp_icreq_validate((const struct nvme_tcp_icreq_pdu *)hdr, &fatal);
		(void)nvmf_tcp_icresp_validate((const struct nvme_tcp_icresp_pdu *)hdr, knobs & 1, knobs & 2, &fatal);
	}
	return 0;
}
