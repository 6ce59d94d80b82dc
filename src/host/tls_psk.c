/* The host's TLS PSK for one controller: the configured key (given as "NVMeTLSkey-1:..." or read
 * from a file, as nvme-cli's --tls-key takes it), turned into the identity and TLS PSK the Linux
 * 6.12 host would find in its keyring for this host and subsystem (libnvme 1.13's derivation). */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "host/tls_psk.h"
#include "nvme/tls_psk.h"

#define KEY_PREFIX "NVMeTLSkey-1:"

/* The first "NVMeTLSkey-1:...:" word of a file (a key alone, or a keyfile line after its identity). */
static int key_from_file(const char *path, char *out, size_t outlen, char *why, size_t whylen)
{
	char line[NVME_TLS_KEYFILE_LINE_MAX + 2];
	FILE *f = fopen(path, "re");
	int err = -ENOENT;

	if (!f) {
		snprintf(why, whylen, "--tls-key %s: neither a key (%s...) nor a readable file: %s", path, KEY_PREFIX,
			 strerror(errno));
		return -EINVAL;
	}
	while (err && fgets(line, sizeof(line), f)) {
		char *k = strstr(line, KEY_PREFIX);

		if (!k)
			continue;
		k[strcspn(k, " \t\r\n")] = 0;
		if (strlen(k) < outlen) {
			strcpy(out, k);
			err = 0;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (err)
		snprintf(why, whylen, "--tls-key %s: no %s...: key in the file", path, KEY_PREFIX);
	return err ? -EINVAL : 0;
}

int host_tls_psk(const char *key, const char *hostnqn, const char *subnqn, struct ntls_psk *out, char *why,
		 size_t whylen)
{
	char text[NVME_TLS_PSK_STR_MAX + 8];
	struct nvme_tls_psk configured, tls;
	int err = 0;

	if (!key) {
		snprintf(why, whylen, "--tls needs --tls-key (the configured PSK, or a file holding it): there is "
				      "no kernel keyring to look it up in");
		return -EINVAL;
	}
	if (!strncmp(key, KEY_PREFIX, strlen(KEY_PREFIX))) {
		if (strlen(key) >= sizeof(text))
			err = -EINVAL;
		else
			strcpy(text, key);
	} else {
		err = key_from_file(key, text, sizeof(text), why, whylen);
		if (err)
			return err;
	}
	if (!err && nvme_tls_psk_parse(text, &configured))
		err = -EINVAL;
	if (err)
		snprintf(why, whylen, "--tls-key: not a PSK in the interchange form (NVMeTLSkey-1:01:...:)");
	else if (nvme_tls_psk_derive(&configured, 0, hostnqn, subnqn, out->identity, sizeof(out->identity), &tls) ||
		 tls.len > sizeof(out->key))
		err = -EINVAL, snprintf(why, whylen, "--tls-key: no TLS PSK can be derived for %s and %s", hostnqn,
					subnqn);
	if (!err) {
		memcpy(out->key, tls.key, tls.len);
		out->len = tls.len;
		out->hash = tls.hash;
	}
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(&configured, sizeof(configured));
	OPENSSL_cleanse(&tls, sizeof(tls));
	return err;
}
