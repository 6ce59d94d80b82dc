/* cmocka tests of the target's config loader (src/target/config.c, nvmetcli's JSON format) and of
 * tgt_parse_size: good configs land in the registries as written, bad ones are refused with the
 * error the loader documents, and a refused entry leaves nothing of itself behind. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nvme/identify.h"
#include "target/control.h"
#include "util/log.h"

#define SUB_A "nqn.2026-11.io.tightrope:unit-a"
#define SUB_B "nqn.2026-11.io.tightrope:unit-b"
#define HOST_1 "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define HOST_2 "nqn.2026-11.io.tightrope:host-2"
#define UUID_1 "5b0b0d5e-1c84-4b2e-9d3f-2a6b7c8d9e0f"
#define TARGET_ID "0f0e0d0c-0b0a-4908-8706-050403020100"

/* Load JSON text through a file, as the target does. */
static int load(const char *json)
{
	char path[] = "/tmp/tightrope-unit-config.XXXXXX";
	int fd = mkstemp(path), err;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	err = tgt_config_load(path);
	unlink(path);
	return err;
}

static int target_up(void **state)
{
	(void)state;
	tr_log_set_level(TR_LOG_ERR);
	return tgt_init(1);
}

static int target_down(void **state)
{
	(void)state;
	tgt_shutdown();
	return 0;
}

static struct tgt_subsys *subsys(const char *nqn)
{
	return tgt_subsys_find(tgt, nqn);
}

static bool listed(const struct tgt_host_entry *list, const char *nqn)
{
	for (; list; list = list->next) {
		if (!strcmp(list->nqn, nqn))
			return true;
	}
	return false;
}

static int nr_namespaces(const struct tgt_subsys *s)
{
	int n = 0;

	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++)
		n += s->ns[i] != NULL;
	return n;
}

static int nr_listeners(void)
{
	int n = 0;

	for (struct tgt_listener *l = tgt->listeners; l; l = l->next)
		n++;
	return n;
}

/* What `nvmetcli save` writes, plus tightrope's extensions (target_id, mem:, readonly, denied_hosts). */
static const char good_config[] =
	"{\"target_id\": \"" TARGET_ID "\","
	" \"hosts\": [{\"nqn\": \"" HOST_1 "\"}],"
	" \"ports\": ["
	"  {\"addr\": {\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"treq\": \"not specified\","
	"             \"trsvcid\": \"0\", \"trtype\": \"tcp\"},"
	"   \"portid\": 3, \"referrals\": [], \"subsystems\": [\"" SUB_A "\", \"" SUB_B "\"]},"
	"  {\"addr\": {\"traddr\": \"127.0.0.1\", \"trsvcid\": \"0\", \"trtype\": \"tcp\"}, \"portid\": 0},"
	"  {\"addr\": {\"traddr\": \"10.0.0.1\", \"trsvcid\": \"4420\", \"trtype\": \"rdma\"}, \"portid\": 7}],"
	" \"subsystems\": ["
	"  {\"allowed_hosts\": [], \"attr\": {\"allow_any_host\": \"1\", \"serial\": \"SERIAL-A\","
	"                                   \"model\": \"Model A\", \"version\": \"1.3\"},"
	"   \"denied_hosts\": [\"" HOST_2 "\"],"
	"   \"namespaces\": ["
	"    {\"device\": {\"nguid\": \"\", \"path\": \"mem:1M\", \"uuid\": \"" UUID_1 "\"}, \"enable\": 1, \"nsid\": 1},"
	"    {\"device\": {\"path\": \"mem:2M\", \"lba_size\": 4096}, \"enable\": 1, \"nsid\": 7, \"readonly\": true},"
	"    {\"device\": {\"path\": \"mem:1M\"}, \"enable\": 0, \"nsid\": 9}],"
	"   \"nqn\": \"" SUB_A "\"},"
	"  {\"allowed_hosts\": [\"" HOST_1 "\"], \"attr\": {\"allow_any_host\": \"0\"},"
	"   \"namespaces\": [{\"device\": {\"path\": \"mem:1M\"}, \"enable\": 1, \"nsid\": 1024}],"
	"   \"nqn\": \"" SUB_B "\"}]}";

static void check_good_config(void)
{
	struct tgt_subsys *a = subsys(SUB_A), *b = subsys(SUB_B);
	uint8_t id[16];
	char text[40];

	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a->serial, "SERIAL-A");
	assert_string_equal(a->model, "Model A");
	assert_true(a->allow_any_host);
	assert_null(a->hosts);
	assert_true(listed(a->denied_hosts, HOST_2));
	assert_int_equal(nr_namespaces(a), 2); /* nsid 9 is disabled */
	assert_non_null(a->ns[1]);
	assert_int_equal(a->ns[1]->size, 1 << 20);
	nvme_uuid_format(a->ns[1]->uuid, text);
	assert_string_equal(text, UUID_1);
	assert_false(a->ns[1]->readonly);
	assert_non_null(a->ns[7]);
	assert_true(a->ns[7]->readonly);
	assert_int_equal(a->ns[7]->lba_shift, 12);
	assert_false(b->allow_any_host);
	assert_true(listed(b->hosts, HOST_1));
	assert_non_null(b->ns[TGT_MAX_NSID]);
	assert_int_equal(strlen(b->serial), 20); /* none configured: derived, 10 bytes in hex */
	/* Port 3 exports both, port 0 only serves discovery; the rdma port is skipped. */
	assert_true(tgt_subsys_on_port(a, 3) && tgt_subsys_on_port(b, 3));
	assert_false(tgt_subsys_on_port(a, 0) || tgt_subsys_on_port(b, 0));
	assert_int_equal(nr_listeners(), 2);
	assert_int_equal(tgt->listeners->portid, 3);
	assert_false(tgt->listeners->discovery_only);
	assert_true(tgt->listeners->next->discovery_only);
	assert_int_equal(nvme_uuid_parse(TARGET_ID, id), 0);
	assert_memory_equal(tgt->target_id, id, sizeof(id));
}

static void test_good_config(void **state)
{
	(void)state;
	assert_int_equal(load(good_config), 0);
	check_good_config();
}

/* `ctl save` writes what a restart reads back into the same registries. */
static void test_save_and_reload(void **state)
{
	char path[] = "/tmp/tightrope-unit-saved.XXXXXX";
	uint8_t uuid7[16], nguid7[16];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(load(good_config), 0);
	memcpy(uuid7, subsys(SUB_A)->ns[7]->uuid, 16);
	memcpy(nguid7, subsys(SUB_A)->ns[7]->nguid, 16);
	assert_int_equal(tgt_config_save(path), 0);
	tgt_shutdown();
	assert_int_equal(tgt_init(1), 0);
	assert_int_equal(tgt_config_load(path), 0);
	unlink(path);
	check_good_config();
	/* Identifiers that were derived, not configured, are written out and so kept. */
	assert_memory_equal(subsys(SUB_A)->ns[7]->uuid, uuid7, 16);
	assert_memory_equal(subsys(SUB_A)->ns[7]->nguid, nguid7, 16);
}

/* Without "attr", a subsystem that lists hosts admits only those; one that lists none admits all. */
static void test_allow_any_host_default(void **state)
{
	(void)state;
	assert_int_equal(load("{\"subsystems\": [{\"nqn\": \"" SUB_A "\", \"allowed_hosts\": [\"" HOST_1 "\"]},"
			      " {\"nqn\": \"" SUB_B "\"}]}"),
			 0);
	assert_false(subsys(SUB_A)->allow_any_host);
	assert_true(listed(subsys(SUB_A)->hosts, HOST_1));
	assert_true(subsys(SUB_B)->allow_any_host);
	/* Exported only through ports that list it: here none. */
	assert_int_equal(subsys(SUB_A)->port_mask, 0);
}

static void test_empty_config(void **state)
{
	(void)state;
	assert_int_equal(load("{}"), 0);
	assert_null(tgt->subsystems);
	assert_null(tgt->listeners);
}

struct bad_config {
	const char *what;
	const char *json;
	int err;
};

#define NS(body) "{\"subsystems\": [{\"nqn\": \"" SUB_A "\", \"namespaces\": [" body "]}]}"
#define MEM_NS(extra) NS("{\"nsid\": 1, \"device\": {\"path\": \"mem:1M\"" extra "}}")
#define SUB(body) "{\"subsystems\": [{\"nqn\": \"" SUB_A "\", " body "}]}"
#define PORT(body) "{\"subsystems\": [{\"nqn\": \"" SUB_A "\"}], \"ports\": [" body "]}"
#define TCP "\"addr\": {\"trtype\": \"tcp\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"0\"}"

static const struct bad_config bad_configs[] = {
	{ "not JSON", "{\"subsystems\": [", -EINVAL },
	{ "an array at the top", "[]", -EINVAL },
	{ "target_id not a UUID", "{\"target_id\": \"box-1\"}", -EINVAL },
	{ "target_id a number", "{\"target_id\": 7}", -EINVAL },
	{ "subsystems an object", "{\"subsystems\": {}}", -EINVAL },
	{ "a subsystem a string", "{\"subsystems\": [\"" SUB_A "\"]}", -EINVAL },
	{ "a subsystem without nqn", "{\"subsystems\": [{}]}", -EINVAL },
	{ "nqn a number", "{\"subsystems\": [{\"nqn\": 5}]}", -EINVAL },
	{ "a bad NQN", "{\"subsystems\": [{\"nqn\": \"box1\"}]}", -EINVAL },
	{ "an NQN too long", "{\"subsystems\": [{\"nqn\": \"nqn.2026-11.io.t:"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}", -EINVAL },
	{ "the discovery NQN", "{\"subsystems\": [{\"nqn\": \"" NVME_DISC_SUBSYS_NQN "\"}]}", -EINVAL },
	{ "a subsystem twice", "{\"subsystems\": [{\"nqn\": \"" SUB_A "\"}, {\"nqn\": \"" SUB_A "\"}]}", -EEXIST },
	{ "attr a string", SUB("\"attr\": \"x\""), -EINVAL },
	{ "serial a number", SUB("\"attr\": {\"serial\": 12}"), -EINVAL },
	{ "allowed_hosts a string", SUB("\"allowed_hosts\": \"" HOST_1 "\""), -EINVAL },
	{ "a null allowed host", SUB("\"allowed_hosts\": [null]"), -EINVAL },
	{ "a numeric allowed host", SUB("\"allowed_hosts\": [42]"), -EINVAL },
	{ "a bad allowed host NQN", SUB("\"allowed_hosts\": [\"host1\"]"), -EINVAL },
	{ "a null denied host", SUB("\"denied_hosts\": [null]"), -EINVAL },
	{ "a bad denied host NQN", SUB("\"denied_hosts\": [\"host1\"]"), -EINVAL },
	{ "namespaces an object", SUB("\"namespaces\": {}"), -EINVAL },
	{ "a namespace a number", NS("1"), -EINVAL },
	{ "a namespace without nsid", NS("{\"device\": {\"path\": \"mem:1M\"}}"), -EINVAL },
	{ "a namespace without device", NS("{\"nsid\": 1}"), -EINVAL },
	{ "a device without path", NS("{\"nsid\": 1, \"device\": {}}"), -EINVAL },
	{ "device a string", NS("{\"nsid\": 1, \"device\": \"mem:1M\"}"), -EINVAL },
	{ "path a number", NS("{\"nsid\": 1, \"device\": {\"path\": 1}}"), -EINVAL },
	{ "nsid a string", NS("{\"nsid\": \"1\", \"device\": {\"path\": \"mem:1M\"}}"), -EINVAL },
	{ "nsid 0", NS("{\"nsid\": 0, \"device\": {\"path\": \"mem:1M\"}}"), -ERANGE },
	{ "nsid -1", NS("{\"nsid\": -1, \"device\": {\"path\": \"mem:1M\"}}"), -ERANGE },
	{ "nsid past the limit", NS("{\"nsid\": 1025, \"device\": {\"path\": \"mem:1M\"}}"), -ERANGE },
	{ "nsid beyond 32 bits", NS("{\"nsid\": 4294967297, \"device\": {\"path\": \"mem:1M\"}}"), -ERANGE },
	{ "an nsid twice", NS("{\"nsid\": 1, \"device\": {\"path\": \"mem:1M\"}},"
			      "{\"nsid\": 1, \"device\": {\"path\": \"mem:1M\"}}"), -EEXIST },
	{ "a bad uuid", MEM_NS(", \"uuid\": \"zz\""), -EINVAL },
	{ "a bad nguid", MEM_NS(", \"nguid\": \"0123\""), -EINVAL },
	{ "uuid a number", MEM_NS(", \"uuid\": 5"), -EINVAL },
	{ "lba_size unsupported", MEM_NS(", \"lba_size\": 1000"), -EINVAL },
	{ "lba_size negative", MEM_NS(", \"lba_size\": -512"), -EINVAL },
	{ "lba_size a string", MEM_NS(", \"lba_size\": \"4096\""), -EINVAL },
	{ "a bad RAM size", NS("{\"nsid\": 1, \"device\": {\"path\": \"mem:12XB\"}}"), -EINVAL },
	{ "a negative RAM size", NS("{\"nsid\": 1, \"device\": {\"path\": \"mem:-1\"}}"), -EINVAL },
	{ "a RAM size below a page", NS("{\"nsid\": 1, \"device\": {\"path\": \"mem:100\"}}"), -EINVAL },
	{ "a missing backing file", NS("{\"nsid\": 1, \"device\": {\"path\": \"/nonexistent/disk.img\"}}"), -ENOENT },
	{ "ports an object", "{\"ports\": {}}", -EINVAL },
	{ "a port a number", "{\"ports\": [1]}", -EINVAL },
	{ "a tcp port without portid", PORT("{" TCP "}"), -EINVAL },
	{ "portid a string", PORT("{\"portid\": \"1\", " TCP "}"), -EINVAL },
	{ "portid 32", PORT("{\"portid\": 32, " TCP "}"), -ERANGE },
	{ "portid -1", PORT("{\"portid\": -1, " TCP "}"), -ERANGE },
	{ "addr a string", PORT("{\"portid\": 1, \"addr\": \"tcp\"}"), -EINVAL },
	{ "trsvcid a number", PORT("{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", \"trsvcid\": 4420}}"), -EINVAL },
	{ "a bad traddr", PORT("{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", \"traddr\": \"nowhere\"}}"), -EINVAL },
	{ "a port's subsystems a string", PORT("{\"portid\": 1, " TCP ", \"subsystems\": \"" SUB_A "\"}"), -EINVAL },
	{ "a null subsystem on a port", PORT("{\"portid\": 1, " TCP ", \"subsystems\": [null]}"), -EINVAL },
	{ "an unknown subsystem on a port", PORT("{\"portid\": 1, " TCP ", \"subsystems\": [\"" SUB_B "\"]}"),
	  -ENOENT },
};

static void test_bad_configs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
		const struct bad_config *c = &bad_configs[i];
		int err;

		assert_int_equal(tgt_init(1), 0);
		err = load(c->json);
		tgt_shutdown();
		if (err != c->err)
			fail_msg("%s: got %d (%s), expected %d (%s)", c->what, err, strerror(-err), c->err,
				 strerror(-c->err));
	}
}

/* A namespace that cannot be opened is not half added: no slot taken, no reference left. */
static void test_refused_namespace_leaves_nothing(void **state)
{
	struct tgt_subsys *s;

	(void)state;
	assert_int_equal(load(NS("{\"nsid\": 1, \"device\": {\"path\": \"mem:1M\"}},"
				 "{\"nsid\": 2, \"device\": {\"path\": \"mem:12XB\"}}")),
			 -EINVAL);
	s = subsys(SUB_A);
	assert_non_null(s);
	assert_non_null(s->ns[1]);
	assert_null(s->ns[2]);
	assert_int_equal(nr_namespaces(s), 1);
}

/* A port naming an unknown subsystem listens nowhere. */
static void test_refused_port_leaves_nothing(void **state)
{
	(void)state;
	assert_int_equal(load(PORT("{\"portid\": 1, " TCP ", \"subsystems\": [\"" SUB_A "\", \"" SUB_B "\"]}")),
			 -ENOENT);
	assert_int_equal(nr_listeners(), 0);
}

/* A port of another transport is skipped, whatever else it says. */
static void test_other_transport_skipped(void **state)
{
	(void)state;
	assert_int_equal(load(PORT("{\"portid\": 99, \"addr\": {\"trtype\": \"rdma\"}, \"subsystems\": [\"x\"]}")), 0);
	assert_int_equal(nr_listeners(), 0);
}

static void test_parse_size_good(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "1k", 1024 },
		{ "1K", 1024 },
		{ "2KiB", 2048 },
		{ "3KB", 3072 },
		{ "512M", 512ull << 20 },
		{ "1G", 1ull << 30 },
		{ "16Gi", 16ull << 30 },
		{ "2T", 2ull << 40 },
		{ "7B", 7 },
		{ "16777215T", 16777215ull << 40 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 12345;

		if (tgt_parse_size(good[i].text, &v) || v != good[i].bytes)
			fail_msg("\"%s\": got %llu", good[i].text, (unsigned long long)v);
	}
}

static void test_parse_size_bad(void **state)
{
	static const char *const bad[] = {
		"", "G", "-1", "+1", " 1", "1 ", "12XB", "1Q", "1GG", "1KiBB", "0x10", "1.5G",
		"16777216T", "18446744073709551616", "99999999999999999999999",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 12345;
		int err = tgt_parse_size(bad[i], &v);

		if (err != -EINVAL || v != 12345)
			fail_msg("\"%s\": got %d, value %llu", bad[i], err, (unsigned long long)v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_config, target_up, target_down),
		cmocka_unit_test_setup_teardown(test_save_and_reload, target_up, target_down),
		cmocka_unit_test_setup_teardown(test_allow_any_host_default, target_up, target_down),
		cmocka_unit_test_setup_teardown(test_empty_config, target_up, target_down),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test_setup_teardown(test_refused_namespace_leaves_nothing, target_up, target_down),
		cmocka_unit_test_setup_teardown(test_refused_port_leaves_nothing, target_up, target_down),
		cmocka_unit_test_setup_teardown(test_other_transport_skipped, target_up, target_down),
		cmocka_unit_test(test_parse_size_good),
		cmocka_unit_test(test_parse_size_bad),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
