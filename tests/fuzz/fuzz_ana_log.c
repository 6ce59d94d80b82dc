/* libFuzzer harness for the host's ANA log page parser (src/host/ana.c): the first four bytes are the
 * controller's ANAGRPMAX, the rest one log page as Get Log Page returned it. Whatever it accepts must
 * hold only valid, distinct, in-range groups, and fit in the bytes given. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "host/ana.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ana_table t;
	uint32_t anagrpmax = 0;
	char why[160];
	uint8_t *page;

	if (size < 4)
		return 0;
	memcpy(&anagrpmax, data, 4);
	/* A copy of exactly the page's size, so ASan sees any read past its end. */
	page = malloc(size - 4 ? size - 4 : 1);
	if (!page)
		return 0;
	memcpy(page, data + 4, size - 4);
	if (ana_log_parse(page, size - 4, anagrpmax, &t, why, sizeof(why)) == 0) {
		size_t need = sizeof(struct nvme_ana_log_header) + (size_t)t.nr * sizeof(struct nvme_ana_group_desc);

		if (t.nr < 0 || t.nr > ANA_MAX_GROUPS || need > size - 4)
			abort();
		for (int i = 0; i < t.nr; i++) {
			if (!t.g[i].grpid || (anagrpmax && t.g[i].grpid > anagrpmax) || !ana_state_name(t.g[i].state)[0] ||
			    !strcmp(ana_state_name(t.g[i].state), "unknown"))
				abort();
			for (int k = 0; k < i; k++)
				if (t.g[k].grpid == t.g[i].grpid)
					abort();
			if (ana_group_state(&t, t.g[i].grpid) != t.g[i].state)
				abort();
		}
	} else if (!why[0]) {
		abort(); /* a refusal names its cause */
	}
	free(page);
	return 0;
}
