/* cmocka tests of the RBD namespace spec (src/target/backend/rbd_spec.c): the CLI's and the config's
 * "rbd:POOL/[NAMESPACE/]IMAGE[:conf=PATH][:id=CLIENT]", what it accepts, what it refuses and why, and
 * that the canonical string `ctl save` writes parses back to the same spec. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target/backend.h"

static void test_plain(void **state)
{
	struct tgt_rbd_spec sp;
	const char *why;

	(void)state;
	assert_int_equal(tgt_rbd_parse_spec("rbd:rbd/img1", NULL, NULL, &sp, &why), 0);
	assert_string_equal(sp.pool, "rbd");
	assert_string_equal(sp.image, "img1");
	assert_string_equal(sp.rados_ns, "");
	assert_string_equal(sp.conf, "");
	assert_string_equal(sp.id, "");
	assert_null(why);
}

static void test_namespace_and_options(void **state)
{
	struct tgt_rbd_spec sp;
	const char *why;

	(void)state;
	assert_int_equal(tgt_rbd_parse_spec("rbd:p/ns1/i:conf=/etc/ceph/x.conf:id=tr", NULL, NULL, &sp, &why), 0);
	assert_string_equal(sp.pool, "p");
	assert_string_equal(sp.rados_ns, "ns1");
	assert_string_equal(sp.image, "i");
	assert_string_equal(sp.conf, "/etc/ceph/x.conf");
	assert_string_equal(sp.id, "tr");
	/* Given beside the path (the CLI's ,conf= ,id=): they win over the string's. */
	assert_int_equal(tgt_rbd_parse_spec("rbd:p/i:id=old", "/c", "new", &sp, &why), 0);
	assert_string_equal(sp.conf, "/c");
	assert_string_equal(sp.id, "new");
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"rbd:",		"rbd:pool",	  "rbd:/img",	"rbd:pool/",	 "rbd:p//i",
		"rbd:a/b/c/d",	"rbd:p/i:",	  "rbd:p/i:foo=1", "rbd:p/i:conf=", "rbd:p/i:id=",
		"rbd:p/i:id=a:id=b", "rbd:p/i@snap", "rbd:p,x/i",	"file:/x",	 "rbdp/i",
	};
	struct tgt_rbd_spec sp;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (tgt_rbd_parse_spec(bad[i], NULL, NULL, &sp, &why) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(tgt_rbd_parse_spec(NULL, NULL, NULL, &sp, &why), -EINVAL);
	assert_int_equal(tgt_rbd_parse_spec("rbd:p/i", "a:b", NULL, &sp, &why), -EINVAL);
	assert_int_equal(tgt_rbd_parse_spec("rbd:p/i", NULL, "", &sp, &why), -EINVAL);
}

static void test_too_long(void **state)
{
	char path[TGT_RBD_FIELD_MAX + 16];
	struct tgt_rbd_spec sp;
	const char *why;

	(void)state;
	memcpy(path, "rbd:p/", 6);
	memset(path + 6, 'x', TGT_RBD_FIELD_MAX);
	path[6 + TGT_RBD_FIELD_MAX] = 0;
	assert_int_equal(tgt_rbd_parse_spec(path, NULL, NULL, &sp, &why), -EINVAL);
	assert_non_null(strstr(why, "too long"));
	path[6 + TGT_RBD_FIELD_MAX - 1] = 0; /* exactly the longest that fits */
	assert_int_equal(tgt_rbd_parse_spec(path, NULL, NULL, &sp, &why), 0);
}

static void test_round_trip(void **state)
{
	static const char *const good[] = { "rbd:rbd/img", "rbd:p/ns/i", "rbd:p/i:conf=/x/ceph.conf",
					    "rbd:p/i:id=tightrope", "rbd:p/n/i:conf=/c:id=u" };
	struct tgt_rbd_spec a, b;
	char buf[2048];
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(tgt_rbd_parse_spec(good[i], NULL, NULL, &a, &why), 0);
		assert_int_equal(tgt_rbd_format_spec(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, good[i]);
		assert_int_equal(tgt_rbd_parse_spec(buf, NULL, NULL, &b, &why), 0);
		assert_memory_equal(&a, &b, sizeof(a));
	}
	assert_int_equal(tgt_rbd_parse_spec("rbd:p/i", "/etc/c", "me", &a, &why), 0);
	assert_int_equal(tgt_rbd_format_spec(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "rbd:p/i:conf=/etc/c:id=me");
	assert_int_equal(tgt_rbd_format_spec(&a, buf, 10), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_namespace_and_options),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
